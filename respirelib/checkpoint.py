"""Atomic checkpoints that carry everything a resumed run needs to equal an uninterrupted one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import torch


@contextlib.contextmanager
def _atomic_file(path: Path, mode: str):
    """Yield a stream on a temporary file beside ``path``; rename it over ``path`` only when complete.

    A crash mid-write leaves the previous file intact, never a half-written one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)  # mkstemp makes owner-only files; give the usual umask-based mode
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
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
    """Global torch RNG (CPU and CUDA) plus the given generators' states."""
    state = {"torch": torch.get_rng_state(), "generators": [g.get_state() for g in generators]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict, *generators: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    for generator, saved in zip(generators, state["generators"], strict=True):
        generator.set_state(saved)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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
