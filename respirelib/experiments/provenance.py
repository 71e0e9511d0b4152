"""Provenance, assembled in one place: commit, hardware, package versions and the data's identity.

Every ``run.json`` (:func:`run_provenance`), a pipeline's ``environment.json``
(:func:`environment_record`), the benchmarks' records and the exported model card take
theirs from here, so the same fact is recorded the same way everywhere.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path

from respirelib.runs import REPO_ROOT

KEY_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "librosa", "pandas", "soundfile", "grad-cam")


def git_commit() -> str | None:
    """The repository's commit (with ``-dirty`` if the tree has changes), or None outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def cpu_model() -> str | None:
    """The CPU's model name (``model name`` of ``/proc/cpuinfo``, as ``lscpu`` shows it), or None where unknown."""
    from respirelib.precision import cpu_info_fields  # here: the command line imports this module, torch loads slowly

    return (cpu_info_fields() or {}).get("model name") or None


def cpu_generation(cpuinfo=None) -> str | None:
    """Vendor, family, model and stepping of ``/proc/cpuinfo`` (e.g. ``"AuthenticAMD family 25 model 17 stepping 1"``).

    Virtual machines often report a bare model name ("AMD EPYC"), which hides the
    generation; bf16 speed differs by generation, so records keep these numbers too.
    None where ``/proc/cpuinfo`` is missing or lacks them.
    """
    from respirelib.precision import CPUINFO, cpu_info_fields

    fields = cpu_info_fields(cpuinfo or CPUINFO) or {}
    if not fields.get("cpu family"):
        return None
    return (f"{fields.get('vendor_id', 'unknown vendor')} family {fields['cpu family']} "
            f"model {fields.get('model', '?')} stepping {fields.get('stepping', '?')}")


def hardware_record() -> dict:
    """CPU (architecture, model, generation, whether it computes bf16 natively and why), core count and GPU (if torch sees one)."""
    record = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
              "cpu_model": cpu_model(), "cpu_generation": cpu_generation(), "cpu_count": os.cpu_count()}
    try:
        import torch

        record["torch"] = torch.__version__
        record["torch_threads"] = torch.get_num_threads()
        record["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()  # the vector ISA torch's kernels use
        from respirelib.precision import cpu_bf16_support

        native, reason = cpu_bf16_support()
        record["cpu_native_bf16"] = {"native": native, "reason": reason}
        if torch.cuda.is_available():
            record["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return record


def package_versions() -> dict:
    """Installed versions of :data:`KEY_PACKAGES` (None for one that is missing)."""
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment(*, device=None) -> dict:
    """``commit``, ``created`` (UTC), ``hardware`` (with ``device`` when given) and ``packages``."""
    hardware = hardware_record()
    if device is not None:
        hardware["device"] = str(device)
    return {"commit": git_commit(), "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "hardware": hardware, "packages": package_versions()}


def data_record(dataset) -> dict:
    """The identity of a loaded :class:`~respirelib.data.icbhi.ICBHIDataset`: folder, label, synthetic or not,
    content fingerprint and the synthetic generator's marker."""
    return {"root": str(dataset.root.resolve()), "label": dataset.data_label, "synthetic": dataset.is_synthetic,
            "fingerprint": dataset.fingerprint, "synthetic_marker": dataset.synthetic}


def run_provenance(dataset, device) -> dict:
    """What ``run.json`` records: :func:`environment` on ``device`` and the data, with its loader report."""
    return {**environment(device=device),
            "data": {**data_record(dataset), "loader_report": dataset.report.counts()}}


def environment_record(data_dir: str | Path) -> dict:
    """What a pipeline's ``environment.json`` records: :func:`environment` and the data in ``data_dir``.

    The data is loaded as the notebooks load it for a summary (``errors="skip"``); within one
    process the load is shared with every other (:func:`respirelib.data.icbhi.load_icbhi`).
    """
    from respirelib.data.icbhi import load_icbhi

    return {**environment(), "data": data_record(load_icbhi(data_dir, errors="skip"))}
