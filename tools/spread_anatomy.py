"""Record the test predictions of `respirenet bench quick` runs, for the anatomy of their seed-to-seed spread.

    python tools/spread_anatomy.py OUT.json ROOT [ROOT ...]

Each ROOT is a ``--root`` of ``respirenet bench quick``: one ``NAME-seedK`` folder per run, holding the run's
``metrics_predictions.csv`` and ``run.json``. The record keeps, per candidate and seed, the predicted class of
every test cycle (one digit a cycle), with the cycles' labels and patients once, so that
:func:`respirelib.training.metrics.seed_spread_anatomy` can be computed again from the committed record alone
(``tools/readme_tuning.py`` prints the README's paragraph from it). Runs are read, never changed; every run
must have scored the same test cycles in the same order.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd

from respirelib.storage import write_new_record

RUN_FOLDER = re.compile(r"^(?P<name>.+)-seed(?P<seed>\d+)$")


def read_runs(roots: list[Path]) -> dict:
    """The record of every run under ``roots`` (see the module docstring)."""
    reference, candidates, sources = None, {}, {}
    for root in roots:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and RUN_FOLDER.match(p.name))
        if not folders:
            raise FileNotFoundError(f"{root} holds no NAME-seedK run folder of `respirenet bench quick`")
        for folder in folders:
            match = RUN_FOLDER.match(folder.name)
            table = pd.read_csv(folder / "metrics_predictions.csv")
            run = json.loads((folder / "run.json").read_text())
            if reference is None:
                reference = table
            elif not (table["cycle_row"].equals(reference["cycle_row"])
                      and table["label_id"].equals(reference["label_id"])):
                raise ValueError(f"{folder} scored other test cycles than {roots[0]}'s first run: not comparable")
            name = match["name"]
            candidates.setdefault(name, {})[int(match["seed"])] = "".join(map(str, table["pred"]))
            sources.setdefault(name, {"root": str(root), "data_dir": run.get("data_dir"),
                                      "overrides": run.get("overrides"), "precision": run.get("precision")})
    return {"n_cycles": len(reference), "labels": "".join(map(str, reference["label_id"])),
            "patients": [int(p) for p in reference["patient"]], "cycle_rows": [int(r) for r in reference["cycle_row"]],
            "candidates": {name: {**sources[name], "seeds": sorted(preds), "preds": [preds[s] for s in sorted(preds)]}
                           for name, preds in candidates.items()}}


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out = Path(argv[0])
    record = read_runs([Path(root) for root in argv[1:]])
    write_new_record(out, record)
    counts = ", ".join(f"{name} ({len(candidate['seeds'])} seeds)" for name, candidate in record["candidates"].items())
    print(f"wrote {out}: {counts} on {record['n_cycles']} test cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
