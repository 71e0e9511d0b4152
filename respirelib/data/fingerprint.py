"""Content fingerprints of data files, for provenance and cache keys."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def file_digest(path: str | Path) -> str:
    """BLAKE2b (128-bit) of a file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_fingerprint(root: str | Path, paths: list[Path]) -> str:
    """One hash over the relative names and contents of ``paths``; independent of where ``root`` lives."""
    root = Path(root)
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(paths):
        relative = Path(path).resolve().relative_to(root.resolve()).as_posix()
        digest.update(relative.encode() + b"\0" + file_digest(path).encode() + b"\n")
    return digest.hexdigest()
