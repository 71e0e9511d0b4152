"""The one place that writes figures, so every saved figure has the same size rules and says its data."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.figure
import matplotlib.text

DEFAULT_DPI = 120
SYNTHETIC = "synthetic"
STAMP = "synthetic data"
# The PNG text chunk that records which data a figure shows (read back by tests and viewers).
DATA_KEY = "Description"


def stamp_synthetic(fig: matplotlib.figure.Figure) -> bool:
    """Write "synthetic data" in the figure's lower right corner unless some text of it already says synthetic.

    Returns whether a stamp was added.
    """
    if any(SYNTHETIC in text.get_text().lower() for text in fig.findobj(matplotlib.text.Text)):
        return False
    fig.text(0.995, 0.005, STAMP, ha="right", va="bottom", fontsize=9, color="crimson")
    return True


def save_figure(fig: matplotlib.figure.Figure, name: str, *, out_dir: str | Path = "figures",
                dpi: int = DEFAULT_DPI, formats: tuple[str, ...] = ("png",),
                data_label: str | None = None) -> list[Path]:
    """Save ``fig`` as ``out_dir/name.<format>`` for each format; return the paths written.

    The figure keeps its own size (set it where the figure is made); ``dpi`` and a
    tight bounding box are fixed here so figures from different notebooks match.
    ``data_label`` names the data the figure shows (a dataset's ``data_label``): a figure of
    ``"synthetic"`` data is stamped so (:func:`stamp_synthetic`) and a PNG records it in its
    ``Description`` text chunk as ``"data: <data_label>"``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if data_label == SYNTHETIC:
        stamp_synthetic(fig)
    written = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        metadata = {DATA_KEY: f"data: {data_label}"} if data_label is not None and fmt == "png" else None
        fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata=metadata)
        written.append(path)
    return written


def inline_jpeg(fig: matplotlib.figure.Figure, *, dpi: int = DEFAULT_DPI, quality: int = 85):
    """``fig`` as a JPEG for a notebook to display, for figures that compress poorly as PNG (heat maps).

    A Grad-CAM++ gallery weighs about 0.4 MB as an inline PNG and a quarter of that as a JPEG; the PNG that
    :func:`save_figure` writes keeps every pixel. Returns an :class:`IPython.display.Image`.
    """
    from IPython.display import Image  # here: the command line never needs IPython

    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=dpi, bbox_inches="tight", pil_kwargs={"quality": quality})
    return Image(data=buffer.getvalue(), format="jpeg")
