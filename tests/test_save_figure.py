"""The one figure writer: a figure of synthetic data is stamped so, and its PNG records the data."""

from __future__ import annotations

import matplotlib.figure
from PIL import Image

from respirelib.viz.save import STAMP, save_figure


def _texts(fig) -> list[str]:
    return [text.get_text() for text in fig.findobj(matplotlib.text.Text) if text.get_text()]


def test_a_synthetic_figure_is_stamped_once_and_its_png_says_so(tmp_path):
    plain = matplotlib.figure.Figure()
    plain.subplots().plot([0, 1])
    (path,) = save_figure(plain, "plain", out_dir=tmp_path, data_label="synthetic")
    assert STAMP in _texts(plain)
    assert Image.open(path).info["Description"] == "data: synthetic"

    titled = matplotlib.figure.Figure()
    titled.subplots().set_title("counts (synthetic data)")
    save_figure(titled, "titled", out_dir=tmp_path, data_label="synthetic")
    assert STAMP not in _texts(titled)  # it already says so

    real = matplotlib.figure.Figure()
    real.subplots()
    (path,) = save_figure(real, "real", out_dir=tmp_path, data_label="ICBHI 2017, verified")
    assert STAMP not in _texts(real) and Image.open(path).info["Description"] == "data: ICBHI 2017, verified"
