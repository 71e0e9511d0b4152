"""Crash-safe writing: atomic files and folders, run directories claimed by exactly one of two processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from respirelib.storage import (KILL_AT_ENV, atomic_directory, atomic_torch_save, atomic_write_bytes, atomic_write_text,
                                claim_new_dir, discard_directory, new_run_dir, write_new_record)

REPO = Path(__file__).resolve().parent.parent


def _python(code: str, **env) -> subprocess.Popen:
    """A fresh interpreter running ``code`` with this checkout's respirelib."""
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------- files


def test_a_write_that_fails_half_way_leaves_the_old_file_intact(tmp_path, monkeypatch):
    import torch

    checkpoint = tmp_path / "last.pt"
    atomic_torch_save({"epoch": 1}, checkpoint)
    with pytest.raises(Exception):  # pickling fails after the tensor's bytes went out
        atomic_torch_save({"model": torch.zeros(10_000), "hook": lambda: None}, checkpoint)
    assert torch.load(checkpoint, weights_only=True) == {"epoch": 1}  # in place, it would be half a file

    history = tmp_path / "history.jsonl"
    atomic_write_text(history, "epoch 1\n")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # every byte written, the flush to disk fails
    with pytest.raises(OSError, match="No space"):
        atomic_write_text(history, "epoch 1\nepoch 2\n")
    assert history.read_text() == "epoch 1\n"
    assert _hidden(tmp_path) == []  # and the temporaries are gone


def test_a_record_is_written_once_and_never_overwritten(tmp_path):
    path = tmp_path / "results" / "record.json"
    write_new_record(path, {"seeds": [0, 1]})
    assert json.loads(path.read_text()) == {"seeds": [0, 1]} and path.read_text().endswith("\n")
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_new_record(path, {"seeds": [2]})
    assert json.loads(path.read_text()) == {"seeds": [0, 1]}


def test_a_write_killed_before_the_rename_leaves_the_old_file_and_the_next_write_cleans_up(tmp_path):
    path = tmp_path / "model.bin"
    atomic_write_bytes(path, b"old")
    child = _python(f"from respirelib.storage import atomic_write_bytes; atomic_write_bytes({str(path)!r}, b'new' * 1000)",
                    **{KILL_AT_ENV: str(path)})
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == b"old"
    left = _hidden(tmp_path)
    assert len(left) == 1 and left[0].startswith(".model.bin.") and left[0].endswith(".tmp")
    assert (tmp_path / left[0]).read_bytes() == b"new" * 1000  # complete, yet never renamed
    atomic_write_bytes(path, b"newer")
    assert path.read_bytes() == b"newer" and _hidden(tmp_path) == []


# ---------------------------------------------------------------- folders


def test_a_folder_appears_whole_or_not_at_all(tmp_path):
    out = tmp_path / "set"
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(out) as staging:
            (staging / "a.txt").write_text("a")
            raise KeyboardInterrupt
    assert not out.exists() and _hidden(tmp_path) == []
    with atomic_directory(out) as staging:
        (staging / "a.txt").write_text("a")
        assert not out.exists()
    assert [p.name for p in out.iterdir()] == ["a.txt"] and _hidden(tmp_path) == []


def test_a_folder_replaces_only_an_empty_one(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_directory(empty) as staging:
        (staging / "a.txt").write_text("a")
    assert (empty / "a.txt").read_text() == "a"
    with pytest.raises(FileExistsError, match="empty"):
        with atomic_directory(empty):
            pass
    assert [p.name for p in empty.iterdir()] == ["a.txt"]


def test_a_folder_filled_by_another_process_meanwhile_is_never_replaced(tmp_path):
    out = tmp_path / "cache"
    with pytest.raises(FileExistsError, match=str(out)):
        with atomic_directory(out, hint="someone else's") as staging:
            (staging / "mine").write_text("mine")
            out.mkdir()
            (out / "theirs").write_text("theirs")  # the other process renamed its folder first
    assert [p.name for p in out.iterdir()] == ["theirs"] and _hidden(tmp_path) == []


def test_a_discarded_folder_goes_at_once_and_a_missing_one_is_no_error(tmp_path):
    out = tmp_path / "damaged"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "f").write_text("x")
    discard_directory(out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    discard_directory(out)


# ---------------------------------------------------------------- run directories

_CLAIMANT = """
import os, sys, time
from pathlib import Path
from respirelib.storage import claim_new_dir
target, barrier = Path(sys.argv[1]), Path(sys.argv[2])
(barrier.parent / f"ready-{os.getpid()}").touch()
while not barrier.exists():
    time.sleep(0.001)
try:
    with claim_new_dir(target) as staging:
        (staging / "run.json").write_text(str(os.getpid()))
        time.sleep(0.3)  # both claimants are inside their claim before either renames
except FileExistsError as error:
    print(error)
    sys.exit(3)
"""


@pytest.mark.parametrize("existing", ["absent", "empty"])
def test_of_two_processes_claiming_one_new_run_directory_exactly_one_wins(tmp_path, existing):
    target, barrier = tmp_path / "runs" / "X", tmp_path / "go"
    if existing == "empty":
        target.mkdir(parents=True)  # made by the user for the run: accepted, but by one claimant only
    children = [subprocess.Popen([sys.executable, "-c", _CLAIMANT, str(target), str(barrier)],
                                 env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # both interpreters started and waiting at the barrier
    barrier.touch()
    outputs = [child.communicate(timeout=60)[0] for child in children]
    codes = [child.returncode for child in children]
    assert sorted(codes) == [0, 3], outputs
    winner, loser = (children[codes.index(0)], codes.index(3))
    assert (target / "run.json").read_text() == str(winner.pid)
    assert str(target) in outputs[loser] and "never overwritten" in outputs[loser]
    assert sorted(p.name for p in target.iterdir()) == ["run.json"] and _hidden(target.parent) == []


def test_a_run_directory_left_by_a_killed_run_is_never_claimed_again(tmp_path):
    target = tmp_path / "X"
    killed = _python("from respirelib.storage import claim_new_dir\n"
                     f"with claim_new_dir({str(target)!r}) as staging:\n"
                     "    (staging / 'run.json').write_text('{}')\n",
                     **{KILL_AT_ENV: str(target)})
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert not target.exists() and len(_hidden(tmp_path)) == 1  # killed before its claim: nothing claimed
    with claim_new_dir(target) as staging:
        (staging / "run.json").write_text("{}")
    assert _hidden(tmp_path) == []  # the killed claimant's staging folder was removed
    with pytest.raises(FileExistsError, match="never overwritten"):  # a started run is never new again
        with claim_new_dir(target):
            pass


def test_new_run_dirs_never_collide(tmp_path):
    made = {new_run_dir(tmp_path, "notebook04") for _ in range(3)}
    assert len(made) == 3 and all(path.is_dir() and not any(path.iterdir()) for path in made)
