"""tools/spread_anatomy.py: the record of `respirenet bench quick` runs' test predictions (the README's anatomy)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from respirelib.training.metrics import seed_spread_anatomy

TOOL = Path(__file__).resolve().parent.parent / "tools" / "spread_anatomy.py"
LABELS = np.array([0, 0, 1, 2, 3, 0, 1, 0])
PATIENTS = np.array([101, 101, 101, 102, 102, 103, 103, 103])


def _run(root: Path, name: str, seed: int, preds, *, rows=None) -> None:
    folder = root / f"{name}-seed{seed}"
    folder.mkdir(parents=True)
    pd.DataFrame({"cycle_row": rows if rows is not None else np.arange(LABELS.size), "label_id": LABELS,
                  "pred": preds, "patient": PATIENTS}).to_csv(folder / "metrics_predictions.csv", index=False)
    (folder / "run.json").write_text(json.dumps({"data_dir": "data/x", "overrides": {}, "precision": "bf16"}))


def test_the_record_keeps_every_runs_predictions_and_gives_back_their_anatomy(tmp_path):
    tool = runpy.run_path(str(TOOL))
    rng = np.random.default_rng(0)
    preds = {(name, seed): rng.integers(0, 4, LABELS.size) for name in ("quick", "e36") for seed in (0, 1, 2)}
    for (name, seed), pred in preds.items():
        _run(tmp_path / ("a" if name == "quick" else "b"), name, seed, pred)
    out = tmp_path / "record.json"
    assert tool["main"]([str(out), str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    record = json.loads(out.read_text())
    assert record["labels"] == "".join(map(str, LABELS)) and record["patients"] == PATIENTS.tolist()
    assert set(record["candidates"]) == {"quick", "e36"} and record["candidates"]["e36"]["seeds"] == [0, 1, 2]
    stored = np.array([[int(c) for c in p] for p in record["candidates"]["quick"]["preds"]])
    assert (stored == np.stack([preds[("quick", s)] for s in (0, 1, 2)])).all()
    direct = seed_spread_anatomy(LABELS, np.stack([preds[("quick", s)] for s in (0, 1, 2)]), PATIENTS)
    assert seed_spread_anatomy(LABELS, stored, record["patients"])["score"] == pytest.approx(direct["score"])
    with pytest.raises(FileExistsError, match="never overwritten"):
        tool["main"]([str(out), str(tmp_path / "a")])


def test_runs_of_other_test_cycles_are_refused(tmp_path):
    tool = runpy.run_path(str(TOOL))
    _run(tmp_path / "a", "quick", 0, LABELS)
    _run(tmp_path / "a", "quick", 1, LABELS, rows=np.arange(LABELS.size) + 1)
    with pytest.raises(ValueError, match="other test cycles"):
        tool["read_runs"]([tmp_path / "a"])
    with pytest.raises(FileNotFoundError, match="no NAME-seedK run folder"):
        tool["read_runs"]([tmp_path])
