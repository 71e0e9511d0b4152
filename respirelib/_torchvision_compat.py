"""Make ``import torchvision`` work when its compiled operators cannot load.

The torchvision wheel that matches CPU-only torch 2.13 on PyPI is a CUDA build.
On a CPU torch its ``_C`` extension fails to load, and ``torchvision/__init__``
then crashes in ``_meta_registrations`` with "operator torchvision::nms does
not exist", because it registers fake kernels for ``nms`` and ``qnms`` without
checking that the operators exist.  Nothing in this project uses those
detection operators, so declaring their schemas (no kernels) is enough.

The fix runs lazily: :func:`install` puts a finder on ``sys.meta_path`` that
acts the first time ``torchvision`` is imported, so ``import respirelib``
stays cheap and never imports torch by itself.  Torchvision's own operators
are always tried first; the schemas are declared only when they fail to load.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

# Schemas as torchvision's C++ sources declare them; only the operators that
# ``torchvision._meta_registrations`` touches unconditionally need one.
MISSING_OPERATOR_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}

# The ``torch.library.Library`` handle must outlive the call: dropping it
# unregisters the schemas again.
_registered_library = []


def _extension_path() -> Path | None:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    candidates = sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd"))
    return candidates[0] if candidates else None


def torchvision_operators_load() -> bool:
    """Return True when torchvision's compiled operators load into this torch."""
    import torch

    if hasattr(torch.ops, "torchvision") and _has_operator(torch, "nms"):
        return True
    path = _extension_path()
    if path is None:
        return False
    try:
        torch.ops.load_library(str(path))
    except (OSError, RuntimeError, ImportError):
        return False
    return _has_operator(torch, "nms")


def _has_operator(torch, name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def register_missing_operators() -> list[str]:
    """Declare torchvision operator schemas that are missing; return their names.

    Does nothing (and returns ``[]``) when torchvision's own operators load.
    """
    if torchvision_operators_load():
        return []
    import torch

    missing = [name for name in MISSING_OPERATOR_SCHEMAS if not _has_operator(torch, name)]
    if not missing:
        return []
    library = torch.library.Library("torchvision", "FRAGMENT")
    for name in missing:
        library.define(MISSING_OPERATOR_SCHEMAS[name])
    _registered_library.append(library)
    return missing


class _TorchvisionImportHook(importlib.abc.MetaPathFinder):
    """Runs :func:`register_missing_operators` just before torchvision is imported."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torchvision":
            return None
        sys.meta_path.remove(self)
        register_missing_operators()
        return None  # let the normal finders import torchvision


def install() -> None:
    """Arrange for torchvision to import cleanly (idempotent, does no work now)."""
    if "torchvision" in sys.modules:
        return
    if any(isinstance(finder, _TorchvisionImportHook) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _TorchvisionImportHook())
