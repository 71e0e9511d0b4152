"""Pre-process every recording once into a cache of 4 kHz cycles.

The cache holds every annotated cycle after the paper's pre-processing (resample to
4 kHz, band-pass, normalise), concatenated in one float32 array with offsets. It is
keyed by a hash of the input files' contents and of the pre-processing settings, so
changing either builds a new cache; an existing one loads in a memory map in
milliseconds. It lives under ``$RESPIRENET_CACHE`` or ``<repo>/cache``, never inside
the data folder, and is written into a temporary folder that is renamed when complete
(:func:`respirelib.storage.atomic_directory`): a build killed half-way is never read as a
cache (the next build removes its leftovers), and two processes building the same cache
at once each write their own temporary folder, the first rename wins and the other
process reads the winner's.

The cache checks itself on every load: its record (``info.json``) holds each file's size
and a digest of fixed slices of it, compared in milliseconds. A damaged or incomplete
cache (a full disk, a killed copy, a flipped block) is set aside and rebuilt, with a line
on stderr naming the folder and what was wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from respirelib.progressbar import progress_bar

from respirelib.data.audio import read_audio
from respirelib.config import AudioConfig
from respirelib.errors import DataError
from respirelib.data.icbhi import ICBHIDataset
from respirelib.signal.preprocess import extract_cycles, preprocess_recording
from respirelib.runs import REPO_ROOT
from respirelib.storage import atomic_directory, discard_directory, kill_point, remove_stale_temporaries

CACHE_VERSION = 1
PREPROCESSING_FIELDS = ("sample_rate", "low_hz", "high_hz", "filter_order", "resample_type", "normalize")
CACHE_FILES = ("waves.npy", "offsets.npy")
RECORD_FILE = "info.json"
BUILD_ATTEMPTS = 3  # builds of one cache by one process while others discard or publish it (see build_cycle_cache)
# The content check hashes this many fixed slices of a file (all of a smaller file): a few
# hundred kilobytes read however large the cache, so a load stays in milliseconds.
_CHECKED_SLICES, _SLICE_BYTES = 65, 1 << 12


def default_cache_dir() -> Path:
    return Path(os.environ.get("RESPIRENET_CACHE", REPO_ROOT / "cache"))


def cache_key(dataset: ICBHIDataset, config: AudioConfig) -> str:
    """Hash of the data's content, its cycle boundaries and the pre-processing settings."""
    settings = {name: asdict(config)[name] for name in PREPROCESSING_FIELDS}
    boundaries = dataset.cycles[["recording", "cycle_index", "start", "end"]].to_csv(index=False)
    digest = hashlib.blake2b(digest_size=12)
    for part in (f"v{CACHE_VERSION}", dataset.fingerprint, json.dumps(settings, sort_keys=True), boundaries):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


@dataclass
class CycleCache:
    """Pre-processed cycles aligned with a cycles table.

    Attributes
    ----------
    waves : np.ndarray [shape=(total_samples,), dtype=float32]
        All cycles back to back (a read-only memory map when loaded from disk).
    offsets : np.ndarray [shape=(n_cycles + 1,), dtype=int64]
        Cycle ``i`` is ``waves[offsets[i]:offsets[i + 1]]``.
    cycles : pd.DataFrame
        The dataset's cycles table, row ``i`` describing cycle ``i``.
    sr : int
    path : Path
    """

    waves: np.ndarray
    offsets: np.ndarray
    cycles: pd.DataFrame
    sr: int
    path: Path

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def cycle(self, index: int) -> np.ndarray:
        """One pre-processed cycle [shape=(n,), dtype=float32]."""
        return self.waves[self.offsets[index]:self.offsets[index + 1]]


def _process_recording(task: tuple[str, np.ndarray, np.ndarray, AudioConfig]) -> list[np.ndarray]:
    audio_path, starts, ends, config = task
    y, sr = read_audio(audio_path)
    processed = preprocess_recording(y, sr=sr, config=config)
    cycles = extract_cycles(processed, sr=config.sample_rate, starts=starts, ends=ends)
    for cycle, start, end in zip(cycles, starts, ends):
        if len(cycle) == 0:
            raise DataError(audio_path, f"cycle {start:.3f}-{end:.3f} s holds no samples after resampling")
    return cycles


def build_cycle_cache(dataset: ICBHIDataset, *, config: AudioConfig = AudioConfig(),
                      cache_dir: str | Path | None = None, workers: int | None = None,
                      progress: bool = True) -> CycleCache:
    """Load the cycle cache for ``dataset``, building it first if needed.

    Parameters
    ----------
    dataset : ICBHIDataset
        Loaded with audio.
    config : AudioConfig
        Only the pre-processing fields (:data:`PREPROCESSING_FIELDS`) matter here.
    cache_dir : str or Path or None
        Default :func:`default_cache_dir`.
    workers : int or None
        Processes used to build it (default: all cores).
    progress : bool
        Show a progress bar while building.
    """
    if not dataset.has_audio:
        raise DataError(dataset.root, "the cycle cache needs audio, and this folder holds annotation files only")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    data_root = dataset.root.resolve()
    if cache_dir.resolve().is_relative_to(data_root):
        raise ValueError(f"cache directory {cache_dir} lies inside the data folder {data_root}; "
                         "the data folder is never written to")
    key = cache_key(dataset, config)
    path = cache_dir / f"cycles-{key}"
    if cache_dir.is_dir():  # what builds of this cache killed half-way left behind
        remove_stale_temporaries(cache_dir, path.name)
    # Another process may discard or publish the same cache at any moment (each one that meets a damaged
    # cache replaces it): a cache that vanishes or fails its check between two steps is built again.
    for _ in range(BUILD_ATTEMPTS):
        if path.exists():
            cache, problem = _load(path, dataset, config)
            if cache is not None:
                return cache
            print(f"cycle cache {path} is damaged or incomplete ({problem}): rebuilding it", file=sys.stderr,
                  flush=True)
            discard_directory(path)
        _build(dataset, config, path, workers=workers, progress=progress)
    cache, problem = _load(path, dataset, config)
    if cache is None:
        raise DataError(path, f"the cycle cache just built fails its own check ({problem})")
    return cache


