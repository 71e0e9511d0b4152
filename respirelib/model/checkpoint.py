"""Atomic checkpoints that carry everything a resumed run needs to equal an uninterrupted one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import torch

from respirelib.faults import kill_point
from respirelib.leftovers import remove_stale_temporaries, temporary_prefix


@contextlib.contextmanager
def _atomic_file(path: Path, mode: str):
    """Yield a stream on a temporary file beside ``path``; rename it over ``path`` only when complete.

    A crash mid-write leaves the previous file intact, never a half-written one; the
    temporary file a killed writer left is removed by the next write of the same name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)
    handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)  # mkstemp makes owner-only files; give the usual umask-based mode
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        kill_point(path)  # crash tests only (respirelib.faults); a no-op otherwise
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj, path: str | Path) -> Path:
    """Write ``obj`` with ``torch.save`` atomically (temporary file, then rename)."""
    path = Path(path)
    with _atomic_file(path, "wb") as stream:
        torch.save(obj, stream)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically (temporary file, then rename)."""
    path = Path(path)
    with _atomic_file(path, "w") as stream:
        stream.write(text)
    return path


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
    """Load a checkpoint written by this project (``weights_only=False``: it holds RNG states and configs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, OSError) as error:
        from respirelib.errors import DataError

        raise DataError(path, f"not a readable checkpoint ({error})") from error
