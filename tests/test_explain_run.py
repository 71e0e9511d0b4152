"""Explaining a trained run: model inputs, the make_images contract, maps per cycle, galleries, Fig. 3, CLI file."""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
import torch

from respirelib.config import CLASS_NAMES
from respirelib.experiments.run import load_run, train_run
from respirelib.explain.gradcam import map_axes
from respirelib.explain.cycles import (
    STAGE1_CHECKPOINT, blank_band_experiment, cycle_figure, explain_cycle_to_file, explain_cycles,
    find_cycle_row, gallery_rows, load_model, make_images_for, model_inputs, run_predictions,
)
from respirelib.signal.samples import evaluation_set
from respirelib.apps.cmd_explain import add_explain_arguments
from respirelib.explain.explorer import build_explorer, explorer_options, render_cycle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    threads = torch.get_num_threads()
    # One thread: on a machine shared with other jobs, two spinning OpenMP threads per
    # small convolution are many times slower than one.
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")  # for subprocesses: a notebook's kernel
        patch.setenv("RESPIRENET_CACHE", str(tmp_path_factory.getbasetemp() / "cycle-cache"))
        patch.setenv("RESPIRENET_OFFLINE", "1")
        patch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch-home"))
        yield
    torch.set_num_threads(threads)


def smoke_run_dir(data_dir: Path, tmp_path_factory) -> Path:
    """One smoke-profile run per test session, shared with test_notebook_06 (training is the slow part)."""
    run_dir = tmp_path_factory.getbasetemp() / "explain-smoke-run"
    if not (run_dir / STAGE1_CHECKPOINT).is_file():
        train_run(data_dir, run_dir, profile="smoke", init="random", seed=0, progress=False)
    return run_dir


@pytest.fixture(scope="module")
def run(environment, tiny_synthetic, tmp_path_factory):
    return load_run(smoke_run_dir(tiny_synthetic, tmp_path_factory), device="cpu", progress=False)


@pytest.fixture(scope="module")
def model(run):
    return load_model(run)


def first_windows(run, rows) -> np.ndarray:
    samples = evaluation_set(run.prepared.cache, rows, config=run.profile.audio)
    first = pd.Series(np.arange(len(samples))).groupby(samples.cycle_rows).first()
    return samples.waves.numpy()[first.loc[rows].to_numpy()]


def test_model_inputs_are_the_evaluation_inputs(run):
    rows = run.prepared.rows("test")
    inputs = model_inputs(run, rows)
    np.testing.assert_array_equal(inputs.waves, first_windows(run, rows))
    lengths = np.array([len(run.prepared.cache.cycle(row)) for row in rows])
    n_target = run.profile.audio.n_samples
    long = lengths > n_target
    assert long.any() and (~long).any()  # both branches are exercised
    np.testing.assert_array_equal(inputs.own.sum(axis=1), np.minimum(lengths, n_target))
    assert np.all(inputs.n_windows[long] >= 2) and np.all(inputs.n_windows[~long] == 1)
    with pytest.raises(KeyError, match="no cycle rows"):
        model_inputs(run, [10**6])


def test_make_images_contract(run):
    rows = run.prepared.rows("test")
    make_images = make_images_for(run)
    plain, n_blank = make_images(rows, False)
    clipped, n_blank_clip = make_images(rows, True)
    config = run.profile.features
    assert plain.shape == clipped.shape == (len(rows), 3, config.n_mels, config.n_frames(run.profile.audio.n_samples))
    assert n_blank.shape == (len(rows),)
    assert torch.equal(n_blank, n_blank_clip)
    blank = (n_blank > 0).numpy()
    assert blank.any() and (~blank).any()
    changed = (plain != clipped).flatten(1).any(dim=1).numpy()
    np.testing.assert_array_equal(changed, blank)  # clipping touches exactly the cycles with a blank band
    # The same images the run's own frontend makes from the evaluation inputs.
    waves = torch.from_numpy(first_windows(run, rows))
    with torch.no_grad():
        expected = run.frontend(run.profile.stage1)(waves, clip=True)
    torch.testing.assert_close(clipped, expected)
    from_waves, _ = make_images(waves, True)
    torch.testing.assert_close(from_waves, clipped)
    with pytest.raises(TypeError, match="cycle rows"):
        make_images(np.array(["a", "b"]), False)


