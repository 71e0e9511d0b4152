"""The cycle cache checks itself on load: a damaged or incomplete one is rebuilt, saying so, never read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from respirelib.data.icbhi import load_icbhi
from respirelib.signal.cache import build_cycle_cache
from tests.conftest import TINY_RECORDINGS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def built(tiny_icbhi, tmp_path):
    """(dataset, cache folder, a copy of its arrays) after a first build."""
    dataset = load_icbhi(tiny_icbhi)
    cache = build_cycle_cache(dataset, cache_dir=tmp_path / "cache", workers=1, progress=False)
    return dataset, cache.path, (np.array(cache.waves), cache.offsets.copy())


def _rebuilt(dataset, built_path: Path, original, capsys) -> str:
    """Load again; check the cache was rebuilt to the same arrays; return what was reported."""
    cache = build_cycle_cache(dataset, cache_dir=built_path.parent, workers=1, progress=False)
    report = capsys.readouterr().err
    assert cache.path == built_path and str(built_path) in report and "rebuilding" in report
    assert np.array_equal(cache.waves, original[0]) and np.array_equal(cache.offsets, original[1])
    assert [p.name for p in built_path.parent.iterdir()] == [built_path.name]  # nothing set aside is left
    assert build_cycle_cache(dataset, cache_dir=built_path.parent, workers=1, progress=False).path == built_path
    assert capsys.readouterr().err == ""  # the rebuilt cache passes its check
    return report


def test_an_intact_cache_loads_quietly_in_milliseconds(built, capsys):
    dataset, path, _ = built
    capsys.readouterr()
    started = time.perf_counter()
    cache = build_cycle_cache(dataset, cache_dir=path.parent, workers=1, progress=False)
    elapsed = time.perf_counter() - started
    assert cache.path == path and capsys.readouterr().err == ""
    assert elapsed < 0.5, f"an intact cache took {elapsed:.3f} s to check and load"


def test_a_truncated_array_file_is_rebuilt(built, capsys):
    dataset, path, original = built
    waves = path / "waves.npy"
    with waves.open("r+b") as handle:  # what a full disk or a killed copy leaves
        handle.truncate(waves.stat().st_size // 3)
    capsys.readouterr()
    report = _rebuilt(dataset, path, original, capsys)
    assert "waves.npy holds" in report and "truncated" in report


def test_bytes_changed_in_the_middle_are_found_by_the_content_check(built, capsys):
    dataset, path, original = built
    waves = path / "waves.npy"
    size = waves.stat().st_size
    with waves.open("r+b") as handle:  # same size, different content
        handle.seek(size // 2)
        handle.write(b"\x7f" * 64)
    assert waves.stat().st_size == size
    capsys.readouterr()
    report = _rebuilt(dataset, path, original, capsys)
    assert "content of waves.npy differs" in report


@pytest.mark.parametrize("damage", ["record missing", "offsets missing", "record without sizes"])
def test_a_cache_missing_a_file_or_its_sizes_is_rebuilt(built, capsys, damage):
    dataset, path, original = built
    if damage == "record missing":
        (path / "info.json").unlink()
    elif damage == "offsets missing":
        (path / "offsets.npy").unlink()
    else:  # as written before caches checked themselves
        record = json.loads((path / "info.json").read_text())
        del record["files"]
        (path / "info.json").write_text(json.dumps(record))
    capsys.readouterr()
    report = _rebuilt(dataset, path, original, capsys)
    assert {"record missing": "info.json is missing", "offsets missing": "offsets.npy is missing",
            "record without sizes": "lists no file sizes"}[damage] in report


_LOADER = """
import os, sys, time
from pathlib import Path
from respirelib.data.icbhi import load_icbhi
from respirelib.signal.cache import build_cycle_cache
from tests.conftest import TINY_RECORDINGS
data, cache_dir, barrier = sys.argv[1:]
dataset = load_icbhi(data)
(Path(barrier).parent / f"ready-{os.getpid()}").touch()
while not Path(barrier).exists():
    time.sleep(0.001)
cache = build_cycle_cache(dataset, cache_dir=cache_dir, workers=1, progress=False)
print(float(cache.waves.sum()), len(cache))
"""


def test_two_processes_meeting_one_damaged_cache_both_end_with_a_sound_one(built, tmp_path):
    dataset, path, original = built
    with (path / "waves.npy").open("r+b") as handle:
        handle.truncate(100)
    barrier = tmp_path / "go"
    children = [subprocess.Popen([sys.executable, "-c", _LOADER, str(dataset.root), str(path.parent), str(barrier)],
                                 env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    barrier.touch()
    results = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err for _, err in results]
    expected = f"{float(original[0].sum())} {len(original[1]) - 1}"
    assert [out.strip() for out, _ in results] == [expected, expected]
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    cache = build_cycle_cache(dataset, cache_dir=path.parent, workers=1, progress=False)
    assert np.array_equal(cache.waves, original[0])


def test_a_recording_with_nan_samples_stops_the_build_naming_it(tiny_icbhi, tmp_path):
    from respirelib.errors import AudioError

    name = next(iter(TINY_RECORDINGS))
    y, sr = sf.read(tiny_icbhi / f"{name}.wav", dtype="float32")
    y[100] = np.nan
    sf.write(tiny_icbhi / f"{name}.wav", y, sr, subtype="FLOAT")
    with pytest.raises(AudioError, match=f"{name}.wav: 1 of {len(y)} samples are not finite"):
        build_cycle_cache(load_icbhi(tiny_icbhi), cache_dir=tmp_path / "cache", workers=1, progress=False)
    assert not list((tmp_path / "cache").glob("cycles-*"))


def test_a_cache_another_process_discards_mid_load_is_built_again(built, capsys, monkeypatch):
    """The two-process race, made deterministic: the first check meets a file that vanishes as it reads it (another
    process set the folder aside), and the cache built next is discarded by that process before this one loads it."""
    import respirelib.signal.cache as cache_module
    from respirelib.storage import discard_directory

    dataset, path, original = built
    file_record, build = cache_module._file_record, cache_module._build
    vanish = {"reads": 1, "builds": 1}

    def vanishing_file_record(file_path):
        if vanish["reads"]:
            vanish["reads"] -= 1
            raise FileNotFoundError(2, "No such file or directory", str(file_path))
        return file_record(file_path)

    def build_then_discarded(*args, **kwargs):
        build(*args, **kwargs)
        if vanish["builds"]:
            vanish["builds"] -= 1
            discard_directory(path)

    monkeypatch.setattr(cache_module, "_file_record", vanishing_file_record)
    monkeypatch.setattr(cache_module, "_build", build_then_discarded)
    capsys.readouterr()
    cache = build_cycle_cache(dataset, cache_dir=path.parent, workers=1, progress=False)
    assert "cannot be read" in capsys.readouterr().err and vanish == {"reads": 0, "builds": 0}
    assert np.array_equal(cache.waves, original[0]) and np.array_equal(cache.offsets, original[1])
    assert [p.name for p in path.parent.iterdir()] == [path.name]
