"""Export a smoke-trained run to one file and predict new recordings with it (API and command line)."""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from respirelib.data.annotations import label_from_flags, parse_annotation_file
from respirelib.data.audio import read_audio
from respirelib.config import CLASS_NAMES
from respirelib.errors import AudioError, DataError
from respirelib.apps.cmd_export import add_export_arguments, run_export_command
from respirelib.apps.cmd_predict import add_predict_arguments, run_predict_command
from respirelib.inference.export import CARD_NAME, FORMAT_NAME, MODEL_NAME, export_model, load_exported_model
from respirelib.signal.padding import window_starts
from respirelib.inference.predict import PROBABILITY_COLUMNS, predict_recording

pytestmark = pytest.mark.slow
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class NotPlainData:
    """A pickled instance of this class must never be loaded from a model file."""


@pytest.fixture(scope="module")
def model(model_file):
    return load_exported_model(model_file)


@pytest.fixture(scope="module")
def payload(model_file):
    return torch.load(model_file, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def uniform_recording(smoke_run):
    """A test recording whose cycles MIX classes, and its evaluation scores.

    (Named for history: the fixture once picked a single-class recording, which hid that
    the evaluation padded with the test labels and prediction could not.)
    """
    table = pd.read_csv(smoke_run / "metrics_finetuned_predictions.csv")
    classes = table.groupby("recording")["label_id"].nunique()
    assert (classes > 1).any(), "the tiny synthetic test split should hold a recording that mixes classes"
    name = classes[classes > 1].index[0]
    return name, table[table["recording"] == name].sort_values("cycle_index")


def _probabilities(table: pd.DataFrame) -> np.ndarray:
    return table[list(PROBABILITY_COLUMNS)].to_numpy(float)


def _assert_probabilities(table: pd.DataFrame) -> None:
    probs = _probabilities(table)
    assert np.all((probs >= 0) & (probs <= 1))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert list(table["class"]) == [CLASS_NAMES[i] for i in probs.argmax(axis=1)]


# ----------------------------------------------------------------------------- export

def test_export_holds_weights_configs_metrics_and_provenance(smoke_run, payload, model):
    assert payload["format"] == FORMAT_NAME and payload["label_map"] == list(CLASS_NAMES)
    statuses = json.loads((smoke_run / "stage2" / "devices.json").read_text())
    trained = {name for name, status in statuses.items() if status["status"] == "trained"}
    assert set(payload["devices"]) == trained == set(model.devices) and trained
    best = torch.load(smoke_run / "stage1" / "checkpoints" / "best.pt", weights_only=True)["model"]
    for name, tensor in best.items():
        assert torch.equal(tensor, payload["stage1"][name]), name
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    assert payload["metrics"]["stage1"]["four_class"] == metrics["four_class"]
    assert payload["metrics"]["finetuned"] is not None
    request = json.loads((smoke_run / "run.json").read_text())
    assert payload["data"]["fingerprint"] == request["provenance"]["data"]["fingerprint"]
    assert payload["data"]["synthetic"] is True and payload["training"]["init"] == "random init"
    assert payload["provenance"]["trained_with_commit"] == request["provenance"]["commit"]
    assert model.audio.cycle_duration == request["config"]["audio"]["cycle_duration"]


def test_model_card_states_data_protocol_and_limits(model_file, payload):
    card = (model_file.parent / CARD_NAME).read_text()
    assert card == payload["card"]
    for phrase in ("SYNTHETIC", "not a medical device", "random init", "`smoke`", "not the paper's schedule",
                   "Se = (Pc + Pw + Pb) / (Nc + Nw + Nb)", "validation patients", "test split is used once",
                   "built without labels", "95% confidence intervals from a patient-level bootstrap"):
        assert phrase.lower() in card.lower(), phrase
    assert payload["metrics"]["stage1"]["ci"]["n_resamples"] >= 1000
    metrics_table = card.split("## Metrics")[1]
    assert "[" in metrics_table.split("Per device")[0].split("| stage 1 |")[1]  # numbers carry their intervals
    summary = payload["data"]["summary"]
    assert summary["available"] and summary["sample_rates"]
    for device in summary["per_device"]:
        assert device in card.split("## Known limits")[1]
    for rate in summary["sample_rates"]:
        assert f"{rate} Hz" in card


def test_export_never_overwrites_without_asking(smoke_run, model_file):
    before = model_file.stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="overwrite"):
        export_model(smoke_run, model_file)
    # The card alone blocks too: each folder holds one MODEL_CARD.md.
    with pytest.raises(FileExistsError, match=CARD_NAME):
        export_model(smoke_run, model_file.with_name("other.pt"))
    assert model_file.stat().st_mtime_ns == before


