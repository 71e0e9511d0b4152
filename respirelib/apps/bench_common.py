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
           at_least: float | None = None, interval: tuple[float, float] | None = None) -> dict:
    """One target of a benchmark: the measured value, the bound and whether it was met.

    ``interval`` (optional): the 95 % interval of the measured value where it is an estimate (a spread over
    five seeds is uncertain by about half its value), recorded and printed beside it; ``met`` still
    compares the value itself.
    """
    if (at_most is None) == (at_least is None):
        raise ValueError("give exactly one of at_most and at_least")
    bound, comparison = (at_most, "<=") if at_most is not None else (at_least, ">=")
    met = measured <= bound if at_most is not None else measured >= bound
    return {"name": name, "measured": round(float(measured), 3), "unit": unit, "comparison": comparison,
            "target": bound, "met": bool(met),
            **({"interval": [round(float(v), 3) for v in interval]} if interval is not None else {})}


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
    # the last two cap the instruction set torch and oneDNN use (e.g. avx2 / AVX2: a stand-in for an older CPU)
    return {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS",
                                                    "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}


def _data_record(dataset, *, write_s: float | None) -> dict:
    synthetic = dataset.synthetic or {}
    return {"label": dataset.data_label, "path": str(dataset.root), "scale": synthetic.get("scale"),
            "seed": synthetic.get("seed"), "difficulty": synthetic.get("difficulty"),
            "sound_version": synthetic.get("sound_version"), "fingerprint": dataset.fingerprint, "write_s": write_s}


def _timed(function: Callable, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started



def _value(value) -> str:
    """A number exactly as the JSON holds it (so the table and the record agree); '–' for none."""
    if value is None:
        return "–"
    if isinstance(value, (list, tuple)):
        return " ".join(_value(item) for item in value)
    return str(value)


def _mean_std(entry: dict) -> str:
    return _value(entry["mean"]) + ("" if entry["std"] is None else f" ± {_value(entry['std'])}")


def _table(rows: list[dict]) -> str:
    """Rows of equal keys as aligned text columns."""
    if not rows:
        return "(none)"
    columns = list(rows[0])
    cells = [[_value(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(row[i]) for row in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _prep_tables(record: dict) -> list[str]:
    timing = record["preprocessing"]
    rows = [{"pre-processing": run, **{key: timing[run][key] for key in timing[run]}} for run in ("cold", "warm")]
    pool = record["training_set"]
    batches = [{"batches on": name, **values} for name, values in record["batches"].items()]
    return [_table(rows), f"training set: {pool['cycles']} cycles, {pool['samples']} samples in {pool['seconds']} s "
            f"({pool['samples_per_s']} samples/s)", _table(batches)]


def _train_tables(record: dict) -> list[str]:
    workload = ", ".join(f"{key} {value}" for key, value in record["workload"].items())
    steps = [{"device": name, **{key: values.get(key) for key in (
        "batch_size", "steps", "train_samples_per_s", "eval_samples_per_s", "augment_features_ms_per_step",
        "model_ms_per_step", "projected_schedule_s")}} for name, values in record["steps"].items()]
    lines = [f"profile {record['profile']}; workload: {workload}", _table(steps)]
    if record.get("schedule"):
        lines.append("schedule measured: " + ", ".join(f"{key} {record['schedule'][key]}" for key in
                                                       ("stage1_s", "stage2_s", "evaluate_s", "total_s")))
    return lines


def _quick_tables(record: dict) -> list[str]:
    from respirelib.config import CLASS_NAMES

    summaries, runs = [], []
    for candidate in record["candidates"]:
        summary = candidate["summary"]
        summaries.append({"candidate": candidate["name"], "seeds": summary["n_seeds"],
                          **{f"{key} %": _mean_std(summary[key]) for key in ("sp", "se", "score")},
                          "2-class score %": _mean_std(summary["score_2class"]),
                          **{f"{name} %": recall for name, recall in zip(CLASS_NAMES, summary["class_recall_mean"])},
                          "fit s (mean)": summary["fit_s_mean"]})
        runs += [{"candidate": candidate["name"], "seed": run["seed"],
                  **{f"{key} %": round(100 * run[key], 2) for key in ("sp", "se", "score")},
                  **{f"{name} %": None if recall is None else round(100 * recall, 1)
                     for name, recall in zip(CLASS_NAMES, run["class_recall"])},
                  "fit s": run["fit_s"], "train s": run["train_run_s"], "evaluate s": run["evaluate_s"]}
                 for run in candidate["runs"]]
    return [f"profile {record['profile']}, seeds {_value(record['seeds'])}, {record['init']} init, on "
            f"{record['device']}; test scores (4-class) mean ± std over seeds, class recalls their mean:",
            _table(summaries), "each run:", _table(runs)]


def _demo_tables(record: dict) -> list[str]:
    return [f"{record['command']}: {record['seconds']} s (load average before {_value(record['load_average_before'])})"
            f"; run {record['run']}"]


# How each benchmark's own figures are printed (the JSON record holds the same numbers).
RESULT_TABLES = {"prep": _prep_tables, "train": _train_tables, "quick": _quick_tables, "demo": _demo_tables}
_HEADER_KEYS = {"benchmark", "format_version", "timestamp", "hardware", "load_average", "environment", "commit",
                "data", "targets", "all_met", "full_size"}


def _generic_tables(record: dict) -> list[str]:
    """A benchmark without its own table: every number of its results, by its path in the record."""
    rows = []

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append({"result": path, "value": value})

    walk({key: value for key, value in record.items() if key not in _HEADER_KEYS}, "")
    return [_table(rows)]


def format_bench(record: dict) -> str:
    """The text rendering of a benchmark record: its data, hardware, its figures as tables, and its targets."""
    data, hardware = record["data"], record["hardware"]
    lines = [f"benchmark {record['benchmark']} on {data['label']} data ({data['path']})",
             f"hardware  {hardware.get('processor')}, {hardware.get('cpu_count')} CPUs"
             + (f", GPU {hardware['gpu']}" if hardware.get("gpu") else "")
             + f"; load average {record['load_average'][0]}"]
    if "full_size" in record and not record["full_size"]:
        lines.append("note      a scaled-down set: the targets are stated for the full-size set")
    lines += ["", *RESULT_TABLES.get(record["benchmark"], _generic_tables)(record), ""]
    for t in record["targets"]:
        mark = "met" if t["met"] else "NOT met"
        interval = f"[95 % interval {t['interval'][0]:.2f} to {t['interval'][1]:.2f}] " if t.get("interval") else ""
        lines.append(f"{t['name']:45s} {t['measured']:>10.2f} {t['unit']:10s} {interval}"
                     f"(target {t['comparison']} {t['target']:g}: {mark})")
    return "\n".join(lines)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON result to this file (default: print only)")


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
