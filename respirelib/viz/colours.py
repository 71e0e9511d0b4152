"""The one colour of each class, used by every figure (seaborn's "deep" palette, as notebook 01 first shows it)."""

from __future__ import annotations

from respirelib.config import CLASS_NAMES

CLASS_COLOURS = dict(zip(CLASS_NAMES, ("#4c72b0", "#dd8452", "#55a868", "#c44e52")))
"""Class name -> colour, for :data:`respirelib.config.CLASS_NAMES`."""