def test_explain_cycles_matches_the_predictions(run, model):
    rows = run.prepared.rows("test")[:12]
    explained = explain_cycles(run, rows, model=model)
    n, height, width = explained.maps.shape
    assert n == 12 and explained.images.shape == (12, 3, height, width)
    assert explained.maps.min() >= 0 and explained.maps.max() <= 1
    assert explained.freqs_hz.shape == (12, height) and explained.times_s.shape == (width,)
    assert explained.times_s[-1] == pytest.approx(run.profile.audio.cycle_duration, abs=0.1)
    np.testing.assert_array_equal(explained.targets, explained.predicted)
    np.testing.assert_allclose(explained.probabilities.sum(axis=1), 1, atol=1e-5)
    # One window per cycle: its probabilities are the cycle's, as evaluation scores it.
    table = run_predictions(run, model=model).set_index("cycle_row").loc[rows]
    single = explained.inputs.n_windows == 1
    assert single.any()
    expected = table[[f"p_{name}" for name in CLASS_NAMES]].to_numpy()
    np.testing.assert_allclose(explained.probabilities[single], expected[single], atol=1e-5)

    fixed = explain_cycles(run, rows[:3], model=model, targets=2, clip=False)
    np.testing.assert_array_equal(fixed.targets, [2, 2, 2])
    _, unclipped = map_axes(fixed.images.shape, feature_config=run.profile.features,
                            n_samples=run.profile.audio.n_samples)
    np.testing.assert_allclose(fixed.freqs_hz, np.broadcast_to(unclipped, fixed.freqs_hz.shape))


def test_clipped_cycles_get_their_own_frequency_axis(run, model):
    rows = run.prepared.rows("test")
    devices = run.prepared.dataset.cycles.loc[rows, "device"].astype(str).to_numpy()
    row = rows[devices == "Litt3200"][:1]
    explained = explain_cycles(run, row, model=model, clip=True)
    assert explained.n_blank_rows[0] > 0
    assert explained.freqs_hz[0, -1] < explained.spec_freqs_hz[-1] - 100  # the blank top was cut
    assert not np.array_equal(explained.clipped[0], explained.spectrograms[0])


def test_the_frequency_axis_follows_the_rows_the_profiles_clipping_cut(run, model):
    """Under blank_level="mean" clipping cuts a quiet band as well as a blank one: the clipped image's rows
    are labelled by the rows actually cut, while n_blank_rows stays the paper's count."""
    import dataclasses

    zoomed = dataclasses.replace(run, profile=run.profile.with_overrides({"features": {"blank_level": "mean"}}))
    rows = run.prepared.rows("test")[:6]
    paper, mean = (explain_cycles(r, rows, model=model, clip=True) for r in (run, zoomed))
    np.testing.assert_array_equal(mean.n_blank_rows, paper.n_blank_rows)
    np.testing.assert_array_equal(paper.cut_rows, paper.n_blank_rows)
    assert (mean.cut_rows >= mean.n_blank_rows).all() and (mean.cut_rows > mean.n_blank_rows).any()
    for index, cut in enumerate(mean.cut_rows):
        _, expected = map_axes(mean.images.shape, feature_config=zoomed.profile.features,
                               n_samples=run.profile.audio.n_samples, n_blank_rows=int(cut))
        np.testing.assert_allclose(mean.freqs_hz[index], expected)
    assert cycle_figure(zoomed, mean, int(np.argmax(mean.cut_rows - mean.n_blank_rows))) is not None


