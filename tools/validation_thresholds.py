"""Score trained runs with crackle and wheeze thresholds chosen on validation, for the README's tenth round.

    python tools/validation_thresholds.py OUT.json RUN [RUN ...]

Each RUN is a run folder of ``respirenet bench quick`` (``NAME-seedK``: ``run.json``, the stage-1 checkpoint it
selected and its test predictions ``metrics_predictions.csv``). For each, the tool scores the selected model on
the run's validation and test cycles, checks that the test decisions are the run's recorded ones, chooses the
crackle and wheeze presence thresholds that maximise the 4-class Score on the *validation* cycles
(:func:`respirelib.training.evaluate.choose_presence_thresholds`) and applies them to the test cycles. The record
keeps, per seed, the thresholds and both sets of test decisions (one digit a cycle), with the data's identity and
the cycles' labels and patients once, so ``tools/readme_tuning.py`` computes the comparison from the committed
record alone. Runs are read, never changed; every run must have the same data and test cycles; a record is never
overwritten.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from respirelib.storage import refuse_existing_record, write_new_record

RULE = ("Written before any result: per seed, the crackle and wheeze presence thresholds (0.20 to 0.80 in steps of "
        "0.05) that maximise the 4-class Score on that seed's validation cycles, ties to the pair nearest 0.5 / 0.5, "
        "applied to its test cycles. Adopted only if, over the seeds, (1) the paired bootstrap 95 % interval of the "
        "spread difference (thresholds minus the argmax decisions) lies wholly below 0, (2) the paired 95 % interval "
        "of the score difference ends above -1 point and (3) every seed recalls every class at 30 % or more; "
        "otherwise recorded as a diagnosis only.")


def _digits(values) -> str:
    return "".join(map(str, np.asarray(values, dtype=np.int64)))


def score_run(folder: Path) -> dict:
    """One run's validation-chosen thresholds and its test decisions with and without them."""
    from respirelib.config import CLASS_NAMES
    from respirelib.experiments.run import load_run, score_cycles
    from respirelib.signal.samples import evaluation_set
    from respirelib.training.evaluate import choose_presence_thresholds, presence_decisions

    run = load_run(folder, progress=False)
    model = run.model(folder / "stage1" / "checkpoints" / "best.pt")
    tables = {part: score_cycles(run, model, run.profile.stage1,
                                 evaluation_set(run.prepared.cache, run.prepared.rows(part), config=run.profile.audio))
              for part in ("val", "test")}
    recorded = pd.read_csv(folder / "metrics_predictions.csv")
    test = tables["test"]
    if not (test["cycle_row"].equals(recorded["cycle_row"]) and test["pred"].equals(recorded["pred"])):
        raise ValueError(f"{folder}: scoring its selected model again here does not give the test decisions it "
                         "recorded (another machine, precision or data?): not comparable")
    probabilities = {part: table[[f"p_{name}" for name in CLASS_NAMES]].to_numpy() for part, table in tables.items()}
    crackle, wheeze, validation_score = choose_presence_thresholds(tables["val"]["label_id"], probabilities["val"])
    data = run.request["provenance"]["data"]
    marker = data.get("synthetic_marker") or {}
    return {"seed": run.request["seed"], "precision": run.precision, "n_validation_cycles": len(tables["val"]),
            "data": {"label": data["label"], "fingerprint": data["fingerprint"],
                     **{key: marker[key] for key in ("scale", "seed", "difficulty", "sound_version") if key in marker}},
            "crackle_threshold": crackle, "wheeze_threshold": wheeze, "validation_score": validation_score,
            "cycle_rows": test["cycle_row"].tolist(), "labels": _digits(test["label_id"]),
            "patients": recorded["patient"].astype(int).tolist(), "argmax": _digits(test["pred"]),
            "thresholds": _digits(presence_decisions(probabilities["test"], crackle_threshold=crackle,
                                                     wheeze_threshold=wheeze))}


def build_record(folders: list[Path]) -> dict:
    """The record of ``folders`` (see the module docstring)."""
    from respirelib.experiments.provenance import environment

    seeds = [score_run(folder) for folder in folders]
    first = seeds[0]
    for folder, seed in zip(folders, seeds):
        if any(seed[key] != first[key] for key in ("data", "cycle_rows", "labels")):
            raise ValueError(f"{folder} scored other test cycles than {folders[0]}: not comparable")
    shared = {key: first[key] for key in ("data", "cycle_rows", "labels", "patients")}
    runs = [{key: value for key, value in seed.items() if key not in shared} | {"run": str(folder)}
            for folder, seed in zip(folders, seeds)]
    return {"rule": RULE, **environment(), "n_cycles": len(first["labels"]), **shared,
            "runs": sorted(runs, key=lambda run: run["seed"])}


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out = Path(argv[0])
    refuse_existing_record(out)  # before minutes of scoring, not after
    folders = [Path(folder) for folder in argv[1:]]
    record = build_record(folders)
    write_new_record(out, record)
    chosen = ", ".join(f"seed {run['seed']}: {run['crackle_threshold']:.2f} / {run['wheeze_threshold']:.2f}"
                       for run in record["runs"])
    print(f"wrote {out}: {len(record['runs'])} runs on {record['n_cycles']} test cycles; thresholds {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
