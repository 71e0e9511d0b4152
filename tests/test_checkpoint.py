"""Checkpoints: RNG states restored wherever ``torch.load`` put them; leftovers of killed writes removed;
only data loaded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from respirelib.errors import DataError
from respirelib.model.checkpoint import load_checkpoint, restore_rng_state, rng_state
from respirelib.storage import atomic_write_text, remove_stale_temporaries, temporary_prefix


def _draws(*generators: torch.Generator) -> list[torch.Tensor]:
    return [torch.rand(5)] + [torch.rand(5, generator=g, device=g.device) for g in generators]


def _as_if_moved(state):
    """What set_state refuses, as a map_location onto a GPU delivers it: not a contiguous CPU ByteTensor.

    Here (no GPU needed) each state becomes a non-contiguous int64 view holding the same values.
    """
    if isinstance(state, torch.Tensor):
        wide = state.to(torch.int64)
        return torch.stack([wide, wide], dim=1)[:, 0]
    if isinstance(state, dict):
        return {key: _as_if_moved(value) for key, value in state.items()}
    if isinstance(state, list):
        return [_as_if_moved(value) for value in state]
    return state


def test_generators_continue_exactly_after_a_map_location_that_moves_the_states(tmp_path):
    generators = (torch.Generator().manual_seed(3), torch.Generator().manual_seed(4))
    torch.manual_seed(5)
    path = tmp_path / "last.pt"
    torch.save({"rng": rng_state(*generators)}, path)
    expected = _draws(*generators)
    _draws(*generators)  # move every stream on
    locations = []
    loaded = load_checkpoint(path, map_location=lambda storage, location: locations.append(location) or storage)
    assert locations  # the map_location saw the RNG tensors
    moved = _as_if_moved(loaded["rng"])
    with pytest.raises((RuntimeError, TypeError)):  # what a resume did with such states before restore_rng_state moved them
        torch.set_rng_state(moved["torch"])
    restore_rng_state(moved, *generators)
    for before, after in zip(expected, _draws(*generators)):
        assert torch.equal(before, after)


def test_a_generator_on_another_kind_of_device_is_refused_clearly():
    state = rng_state(torch.Generator())
    state["generator_devices"] = ["cuda"]
    with pytest.raises(ValueError, match="saved on cuda and cannot continue on cpu"):
        restore_rng_state(state, torch.Generator())


def test_leftovers_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    dead_pid = int(child.stdout)
    dead = tmp_path / temporary_prefix("last.pt").replace(f".{os.getpid()}.", f".{dead_pid}.")
    dead = dead.with_name(dead.name + "abc.tmp")
    dead.write_bytes(b"half a checkpoint")
    live = tmp_path / (temporary_prefix("last.pt") + "def.tmp")
    live.write_bytes(b"being written")
    other = tmp_path / f".other.pt.{socket.gethostname()}.{dead_pid}.x.tmp"
    other.write_bytes(b"another file's")
    atomic_write_text(tmp_path / "last.pt", "complete")  # the next write of the same name cleans up
    assert not dead.exists() and live.exists() and other.exists()
    assert (tmp_path / "last.pt").read_text() == "complete"
    assert remove_stale_temporaries(tmp_path, "last.pt") == []


@pytest.mark.cuda
def test_cuda_generators_restore_from_a_checkpoint_loaded_onto_the_gpu(tmp_path):
    generators = (torch.Generator().manual_seed(3), torch.Generator(device="cuda").manual_seed(4))
    torch.manual_seed(5)
    torch.cuda.manual_seed_all(6)
    path = tmp_path / "last.pt"
    torch.save({"rng": rng_state(*generators)}, path)
    expected = _draws(*generators) + [torch.rand(5, device="cuda")]
    _draws(*generators)
    torch.rand(5, device="cuda")
    loaded = load_checkpoint(path, map_location="cuda")
    assert loaded["rng"]["torch"].device.type == "cuda"  # what made every resume on a GPU fail
    restore_rng_state(loaded["rng"], *generators)
    for before, after in zip(expected, _draws(*generators) + [torch.rand(5, device="cuda")]):
        assert torch.equal(before, after)


def _touch(marker: str) -> None:
    Path(marker).touch()


class _RunsCodeWhenLoaded:
    """What a shared run's pickle could hold: unpickling it calls ``_touch(marker)``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return _touch, (str(self.marker),)


@dataclass
class _Config:
    epochs: int = 2


@pytest.mark.parametrize("make, named", [(lambda tmp: _RunsCodeWhenLoaded(tmp / "ran"), "_touch"),
                                         (lambda tmp: _Config(), "_Config")], ids=["code", "dataclass"])
def test_a_checkpoint_holding_pickled_objects_is_refused_not_run(tmp_path, make, named):
    path = tmp_path / "last.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "config": make(tmp_path)}, path)
    with pytest.raises(DataError, match=r"last\.pt: refused: the checkpoint holds a pickled Python object") as error:
        load_checkpoint(path)
    assert named in str(error.value) and "could run code" in str(error.value)
    assert not (tmp_path / "ran").exists()  # never executed