def test_export_command(smoke_run, tmp_path, capsys):
    parser = add_export_arguments(argparse.ArgumentParser())
    out = tmp_path / "cli" / "model.pt"
    args = parser.parse_args([str(smoke_run), str(out)])
    assert args.func(args) == 0 and out.is_file() and (out.parent / CARD_NAME).is_file()
    assert "SYNTHETIC data" in capsys.readouterr().out
    with pytest.raises(FileExistsError):
        run_export_command(parser.parse_args([str(smoke_run), str(out)]))
    assert run_export_command(parser.parse_args([str(smoke_run), str(out), "--overwrite"])) == 0


def test_export_into_a_folder(smoke_run, tmp_path, capsys):
    """A newcomer's `respirenet export RUN models`: the model and its card land together in models/."""
    parser = add_export_arguments(argparse.ArgumentParser())
    for out in (tmp_path / "models", tmp_path / "existing"):
        if out.name == "existing":
            out.mkdir()
        assert run_export_command(parser.parse_args([str(smoke_run), str(out)])) == 0
        assert sorted(path.name for path in out.iterdir()) == sorted([CARD_NAME, MODEL_NAME])
        assert load_exported_model(out / MODEL_NAME).training["run_dir"] == str(smoke_run.resolve())
        assert f"model file: {out / MODEL_NAME}" in capsys.readouterr().out
    assert not (tmp_path / CARD_NAME).exists()


# ----------------------------------------------------------------------------- tampered model files

def _tamper(payload: dict, path, **changes) -> None:
    """Save a stage-1-only copy of ``payload`` with ``changes`` (small, so the tests stay fast)."""
    tampered = {**payload, "devices": {}, **changes}
    torch.save(tampered, path)


@pytest.mark.parametrize("change, message", [
    (lambda p: {"audio": {**p["audio"], "dither": 0.1}}, "cannot honour: dither"),
    (lambda p: {"model": {**p["model"], "backbone": "vgg16"}}, "backbone must be one of"),
    (lambda p: {"features": {**p["features"], "sample_rate": 2000}}, "feature configuration cannot be honoured"),
    (lambda p: {"audio": {**p["audio"], "sample_rate": 8000}}, "features expect 4000 Hz"),
    (lambda p: {"features": {**p["features"], "colormap": "no-such-map"}}, "cannot be run.*no-such-map"),
    (lambda p: {"audio": {**p["audio"], "resample_type": "no-such-resampler"}}, "cannot be run"),
    (lambda p: {"format_version": 99}, "newer respirelib"),
    (lambda p: {"format": "something-else"}, "not a respirenet model file"),
    (lambda p: {"label_map": ["normal", "abnormal"]}, "label map"),
    (lambda p: {"stage1": {k: v for k, v in p["stage1"].items() if not k.startswith("head")}}, "do not fit"),
    (lambda p: {"devices": {"Meditron": {"x": torch.zeros(1)}}}, "Meditron weights"),
    (lambda p: {"extra": 1}, "unknown entries extra"),
])
def test_a_tampered_model_file_is_refused_naming_the_problem(payload, tmp_path, change, message):
    path = tmp_path / "tampered.pt"
    _tamper(payload, path, **change(payload))
    with pytest.raises(DataError, match=message) as error:
        load_exported_model(path)
    assert str(path) in str(error.value)


def test_model_files_load_without_running_code(payload, tmp_path):
    path = tmp_path / "pickled.pt"
    _tamper(payload, path, card=NotPlainData())
    with pytest.raises(DataError, match="could run code") as error:
        load_exported_model(path)
    assert str(path) in str(error.value)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(DataError, match="not a respirenet model file"):
        load_exported_model(garbage)


# ----------------------------------------------------------------------------- predict (API)