def fake_predictions(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), [10, 6, 2, 5])
    preds = labels.copy()
    preds[rng.random(len(labels)) < 0.4] = 0
    preds[labels == 3] = 3  # no wrongly classified "both"
    rows = np.arange(100, 100 + len(labels))
    table = pd.DataFrame({"cycle_row": rows, "label_id": labels, "pred": preds})
    cycles = pd.DataFrame({"recording": [f"rec{row // 3}" for row in rows], "cycle_index": rows % 3,
                           "device": "Meditron"}, index=rows)
    return table, cycles


def test_gallery_rows_pick_right_and_wrong_per_class():
    table, cycles = fake_predictions()
    for correct in (True, False):
        picked = gallery_rows(table, cycles, per_class=3, correct=correct, seed=0)
        assert np.all((picked["pred"] == picked["label_id"]) == correct)
        available = table[(table["pred"] == table["label_id"]) == correct].groupby("label_id").size()
        counts = picked.groupby("label_id").size()
        np.testing.assert_array_equal(counts.reindex(available.index), np.minimum(available, 3))
        assert picked["cycle_row"].is_unique
        assert picked["name"].tolist() == [f"rec{r // 3}:{r % 3}" for r in picked["cycle_row"]]
    wrong = gallery_rows(table, cycles, per_class=3, correct=False)
    assert 3 not in set(wrong["label_id"])
    # Deterministic in the seed, independent of the table's order, and a new seed draws others.
    shuffled = table.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(gallery_rows(shuffled, cycles, correct=True, seed=5),
                                  gallery_rows(table, cycles, correct=True, seed=5))
    draws = {tuple(gallery_rows(table, cycles, per_class=2, seed=s)["cycle_row"]) for s in range(6)}
    assert len(draws) > 1
    assert gallery_rows(table, cycles, per_class=0).empty


def test_blank_band_experiment_per_device(run, model):
    summary, per_cycle = blank_band_experiment(run, run.prepared.rows("test"), max_per_device=3, model=model)
    assert summary["device"].iloc[-1] == "all"
    devices = summary.set_index("device")
    assert devices.loc["all", "n_total"] == len(run.prepared.rows("test"))
    assert devices.drop("all")["n_total"].sum() == devices.loc["all", "n_total"]
    assert np.all(devices["n_cycles"] <= devices["n_blank"])
    np.testing.assert_allclose(devices["blank_share"], devices["n_blank"] / devices["n_total"])
    assert np.all(devices.drop("all")["n_cycles"] <= 3)
    assert devices.loc["Litt3200", "n_cycles"] > 0 and devices.loc["AKGC417L", "n_blank"] == 0
    assert per_cycle["mass_before"].between(0, 1).all() and per_cycle["mass_after"].between(0, 1).all()
    np.testing.assert_array_equal(per_cycle["target_before"], per_cycle["label_id"])
    assert set(per_cycle["device"]) <= {"Litt3200", "Meditron"}


def test_explain_cycle_to_file_and_command(run, tmp_path):
    cycles = run.prepared.dataset.cycles
    row = run.prepared.rows("test")[0]
    name = f"{cycles.at[row, 'recording']}:{cycles.at[row, 'cycle_index']}"
    out = tmp_path / "figs" / "cycle.png"
    assert explain_cycle_to_file(run.run_dir, name, out, device="cpu") == out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    written = out.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        explain_cycle_to_file(run.run_dir, name, out, device="cpu")
    assert out.read_bytes() == written

    parser = add_explain_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--run", str(run.run_dir), "--cycle", name, "--out", str(out), "--overwrite",
                              "--layer", "backbone.layer3", "--device", "cpu"])
    assert args.func(args) == 0
    assert out.read_bytes() != written  # another layer, another map

    with pytest.raises(ValueError, match=r"no recording '101_1b1_Xx_sc_Nowhere'.*respirenet data summary"):
        explain_cycle_to_file(run.run_dir, "101_1b1_Xx_sc_Nowhere:0", tmp_path / "a.png", device="cpu")
    assert not (tmp_path / "a.png").exists()


