"""Where the data lives: a user's ICBHI folder, or the synthetic default under ``data/``."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

from respirelib.data.names import SYNTHETIC_MARKER  # noqa: F401  (re-exported: where the data lives)
from respirelib.errors import DataError
from respirelib.runs import REPO_ROOT


def default_synthetic_dir(*, scale: float = 1.0, seed: int = 0, difficulty: float | None = None) -> Path:
    """``data/synthetic-scale{scale}-seed{seed}``, plus ``-difficulty{d}`` when a difficulty is given, plus
    ``-sound{v}``, the generator's sound-model version.

    ``difficulty=None`` is the generator's default
    (:data:`respirelib.data.synth.difficulty.DEFAULT_DIFFICULTY`). The version
    (:data:`respirelib.data.synth.sound.SOUND_VERSION`) changes whenever the generator's sound
    does, so a set written by an older generator is never reused as the default: a new one is
    written beside it (and the cycle cache, keyed by the data's content, follows).
    """
    from respirelib.data.synth.sound import SOUND_VERSION

    suffix = "" if difficulty is None else f"-difficulty{difficulty:g}"
    return REPO_ROOT / "data" / f"synthetic-scale{scale:g}-seed{seed}{suffix}-sound{SOUND_VERSION}"


def resolve_data_dir(data_dir: str | Path | None, *, scale: float = 1.0, seed: int = 0,
                     difficulty: float | None = None, progress: bool = True) -> Path:
    """``data_dir`` if given; else the synthetic dataset for (scale, seed, difficulty), written on first use."""
    if data_dir:
        return Path(data_dir)
    from respirelib.data.synth import write_synthetic_icbhi
    from respirelib.data.synth.difficulty import DEFAULT_DIFFICULTY

    out_dir = default_synthetic_dir(scale=scale, seed=seed, difficulty=difficulty)
    if (out_dir / SYNTHETIC_MARKER).is_file():
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Two pipelines started at once must not both write (each would clear the other's partial folder):
    # the second waits for the first, then finds the dataset written.
    with open(out_dir.with_name(out_dir.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out_dir / SYNTHETIC_MARKER).is_file():
            level = DEFAULT_DIFFICULTY if difficulty is None else difficulty
            print(f"writing a synthetic ICBHI-shaped dataset (scale {scale:g}, seed {seed}, difficulty "
                  f"{level:g}) to {out_dir}")
            write_synthetic_icbhi(out_dir, scale=scale, seed=seed, difficulty=level, progress=progress)
    return out_dir


def describe_data_dir(path: str | Path) -> str:
    """One line saying which dataset ``path`` holds, read from its synthetic marker alone (no loading).

    ``"SYNTHETIC ICBHI-shaped dataset (scale 0.5, difficulty 0.3, seed 0): /abs/folder"``, or for a
    folder without the marker ``"ICBHI data folder (no synthetic marker: real recordings): /abs/folder"``.
    """
    path = Path(path)
    marker = path / SYNTHETIC_MARKER
    if not marker.is_file():
        return f"ICBHI data folder (no synthetic marker: real recordings): {path.resolve()}"
    try:
        info = json.loads(marker.read_text())
    except json.JSONDecodeError as error:
        raise DataError(marker, f"synthetic-dataset marker is not valid JSON ({error})") from error
    settings = ", ".join(f"{name} {info[name]:g}" if isinstance(info.get(name), float) else f"{name} {info.get(name)}"
                         for name in ("scale", "difficulty", "seed"))
    return f"SYNTHETIC ICBHI-shaped dataset ({settings}): {path.resolve()}"


def find_real_audio(real_dir: str | Path | None = None) -> Path | None:
    """A folder of real ICBHI recordings to compare the synthetic set with, or None.

    ``real_dir`` when given (it must exist); else the first of ``data/ICBHI`` (where
    ``respirenet data download`` puts the database) and ``../shared/icbhi-audio-sample`` (the
    six recordings beside this repository in its CI) that holds ``.wav`` files and no
    synthetic marker.
    """
    if real_dir:
        path = Path(real_dir)
        if not path.is_dir():
            raise DataError(path, "no such folder (real_dir must name a folder of real ICBHI recordings)")
        return path
    from respirelib.data.download import DEFAULT_DIR

    for path in (DEFAULT_DIR, REPO_ROOT.parent / "shared" / "icbhi-audio-sample"):
        if path.is_dir() and not (path / SYNTHETIC_MARKER).exists() and any(path.rglob("*.wav")):
            return path
    return None