def test_annotated_prediction_equals_the_runs_evaluation(model, tiny_synthetic, uniform_recording, smoke_run):
    name, expected = uniform_recording
    assert expected["label_id"].nunique() > 1  # a recording that mixes classes
    result = predict_recording(model, tiny_synthetic / f"{name}.wav", annotations=tiny_synthetic / f"{name}.txt")
    device = name.rsplit("_", 1)[1]
    expected_model = f"stage2:{device}" if device in model.devices else "stage1"
    assert result.kind == "cycles" and result.model_used == expected_model and result.device_source == "file name"
    assert len(result.table) == len(expected)
    _assert_probabilities(result.table)
    np.testing.assert_allclose(_probabilities(result.table), _probabilities(expected), atol=1e-6)
    cycles, _ = parse_annotation_file(tiny_synthetic / f"{name}.txt")
    assert list(result.table["true_label"]) == list(label_from_flags(cycles["crackle"], cycles["wheeze"]))
    # An unknown device falls back to stage 1, whose scores are the stage-1 evaluation's.
    stage1 = pd.read_csv(smoke_run / "metrics_predictions.csv")
    stage1 = stage1[stage1["recording"] == name].sort_values("cycle_index")
    fallback = predict_recording(model, tiny_synthetic / f"{name}.wav", annotations=tiny_synthetic / f"{name}.txt",
                                 device_name="PhoneMic")
    assert fallback.model_used == "stage1" and "PhoneMic" in fallback.note
    np.testing.assert_allclose(_probabilities(fallback.table), _probabilities(stage1), atol=1e-6)


def test_sliding_windows_cover_the_recording(model, tiny_synthetic, uniform_recording):
    name, _ = uniform_recording
    path = tiny_synthetic / f"{name}.wav"
    result = predict_recording(model, path, hop_seconds=1.0)
    duration = result.info.duration
    n_target = model.audio.n_samples
    expected_starts = window_starts(len(result.signal), n_target=n_target, hop=model.audio.sample_rate)
    assert result.kind == "windows"
    np.testing.assert_allclose(result.table["start"], expected_starts / model.audio.sample_rate)
    assert result.table["end"].iloc[-1] == pytest.approx(duration, abs=1e-3)
    assert not result.table["padded"].any()
    _assert_probabilities(result.table)
    default_hop = predict_recording(model, path)
    assert np.diff(default_hop.table["start"])[0] == pytest.approx(model.audio.window_hop * model.audio.cycle_duration)


def test_any_rate_any_channels_wav_or_flac(model, tiny_synthetic, uniform_recording, tmp_path):
    name, _ = uniform_recording
    y, sr = read_audio(tiny_synthetic / f"{name}.wav")
    mono = tmp_path / "mono.wav"
    stereo = tmp_path / "stereo.flac"
    sf.write(mono, y, sr, subtype="PCM_16")
    sf.write(stereo, np.column_stack([y, y]), sr, subtype="PCM_16")
    from_mono, from_stereo = predict_recording(model, mono), predict_recording(model, stereo)
    assert from_stereo.info.channels == 2 and from_mono.model_used == "stage1" and from_mono.device_name is None
    np.testing.assert_allclose(_probabilities(from_mono.table), _probabilities(from_stereo.table), atol=1e-6)
    # An odd rate, shorter than one input: resampled, repeated to fill the window.
    short = tmp_path / "short_22050.flac"
    sf.write(short, np.random.default_rng(0).normal(0, 0.1, (22050, 3)), 22050)
    fine_tuned = model.devices[0]  # stage 2 keeps a model only for devices with validation cycles
    result = predict_recording(model, short, device_name=fine_tuned)
    assert len(result.table) == 1 and bool(result.table["padded"].iloc[0])
    assert result.model_used == f"stage2:{fine_tuned}" and result.device_source == "argument"
    _assert_probabilities(result.table)


def test_two_column_annotations_and_timeline_figure(model, tiny_synthetic, uniform_recording, tmp_path):
    name, _ = uniform_recording
    cycles, _ = parse_annotation_file(tiny_synthetic / f"{name}.txt")
    plain = tmp_path / "cycles.txt"
    plain.write_text("".join(f"{s} {e}\n" for s, e in zip(cycles["start"], cycles["end"])))
    result = predict_recording(model, tiny_synthetic / f"{name}.wav", annotations=plain)
    assert "true_label" not in result.table and len(result.table) == len(cycles)
    fig = result.figure()
    waveform, probabilities = fig.axes
    assert probabilities.get_xlabel() == "time (s)"
    assert len(probabilities.get_lines()) == len(CLASS_NAMES)
    path = tmp_path / "timeline.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == PNG_MAGIC


# ----------------------------------------------------------------------------- predict errors

