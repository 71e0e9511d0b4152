"""Figures of results: words in legends and titles, the data stamp clear of the bars, error bars, one class palette."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from respirelib import paper
from respirelib.config import CLASS_NAMES
from respirelib.viz.colours import CLASS_COLOURS
from respirelib.viz.predict import plot_prediction_timeline
from respirelib.viz.results import plot_device_gains


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_device_gains_have_error_bars_over_seeds_and_the_stamp_clears_the_na_labels():
    changes = pd.DataFrame({"device": ["AKGC417L"] * 3 + ["Meditron"] * 3 + ["LittC2SE"] * 3,
                            "score_change": [1.0, 3.0, 2.0, -1.0, 4.0, 0.5, np.nan, np.nan, np.nan]})
    fig = plot_device_gains(changes, paper.TABLE_III, data_label="synthetic", init="random init")
    ax = fig.axes[0]
    ours = next(c for c in ax.containers if "this run" in str(c.get_label()))
    assert ours.errorbar is not None  # error bars drawn
    segments = ours.errorbar.lines[2][0].get_segments()
    spreads = sorted(round(abs(s[1][1] - s[0][1]) / 2, 6) for s in segments if len(s) == 2 and np.isfinite(s).all())
    assert spreads[:2] == sorted(round(float(np.std(v, ddof=1)), 6) for v in ([1, 3, 2], [-1, 4, 0.5]))
    assert "mean ± std over 3 seeds" in ours.get_label()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    stamp = fig._supxlabel
    assert stamp.get_text() == "synthetic data, random init"
    labels = [t for t in ax.texts if t.get_text() == "n/a"]
    assert len(labels) == 2  # LittC2SE and Litt3200
    assert not any(_overlap(stamp.get_window_extent(renderer), t.get_window_extent(renderer)) for t in labels)
    assert "paper (real ICBHI)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_prediction_timeline_draws_cycles_true_labels_the_stamp_and_the_one_palette():
    sr = 100
    table = pd.DataFrame({"cycle": [0, 1], "start": [0.5, 2.0], "end": [2.0, 3.5], "class": ["normal", "wheeze"],
                          **{f"p_{name}": [0.7, 0.1] if name == "normal" else [0.1, 0.3] for name in CLASS_NAMES},
                          "true_label": ["crackle", "wheeze"]})
    fig = plot_prediction_timeline(np.sin(np.arange(4 * sr) / 3.0), sr=sr, table=table,
                                   title="Recording 101 (Meditron stethoscope)", data_label="synthetic")
    wave_ax, prob_ax = fig.axes[:2]
    assert fig._supxlabel.get_text() == "model trained on synthetic data"
    assert fig._suptitle.get_text().startswith("Recording 101")
    assert "cycle boundaries" in wave_ax.get_title(loc="right") and "true" in wave_ax.get_title(loc="right")
    assert [t.get_text() for t in wave_ax.texts] == ["crackle", "wheeze"]  # the annotated classes
    colours = {line.get_label(): line.get_color() for line in prob_ax.get_lines() if line.get_label() in CLASS_NAMES}
    assert colours == CLASS_COLOURS  # the same colour per class as notebook 01's figures


def test_one_class_palette_for_every_figure():
    import respirelib.viz.data as data_figures
    import respirelib.viz.signal as signal_figures

    assert not hasattr(data_figures, "CLASS_COLORS")
    assert data_figures.CLASS_COLOURS is CLASS_COLOURS and signal_figures.CLASS_COLOURS is CLASS_COLOURS
    sources = [p.read_text() for p in Path(data_figures.__file__).parent.glob("*.py") if p.name != "colours.py"]
    assert not any("CLASS_COLOURS = " in text or "CLASS_COLORS = " in text for text in sources)


def test_prediction_title_in_words():
    from respirelib.inference.predict import PredictionResult

    result = PredictionResult(recording=Path("/x/101_1b1_Al_sc_Meditron.wav"), kind="cycles", table=pd.DataFrame(),
                              model_used="stage2:Meditron", device_name="Meditron", device_source="file name",
                              note="", info=None, signal=np.zeros(1), signal_sr=4000)
    assert result.title() == ("Recording 101_1b1_Al_sc_Meditron (Meditron stethoscope), read by the model "
                              "fine-tuned for the Meditron stethoscope")
    result.model_used, result.device_name = "stage1", None
    assert result.title().endswith("(device unknown), read by the stage-1 model (all devices)")