def _file_record(path: Path) -> dict:
    """Size of a file and a BLAKE2b digest of fixed slices of it (the whole of a small file)."""
    size = path.stat().st_size
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        if size <= _CHECKED_SLICES * _SLICE_BYTES:
            digest.update(handle.read())
        else:  # evenly spaced, the first and last bytes included
            for i in range(_CHECKED_SLICES):
                handle.seek(i * (size - _SLICE_BYTES) // (_CHECKED_SLICES - 1))
                digest.update(handle.read(_SLICE_BYTES))
    return {"bytes": size, "digest": digest.hexdigest()}


def _problem(path: Path, n_cycles: int) -> str | None:
    """What is wrong with the cache folder ``path`` against its own record, or None."""
    try:
        info = json.loads((path / RECORD_FILE).read_text())
    except FileNotFoundError:
        return f"its record {RECORD_FILE} is missing"
    except (OSError, ValueError) as error:
        return f"its record {RECORD_FILE} is unreadable ({error})"
    if not isinstance(info, dict) or not isinstance(info.get("files"), dict):
        return f"its record {RECORD_FILE} lists no file sizes (written before caches checked themselves)"
    if info.get("n_cycles") != n_cycles:
        return f"it holds {info.get('n_cycles')} cycles, the dataset {n_cycles}"
    for name in CACHE_FILES:
        expected = info["files"].get(name)
        if not (path / name).is_file():
            return f"{name} is missing"
        if not isinstance(expected, dict):
            return f"its record says nothing of {name}"
        try:
            found = _file_record(path / name)
        except OSError as error:  # e.g. another process discarded the folder while this one read it
            return f"{name} cannot be read ({error})"
        if found["bytes"] != expected.get("bytes"):
            return f"{name} holds {found['bytes']} bytes, its record {expected.get('bytes')} (truncated or incomplete)"
        if found["digest"] != expected.get("digest"):
            return f"the content of {name} differs from its record (corrupt)"
    return None


def _load(path: Path, dataset: ICBHIDataset, config: AudioConfig) -> tuple[CycleCache | None, str | None]:
    """(the cache in ``path``, None) if it passes its checks, else (None, what is wrong)."""
    problem = _problem(path, len(dataset.cycles))
    if problem is not None:
        return None, problem
    try:
        offsets = np.load(path / "offsets.npy")
        waves = np.load(path / "waves.npy", mmap_mode="r")
    except (OSError, ValueError) as error:
        return None, f"its arrays cannot be read ({error})"
    if offsets.shape != (len(dataset.cycles) + 1,) or offsets[0] != 0 or offsets[-1] != len(waves):
        return None, "its offsets do not match its waves or the dataset's cycles"
    return CycleCache(waves=waves, offsets=offsets, cycles=dataset.cycles, sr=config.sample_rate, path=path), None


def _build(dataset: ICBHIDataset, config: AudioConfig, path: Path, *, workers: int | None,
           progress: bool) -> None:
    cycles = dataset.cycles
    audio_paths = dataset.recordings.set_index("recording")["audio_path"]
    groups = cycles.groupby("recording", sort=False, observed=True)
    tasks = [(audio_paths[name], group["start"].to_numpy(), group["end"].to_numpy(), config)
             for name, group in groups]
    rows = [group.index.to_numpy() for _, group in groups]
    workers = workers or os.cpu_count() or 1
    results = []
    bar = progress_bar(total=len(tasks), desc="pre-processing recordings", unit="rec", progress=progress)
    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(_process_recording, tasks, chunksize=8):
                results.append(result)
                bar.update()
    else:
        for task in tasks:
            results.append(_process_recording(task))
            bar.update()
    bar.close()
    ordered: list[np.ndarray] = [None] * len(cycles)
    for row_indices, recording_cycles in zip(rows, results):
        for row, cycle in zip(row_indices, recording_cycles):
            ordered[row] = cycle
    lengths = np.array([len(c) for c in ordered], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    try:
        with atomic_directory(path) as staging:
            np.save(staging / "waves.npy", np.concatenate(ordered).astype(np.float32))
            kill_point(staging / "waves.npy")  # crash tests only (respirelib.storage); a no-op otherwise
            np.save(staging / "offsets.npy", offsets)
            info = {"version": CACHE_VERSION, "data_root": str(dataset.root), "data": dataset.data_label,
                    "fingerprint": dataset.fingerprint, "n_cycles": len(cycles), "sample_rate": config.sample_rate,
                    "preprocessing": {name: asdict(config)[name] for name in PREPROCESSING_FIELDS},
                    "files": {name: _file_record(staging / name) for name in CACHE_FILES}}
            (staging / RECORD_FILE).write_text(json.dumps(info, indent=2))
    except FileExistsError:
        pass  # another process finished the same cache first: the caller checks and reads the winner's
