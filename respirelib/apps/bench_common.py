"""The record every benchmark writes, and how it is printed and saved.

Each ``respirenet bench`` command (:mod:`respirelib.apps.bench` prep, :mod:`respirelib.apps.bench_train`,
:mod:`respirelib.apps.bench_quick`) returns one :func:`bench_record`: the benchmark's name, the time,
the hardware and load, the thread environment, the commit, the data, its results and its
targets (:func:`target`), so every record in ``results/`` can be read the same way.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from respirelib.experiments.provenance import git_commit, hardware_record

BENCH_FORMAT_VERSION = 1


def target(name: str, measured: float, *, unit: str, at_most: float | None = None,
           at_least: float | None = None) -> dict:
    """One target of a benchmark: the measured value, the bound and whether it was met."""
    if (at_most is None) == (at_least is None):
        raise ValueError("give exactly one of at_most and at_least")
    bound, comparison = (at_most, "<=") if at_most is not None else (at_least, ">=")
    met = measured <= bound if at_most is not None else measured >= bound
    return {"name": name, "measured": round(float(measured), 3), "unit": unit, "comparison": comparison,
            "target": bound, "met": bool(met)}


def bench_record(name: str, *, data: dict, results: dict, targets: list[dict]) -> dict:
    """The shared layout of every benchmark's result (see the module docstring)."""
    return {
        "benchmark": name,
        "format_version": BENCH_FORMAT_VERSION,
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hardware": hardware_record(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "environment": _thread_environment(),
        "commit": git_commit(),
        "data": data,
        **results,
        "targets": targets,
        "all_met": all(t["met"] for t in targets),
    }


def _thread_environment() -> dict:
    return {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")}


def _data_record(dataset, *, write_s: float | None) -> dict:
    synthetic = dataset.synthetic or {}
    return {"label": dataset.data_label, "path": str(dataset.root), "scale": synthetic.get("scale"),
            "seed": synthetic.get("seed"), "fingerprint": dataset.fingerprint, "write_s": write_s}


def _timed(function: Callable, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started



def format_bench(record: dict) -> str:
    """A short text rendering of any benchmark record: its data, hardware and targets."""
    data, hardware = record["data"], record["hardware"]
    lines = [f"benchmark {record['benchmark']} on {data['label']} data ({data['path']})",
             f"hardware  {hardware.get('processor')}, {hardware.get('cpu_count')} CPUs"
             + (f", GPU {hardware['gpu']}" if hardware.get("gpu") else "")
             + f"; load average {record['load_average'][0]}"]
    if "full_size" in record and not record["full_size"]:
        lines.append("note      a scaled-down set: the targets are stated for the full-size set")
    for t in record["targets"]:
        mark = "met" if t["met"] else "NOT met"
        lines.append(f"{t['name']:45s} {t['measured']:>10.2f} {t['unit']:10s} "
                     f"(target {t['comparison']} {t['target']:g}: {mark})")
    return "\n".join(lines)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON result to this file")


def _emit(record: dict, args: argparse.Namespace) -> int:
    return _emit_with_table(record, args, None)


def _emit_with_table(record: dict, args: argparse.Namespace, table: Callable[[dict], str] | None) -> int:
    """Write the JSON (``--out``) and print it (``--json``) or the benchmark's ``table`` and its targets."""
    text = json.dumps(record, indent=2)
    if args.out is not None:
        from respirelib.storage import atomic_write_text

        atomic_write_text(args.out, text + "\n")
    if args.json:
        print(text)
    else:
        print((table(record) + "\n" if table is not None else "") + format_bench(record))
    return 0
