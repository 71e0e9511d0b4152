"""Checkpoints that carry everything a resumed run needs to equal an uninterrupted one, as data only.

They are written atomically by :func:`respirelib.storage.atomic_torch_save`.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch


def rng_state(*generators: torch.Generator) -> dict:
    """Global torch RNG (CPU and CUDA) plus the given generators' states (and their device types)."""
    state = {"torch": torch.get_rng_state(), "generators": [g.get_state() for g in generators],
             "generator_devices": [g.device.type for g in generators]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _cpu_byte_state(saved: torch.Tensor) -> torch.Tensor:
    """An RNG state as ``set_state`` takes it: a contiguous CPU ByteTensor.

    Every generator's state, a CUDA generator's included, is such a tensor; a checkpoint
    loaded with ``map_location="cuda"`` has moved them onto the GPU, where ``set_state``
    refuses them.
    """
    return saved.detach().to(device="cpu", dtype=torch.uint8).contiguous()


def restore_rng_state(state: dict, *generators: torch.Generator) -> None:
    """Put back what :func:`rng_state` saved, wherever ``torch.load`` mapped its tensors.

    Raises
    ------
    ValueError
        A generator is on another kind of device than the one whose state was saved
        (e.g. a run trained on CUDA resumed on CPU): its random stream cannot continue.
    """
    torch.set_rng_state(_cpu_byte_state(state["torch"]))
    saved_devices = state.get("generator_devices") or [None] * len(state["generators"])
    for generator, saved, saved_device in zip(generators, state["generators"], saved_devices, strict=True):
        if saved_device is not None and saved_device != generator.device.type:
            raise ValueError(f"the checkpoint's random generator state was saved on {saved_device} and cannot "
                             f"continue on {generator.device.type}: resume the run on the device it was "
                             f"trained on (--device {saved_device})")
        generator.set_state(_cpu_byte_state(saved))
    if "cuda" in state and torch.cuda.is_available():
        # A machine with fewer GPUs than the one that saved the state restores the ones it has.
        cuda_states = [_cpu_byte_state(s) for s in state["cuda"]][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda_states)


def load_checkpoint(path: str | Path, *, map_location="cpu") -> dict:
    """Load a checkpoint written by this project, refusing any that holds more than data.

    Checkpoints hold tensors and plain values only (dicts, lists, str, numbers, None; the
    configurations as dicts), so they load with ``torch.load(weights_only=True)``: a run
    directory passed on by someone else cannot run code on this machine.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    DataError
        The file is not a readable checkpoint, or holds pickled Python objects (refused, not loaded).
    """
    from respirelib.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))  # the first object torch's safe unpickler refused
        what = f"a pickled Python object ({found.group(1)})" if found else "pickled Python objects"
        raise DataError(path, f"refused: the checkpoint holds {what}, not only tensors and plain values; "
                              "loading it could run code, so it was not loaded") from error
    except (RuntimeError, EOFError, OSError) as error:
        raise DataError(path, f"not a readable checkpoint ({error})") from error
