"""The real-audio path on the six real ICBHI recordings of ../shared/icbhi-audio-sample.

32-bit, 24-bit and 16-bit PCM at 44.1 and 4 kHz: summary, verify, the cycle cache,
``predict --annotations auto``, ``explain`` and notebooks 01-03 on them. Every test skips
cleanly without ../shared (the ``audio_sample`` fixture). Kept small: the smoke model of the
session is reused for prediction; explain trains a smoke run on a copy of the sample.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from respirelib.apps.cli import main

SAMPLE_CLASSES = {"normal": 44, "crackle": 1, "wheeze": 4, "both": 0}
RECORDINGS = ("101_1b1_Al_sc_Meditron", "102_1b1_Ar_sc_Meditron", "103_2b2_Ar_mc_LittC2SE",
              "104_1b1_Al_sc_Litt3200", "104_1b1_Ll_sc_Litt3200", "104_1b1_Lr_sc_Litt3200")


def test_summary_reads_every_sample_format(audio_sample, capsys):
    assert main(["data", "summary", str(audio_sample), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["recordings"], summary["patients"], summary["cycles"]) == (6, 4, 49)
    assert summary["class_counts"] == SAMPLE_CLASSES
    assert summary["sample_rates"] == {"4000": 3, "44100": 3}
    assert summary["device_counts"] == {"AKGC417L": 0, "Meditron": 25, "LittC2SE": 6, "Litt3200": 18}


def test_verify_calls_the_sample_genuine_but_incomplete(audio_sample, capsys):
    assert main(["data", "verify", str(audio_sample), "--json"]) == 1  # most of the release is missing
    verdict = json.loads(capsys.readouterr().out)
    text = json.dumps(verdict)
    assert "modified" in text and "missing" in text
    from respirelib.data.verify import verify_icbhi

    result = verify_icbhi(audio_sample)
    counts = result.to_dict()["counts"]
    assert counts["genuine"] == 12 and counts["modified"] == 0  # six recordings, each wav + txt


def test_cycle_cache_holds_every_real_cycle_at_4_khz(audio_sample, tmp_path):
    from respirelib.config import AudioConfig
    from respirelib.data.icbhi import load_icbhi
    from respirelib.signal.cache import build_cycle_cache

    dataset = load_icbhi(audio_sample)
    cache = build_cycle_cache(dataset, config=AudioConfig(), cache_dir=tmp_path, workers=1, progress=False)
    assert cache.sr == 4000 and len(cache) == 49
    expected = np.round(dataset.cycles["end"] * 4000).astype(int) - np.round(dataset.cycles["start"] * 4000).astype(int)
    lengths = np.diff(cache.offsets)
    assert np.all(np.abs(lengths - expected.to_numpy()) <= 1)
    assert np.isfinite(cache.waves).all() and np.abs(cache.waves).max() <= 1.0


@pytest.fixture(scope="module")
def smoke_model_file(smoke_run, tmp_path_factory):
    from respirelib.inference.export import export_model

    model_file, _ = export_model(smoke_run, tmp_path_factory.mktemp("real-audio") / "model.pt")
    return model_file


def test_predict_with_annotations_auto_on_the_sample(audio_sample, smoke_model_file, tmp_path, capsys):
    out = tmp_path / "predictions.json"
    recordings = [str(audio_sample / f"{name}.wav") for name in RECORDINGS]
    assert main(["predict", *recordings, "--model", str(smoke_model_file), "--annotations", "auto",
                 "--json", str(out)]) == 0
    capsys.readouterr()
    results = json.loads(out.read_text())["recordings"]
    rows = [row for result in results for row in result["rows"]]
    assert len(rows) == 49
    assert {row["true_label"] for row in rows} == {"normal", "crackle", "wheeze"}
    assert {result["sample_rate"] for result in results} == {4000, 44100}


@pytest.mark.slow
def test_explain_a_real_crackle(audio_sample, tmp_path):
    """A smoke run trained on a copy of the sample (a test split: patients 101-103 train, 104 test)."""
    from respirelib.experiments.run import train_run

    folder = tmp_path / "sample"
    shutil.copytree(audio_sample, folder)
    (folder / "ICBHI_challenge_train_test.txt").write_bytes("".join(
        f"{name}\t{'test' if name.startswith('104') else 'train'}\r\n" for name in RECORDINGS).encode())
    run_dir = train_run(folder, tmp_path / "run", profile="smoke", init="random", seed=0, progress=False)
    figure = tmp_path / "crackle.png"
    assert main(["explain", "--run", str(run_dir), "--cycle", "104_1b1_Ll_sc_Litt3200:4", "--out", str(figure),
                 "--device", "cpu"]) == 0
    assert figure.stat().st_size > 10_000


@pytest.mark.notebook
@pytest.mark.parametrize("number", ["01", "02", "03"])
def test_notebooks_01_to_03_on_the_sample(number, audio_sample, tiny_synthetic, tmp_path):
    from respirelib.apps.notebooks import execute_notebook

    parameters = {"data_dir": str(audio_sample), "profile": "smoke", "seed": 0, "device": "cpu",
                  "run_dir": str(tmp_path), "figures_dir": str(tmp_path / "figures")}
    if number == "01":
        parameters["synthetic_dir"] = str(tiny_synthetic)
    execute_notebook(number, tmp_path, parameters, progress=False)
    figures = {p.stem for p in (tmp_path / "figures").glob("*.png")}
    if number == "01":
        summary = json.loads((tmp_path / "01_dataset_summary.json").read_text())
        assert summary["cycles"] == 49 and summary["class_counts"] == SAMPLE_CLASSES
        realism = summary["realism"]
        from respirelib.signal.realism import RealismConfig

        # Every statistic on each of the sample's three devices.
        assert realism["compared"] == 3 * len(RealismConfig().statistics) == 39
        assert realism["devices"] == ["Litt3200", "LittC2SE", "Meditron"]
        # Real examples of each class the sample has; none of "both".
        assert realism["real_examples"]["both"] is None
        assert all(realism["real_examples"][name] for name in ("normal", "crackle", "wheeze"))
        assert {"01_realism_spectra", "01_realism_statistics", "01_real_vs_synthetic_wheeze"} <= figures
    else:
        assert figures, f"notebook {number} wrote no figure"