def test_unreadable_audio_is_named(model, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEnot audio")
    with pytest.raises(AudioError, match="broken.wav"):
        predict_recording(model, broken)


def test_predict_refuses_audio_that_is_not_finite_and_writes_nothing(model_file, tiny_synthetic, uniform_recording,
                                                                     tmp_path, capsys):
    from respirelib.apps.cli import main

    name, _ = uniform_recording
    y, sr = sf.read(tiny_synthetic / f"{name}.wav", dtype="float32")
    y[len(y) // 2] = np.nan
    broken = tmp_path / "nan.wav"
    sf.write(broken, y, sr, subtype="FLOAT")
    out = tmp_path / "out"
    code = main(["predict", str(tiny_synthetic / f"{name}.wav"), str(broken), "--model", str(model_file),
                 "--json", str(out / "p.json"), "--csv", str(out / "p.csv"), "--figures", str(out / "figures")])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert f"respirenet: error: {broken}: 1 of {len(y)} samples are not finite" in captured.err
    assert not out.exists()


def test_annotations_outside_the_audio_name_file_and_line(model, tiny_synthetic, uniform_recording, tmp_path):
    name, _ = uniform_recording
    wav = tiny_synthetic / f"{name}.wav"
    late = tmp_path / "late.txt"
    late.write_text("0.5\t1.5\t0\t0\n\n1.5\t999\t1\t0\n")
    with pytest.raises(DataError, match=r"late\.txt:3: .*outside the audio") as error:
        predict_recording(model, wav, annotations=late)
    assert name in str(error.value)
    bad = tmp_path / "bad.txt"
    bad.write_text("0.5 1.5 0 0\n1.5 2.5 2 0\n")
    with pytest.raises(DataError, match=r"bad\.txt:2: crackle/wheeze flags"):
        predict_recording(model, wav, annotations=bad)


# ----------------------------------------------------------------------------- predict (command line)

def _predict_args(*argv) -> argparse.Namespace:
    return add_predict_arguments(argparse.ArgumentParser()).parse_args([str(a) for a in argv])


def test_predict_command_writes_json_csv_and_figures_but_never_over_them(model_file, tiny_synthetic,
                                                                       uniform_recording, tmp_path, capsys):
    name, expected = uniform_recording
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for suffix in (".wav", ".txt"):
        shutil.copy(tiny_synthetic / f"{name}{suffix}", recordings / f"{name}{suffix}")
    unnamed = recordings / "my_recording.wav"
    shutil.copy(tiny_synthetic / f"{name}.wav", unnamed)
    out = tmp_path / "out"

    annotated = _predict_args(recordings / f"{name}.wav", "--model", model_file, "--annotations", "auto",
                              "--csv", out / "cycles.csv")
    assert run_predict_command(annotated) == 0
    rows = pd.read_csv(out / "cycles.csv")
    assert len(rows) == len(expected) and set(rows["kind"]) == {"cycle"}
    assert (out / f"cycles_{name}_timeline.png").read_bytes()[:8] == PNG_MAGIC

    fine_tuned = load_exported_model(model_file).devices[0]
    windows = _predict_args(unnamed, recordings / f"{name}.wav", "--model", model_file, "--stethoscope", fine_tuned,
                            "--json", out / "windows.json", "--figures", out / "figures")
    assert run_predict_command(windows) == 0
    document = json.loads((out / "windows.json").read_text())
    assert document["model"]["synthetic"] is True and document["model"]["not_a_medical_device"] is True
    assert [r["kind"] for r in document["recordings"]] == ["windows", "windows"]
    assert {r["model_used"] for r in document["recordings"]} == {f"stage2:{fine_tuned}"}
    assert all(abs(sum(row[c] for c in PROBABILITY_COLUMNS) - 1) < 1e-5
               for r in document["recordings"] for row in r["rows"])
    for stem in ("my_recording", name):
        assert (out / "figures" / f"{stem}_timeline.png").read_bytes()[:8] == PNG_MAGIC
    assert "SYNTHETIC" in capsys.readouterr().out

    before = {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.is_file()}
    with pytest.raises(FileExistsError, match="nothing was written"):
        run_predict_command(windows)
    assert before == {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.is_file()}
    windows.overwrite = True
    assert run_predict_command(windows) == 0
    assert (out / "windows.json").stat().st_mtime_ns > before[out / "windows.json"]


def test_predict_command_prints_a_table(model_file, tiny_synthetic, uniform_recording, capsys):
    name, expected = uniform_recording
    args = _predict_args(tiny_synthetic / f"{name}.wav", "--model", model_file,
                         "--annotations", tiny_synthetic / f"{name}.txt")
    assert run_predict_command(args) == 0
    printed = capsys.readouterr().out
    device = name.rsplit("_", 1)[1]
    expected_model = f"stage2:{device}" if device in load_exported_model(model_file).devices else "stage1"
    assert "p_crackle" in printed and "true_label" in printed and expected_model in printed
    with pytest.raises(ValueError, match="one per recording"):
        run_predict_command(_predict_args(tiny_synthetic / f"{name}.wav", tiny_synthetic / f"{name}.wav",
                                          "--model", model_file, "--annotations", tiny_synthetic / f"{name}.txt"))
