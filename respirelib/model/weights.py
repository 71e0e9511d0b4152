"""Find, verify and load torchvision's ImageNet checkpoints for the ResNet backbones.

Torchvision names its checkpoints ``<arch>-<hash prefix>.pth``, where the prefix is
the start of the SHA-256 of the file's bytes. This module takes the file name and
URL from torchvision's own weight enums, looks for the file in local directories,
checks it against that prefix, and only then (if allowed) tries a download.

Search order:

1. the ``weights_dir`` argument,
2. the directory named by ``$RESPIRENET_WEIGHTS_DIR``,
3. torchvision's cache, ``torch.hub.get_dir()/checkpoints`` (honours ``$TORCH_HOME``).

A download is tried only when ``allow_download`` is true and ``$RESPIRENET_OFFLINE``
is not set; a short reachability probe comes first so that an offline machine fails
in well under a second instead of hanging. When nothing works,
:class:`WeightsNotFoundError` says which file to put where.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from respirelib.errors import DataError

WEIGHTS_DIR_ENV = "RESPIRENET_WEIGHTS_DIR"
OFFLINE_ENV = "RESPIRENET_OFFLINE"
SUPPORTED_BACKBONES = ("resnet18", "resnet34", "resnet50")

# The ImageNet weights the reference implementation used (``pretrained=True``); for
# resnet50 torchvision's DEFAULT is the newer V2 recipe, so the version is explicit.
IMAGENET_WEIGHTS_VERSION = "IMAGENET1K_V1"

# Same rule as ``torch.hub``: the hash prefix is what follows the last '-' in the name.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")
_TRUTHY = {"1", "true", "yes", "on"}


class WeightsNotFoundError(DataError):
    """No usable ImageNet checkpoint: not on disk and not downloadable.

    ``path`` is the checkpoint's file name; ``searched`` the directories looked in;
    ``url`` where torchvision publishes it.
    """

    def __init__(self, file_name: str, problem: str, *, url: str, searched: list[Path]):
        self.url = url
        self.searched = list(searched)
        super().__init__(file_name, problem)


class WeightsIntegrityError(DataError):
    """A checkpoint file exists but is not the one its name promises (hash mismatch)."""


@dataclass(frozen=True)
class WeightsSpec:
    """One published checkpoint: its backbone, URL, file name and hash prefix."""

    backbone: str
    url: str

    @property
    def file_name(self) -> str:
        return PurePosixPath(urlparse(self.url).path).name

    @property
    def hash_prefix(self) -> str:
        match = _HASH_IN_NAME.search(self.file_name)
        if match is None:
            raise ValueError(f"{self.file_name}: no '-<sha256 prefix>.' in the checkpoint name")
        return match.group(1)


def imagenet_weights_spec(backbone: str) -> WeightsSpec:
    """The torchvision ImageNet checkpoint for ``backbone`` (``resnet18/34/50``).

    The URL comes from torchvision's weight enum, e.g.
    ``ResNet34_Weights.IMAGENET1K_V1.url``; nothing is hard-coded here.
    """
    if backbone not in SUPPORTED_BACKBONES:
        raise ValueError(f"unknown backbone '{backbone}' (expected one of {', '.join(SUPPORTED_BACKBONES)})")
    import torchvision.models

    weights = torchvision.models.get_model_weights(backbone)[IMAGENET_WEIGHTS_VERSION]
    return WeightsSpec(backbone=backbone, url=weights.url)


def search_dirs(weights_dir: str | Path | None = None) -> list[Path]:
    """The directories searched for checkpoints, in order (see the module docstring)."""
    import torch.hub

    dirs = []
    if weights_dir is not None:
        dirs.append(Path(weights_dir))
    if os.environ.get(WEIGHTS_DIR_ENV):
        dirs.append(Path(os.environ[WEIGHTS_DIR_ENV]))
    dirs.append(Path(torch.hub.get_dir()) / "checkpoints")
    return dirs


def offline_requested() -> bool:
    """True when ``$RESPIRENET_OFFLINE`` is set to 1/true/yes/on."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in _TRUTHY