def test_cycle_names_resolve_or_explain_what_is_valid(run):
    cycles = run.prepared.dataset.cycles
    row = run.prepared.rows("test")[5]
    recording, index = str(cycles.at[row, "recording"]), int(cycles.at[row, "cycle_index"])
    assert find_cycle_row(cycles, f"{recording}:{index}") == row
    last = int(cycles.loc[cycles["recording"] == recording, "cycle_index"].max())
    with pytest.raises(ValueError, match="Did you mean " + recording):
        find_cycle_row(cycles, recording[:-1] + ":0")
    with pytest.raises(ValueError, match=rf"{recording} has no cycle 999: its cycles are 0 to {last}"):
        find_cycle_row(cycles, f"{recording}:999")
    for bad in (recording, f"{recording}:x", ":3", f"{recording}:-1"):
        with pytest.raises(ValueError, match="RECORDING:CYCLE_INDEX"):
            find_cycle_row(cycles, bad)


def test_explorer_options_and_render(run, model):
    cycles, subset = run.prepared.dataset.cycles, run.prepared.subset
    options = explorer_options(cycles, subset, part="test", device="Litt3200", label="wheeze")
    rows = [row for _, row in options["cycles"]]
    assert options["devices"][0] == "all" and "Litt3200" in options["devices"]
    assert "LittC2SE" not in options["devices"]  # no test cycles from it in the official split
    assert rows and set(rows) <= set(run.prepared.rows("test", "Litt3200"))
    assert (cycles.loc[rows, "label_id"] == CLASS_NAMES.index("wheeze")).all()
    fallback = explorer_options(cycles, subset, part="val", device="Litt3200", label="wheeze")
    assert fallback["device"] == ("Litt3200" if "Litt3200" in fallback["devices"] else "all")
    assert set(row for _, row in fallback["cycles"]) <= set(run.prepared.rows("val"))

    fig = render_cycle(run, rows[0], model=model)
    assert isinstance(fig, matplotlib.figure.Figure)
    titles = " | ".join(ax.get_title() for ax in fig.axes)
    assert "Grad-CAM++" in titles and "Mel spectrogram" in titles and "clipping" in titles and "predicted" in titles
    assert "synthetic data" in fig.get_suptitle() and "random init" in fig.get_suptitle()


def test_explorer_degrades_to_a_static_view(run, model):
    """Without live widgets (GitHub, nbconvert, a terminal) the displayed explorer is its first player and figure."""
    import base64

    from IPython.core.formatters import DisplayFormatter

    explorer = build_explorer(run, parts=("test",), model=model)
    data, _ = DisplayFormatter().format(explorer)
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.model_id
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert "<audio" in data["text/html"] and data["image/png"] in data["text/html"]
    dropdowns = explorer.children[1].children
    assert [box.description for box in dropdowns] == ["part", "device", "class", "cycle"]
    assert dropdowns[3].value is not None and dropdowns[3].value == dropdowns[3].options[0][1]


def test_a_headless_run_shows_the_explorers_first_view_without_widgets(run, model, monkeypatch):
    """papermill's client imitates Output widgets on the kernel's shell channel, which can hang the run: a headless
    kernel shows the same first view as the widget's static copy, and no widget is created."""
    import ipywidgets
    from IPython.core.formatters import DisplayFormatter

    import respirelib.explain.explorer as explorer_module
    from respirelib.progressbar import HEADLESS_ENV

    widget_bundle, _ = DisplayFormatter().format(build_explorer(run, parts=("test",), model=model))
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects, **kwargs: shown.append((objects, kwargs)))
    created = []
    monkeypatch.setattr(ipywidgets.Widget, "open", lambda self: created.append(self))

    monkeypatch.setenv(HEADLESS_ENV, "1")
    explorer_module.show_explorer(run, parts=("test",), model=model)
    (bundle,), kwargs = shown.pop()
    assert kwargs == {"raw": True} and not created
    assert bundle["text/html"] == widget_bundle["text/html"] and bundle["image/png"] == widget_bundle["image/png"]

    monkeypatch.delenv(HEADLESS_ENV)
    explorer_module.show_explorer(run, parts=("test",), model=model)
    (box,), _ = shown.pop()
    assert isinstance(box, explorer_module.ExplorerBox) and created
