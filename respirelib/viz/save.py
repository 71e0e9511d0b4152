"""The one place that writes figures, so every saved figure has the same size rules."""

from __future__ import annotations

from pathlib import Path

import matplotlib.figure

DEFAULT_DPI = 120


def save_figure(fig: matplotlib.figure.Figure, name: str, *, out_dir: str | Path = "figures",
                dpi: int = DEFAULT_DPI, formats: tuple[str, ...] = ("png",)) -> list[Path]:
    """Save ``fig`` as ``out_dir/name.<format>`` for each format; return the paths written.

    The figure keeps its own size (set it where the figure is made); ``dpi`` and a
    tight bounding box are fixed here so figures from different notebooks match.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        written.append(path)
    return written
