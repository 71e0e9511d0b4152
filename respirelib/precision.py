"""Numeric precision of the network: float32, or bfloat16 autocast with channels-last memory.

``"auto"`` (the default everywhere) picks ``"bf16"`` where the hardware computes bfloat16
natively and ``"fp32"`` elsewhere:

- on CUDA: bf16 when ``torch.cuda.is_bf16_supported()`` (Ampere and later);
- on a CPU: bf16 when it has AMX-BF16 or AVX-512 BF16 (Intel Sapphire Rapids and later,
  AMD Zen 4 and later) or the Arm BF16 extension, and torch's oneDNN backend is there to use
  them. The flags are read from ``/proc/cpuinfo`` (``amx_bf16``, ``avx512_bf16``; ``bf16`` on
  Arm); where that file does not exist, torch's own probes (``torch.cpu._is_amx_tile_supported``,
  ``torch.cpu._is_avx512_bf16_supported``) decide; where neither answers, fp32 (a CPU without
  native bf16 emulates it, slower than fp32);
- on any other device: fp32.

Under ``"bf16"`` the convolutions and matrix products run in bfloat16 inside
``torch.autocast``; the weights, the optimizer state, the loss and the softmax stay in
float32, and images and weights use the channels-last layout that oneDNN and cuDNN prefer (on a
CPU also under fp32, where oneDNN is faster with it too: :func:`memory_format`).
On one machine with one thread count a CPU run is as repeatable in bf16 as in fp32; across
precisions the numbers differ a little (measured: ``respirenet bench precision-accuracy``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from respirelib.config import PRECISIONS  # noqa: F401 (defined without torch; imported from here too)
CPUINFO = Path("/proc/cpuinfo")
_X86_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_info_fields(cpuinfo: str | Path = CPUINFO) -> dict[str, str] | None:
    """The ``key: value`` fields of ``/proc/cpuinfo`` (the first processor's value of each key), or None without it."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_bf16_support(cpuinfo: str | Path = CPUINFO) -> tuple[bool, str]:
    """Whether this CPU computes bfloat16 natively, and how that was decided.

    Returns
    -------
    native : bool
    reason : str
        E.g. ``"CPU flags avx512_bf16 (/proc/cpuinfo)"``, for the run's record.
    """
    if not torch.backends.mkldnn.is_available():
        return False, "this torch has no oneDNN (mkldnn) backend"
    path = Path(cpuinfo)
    fields = cpu_info_fields(path)
    if fields is not None:
        flags = set(fields.get("flags", "").split()) | set(fields.get("Features", "").split())
        found = [flag for flag in _X86_BF16_FLAGS if flag in flags] or (["bf16"] if "bf16" in flags else [])
        if found:
            return True, f"CPU flags {' '.join(found)} ({path})"
        return False, f"no native bf16 flag (amx_bf16, avx512_bf16, bf16) in {path}"
    probes = [name for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
              if hasattr(torch.cpu, name)]
    if probes:
        found = [name for name in probes if getattr(torch.cpu, name)()]
        return bool(found), f"torch.cpu probes: {', '.join(found) or 'none true of ' + ', '.join(probes)}"
    return False, "native bf16 could not be detected (no /proc/cpuinfo, no torch probe): fp32"


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``"fp32"`` or ``"bf16"``: ``precision`` itself, or what ``"auto"`` means on ``device``."""
    return describe_precision(precision, device)["used"]


def describe_precision(precision: str, device: str | torch.device) -> dict:
    """``{"requested", "used", "reason"}``: what a run records of its precision."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    device = torch.device(device)
    if precision != "auto":
        return {"requested": precision, "used": precision, "reason": "asked for"}
    if device.type == "cuda":
        native = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return {"requested": "auto", "used": "bf16" if native else "fp32",
                "reason": "CUDA GPU with bf16" if native else "CUDA GPU without bf16"}
    if device.type == "cpu":
        native, reason = cpu_bf16_support()
        return {"requested": "auto", "used": "bf16" if native else "fp32", "reason": reason}
    return {"requested": "auto", "used": "fp32", "reason": f"device type {device.type}: fp32"}


def autocast(device: str | torch.device, precision: str):
    """The context a forward pass runs in: bf16 autocast for ``"bf16"``, nothing for ``"fp32"``.

    Pass the resolved precision (:func:`resolve_precision`) in loops: ``"auto"`` is resolved on every call.
    """
    device = torch.device(device)
    if precision == "auto":
        precision = resolve_precision(precision, device)
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(precision: str, device: str | torch.device) -> torch.memory_format:
    """The layout of images and weights: channels-last on a CPU (oneDNN's fast layout, in both
    precisions) and under bf16 on CUDA (cuDNN's), the usual contiguous layout for fp32 on CUDA.

    Measured on 2 threads, fp32 training steps with channels-last against contiguous: the quick
    network 1.4x faster on an AMD EPYC without AVX-512; on a Xeon with AMX (issue 22's table) the
    full-width ResNet-18 1.4x and the ResNet-34 1.1x faster, the quick network 1.15x slower (that
    machine trains in bf16 under ``"auto"``). ``respirenet bench precision`` records both precisions.
    """
    device = torch.device(device)
    if device.type == "cpu" or resolve_precision(precision, device) == "bf16":
        return torch.channels_last
    return torch.contiguous_format