def sha256_of(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checkpoint(path: str | Path, hash_prefix: str) -> Path:
    """Check that the file's SHA-256 starts with ``hash_prefix``; return the path.

    Raises
    ------
    WeightsIntegrityError
        If it does not; the message names the file and both hashes.
    """
    path = Path(path)
    digest = sha256_of(path)
    if not digest.startswith(hash_prefix):
        raise WeightsIntegrityError(
            path, f"SHA-256 is {digest[:16]}..., but the file name promises a hash starting "
                  f"with '{hash_prefix}'. The file is incomplete or not torchvision's checkpoint: "
                  f"delete it and put the original there.")
    return path


def find_imagenet_checkpoint(spec: WeightsSpec, *, weights_dir: str | Path | None = None,
                             allow_download: bool = True, timeout: float = 5.0) -> Path:
    """Path of a verified checkpoint for ``spec``, downloading it only as a last resort.

    Parameters
    ----------
    spec : WeightsSpec
        Usually ``imagenet_weights_spec(backbone)``.
    weights_dir : str or Path, optional
        Searched first.
    allow_download : bool
        Try torchvision's URL when no local copy exists. Ignored (no download) when
        ``$RESPIRENET_OFFLINE`` is set.
    timeout : float
        Seconds allowed for the reachability probe before the download.

    Raises
    ------
    WeightsIntegrityError
        A file with the right name exists but fails the hash check. It is not
        skipped in favour of a later directory: a corrupt file should be fixed.
    WeightsNotFoundError
        No local copy and no download; the message names the file, the URL, the
        directories and ``pretrained="random"``.
    """
    dirs = search_dirs(weights_dir)
    for directory in dirs:
        candidate = directory / spec.file_name
        if candidate.is_file():
            return verify_checkpoint(candidate, spec.hash_prefix)

    if not allow_download:
        reason = "download not allowed (allow_download=False)"
    elif offline_requested():
        reason = f"download skipped (${OFFLINE_ENV} is set)"
    else:
        cache_dir = dirs[-1]
        try:
            return _download(spec, cache_dir, timeout=timeout)
        except (OSError, RuntimeError, ValueError) as error:
            reason = f"download failed ({type(error).__name__}: {error})"

    searched = "\n".join(f"  - {directory}" for directory in dirs)
    raise WeightsNotFoundError(
        spec.file_name,
        f"ImageNet weights for {spec.backbone} not found; {reason}.\n"
        f"Download {spec.url}\n"
        f"and put '{spec.file_name}' in one of these directories (searched in this order):\n"
        f"{searched}\n"
        f"or point ${WEIGHTS_DIR_ENV} at the directory that holds it.\n"
        f"To train from scratch on purpose, use --init random (init='random' from Python; results are then "
        f"reported as 'random init'); --init imagenet-if-available falls back to it by itself.",
        url=spec.url, searched=dirs)


def _download(spec: WeightsSpec, cache_dir: Path, *, timeout: float) -> Path:
    import torch.hub

    # torch.hub's downloader has no timeout; probing first makes offline fail fast.
    probe = urllib.request.Request(spec.url, method="HEAD")
    with urllib.request.urlopen(probe, timeout=timeout):
        pass
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / spec.file_name
    torch.hub.download_url_to_file(spec.url, str(target), hash_prefix=spec.hash_prefix, progress=True)
    return target


def load_imagenet_state_dict(backbone: str, *, weights_dir: str | Path | None = None,
                             allow_download: bool = True, spec: WeightsSpec | None = None):
    """Verified ImageNet ``state_dict`` for ``backbone`` and the file it came from.

    Returns
    -------
    state_dict : dict[str, torch.Tensor]
    path : Path
    """
    import torch

    spec = spec if spec is not None else imagenet_weights_spec(backbone)
    path = find_imagenet_checkpoint(spec, weights_dir=weights_dir, allow_download=allow_download)
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as error:
        raise DataError(path, f"cannot be read as a torch checkpoint ({error})") from error
    if not isinstance(state_dict, dict):
        raise DataError(path, f"holds a {type(state_dict).__name__}, expected a state_dict")
    return state_dict, path
