"""Progress bars: tqdm's own choice (a widget in a live notebook, text in a terminal), none in a notebook
executed headlessly.

A notebook executed by papermill saves each tqdm widget as a widget view that no static viewer can draw
(it reads as a frozen "0/16" bar); the per-epoch lines that training prints say the same in plain text.
:func:`respirelib.apps.notebooks.run_papermill` sets :data:`HEADLESS_ENV` for the kernel it starts.
"""

from __future__ import annotations

import os

HEADLESS_ENV = "RESPIRENET_HEADLESS_NOTEBOOK"


def headless() -> bool:
    """Whether this process is a notebook kernel started by a headless run (:data:`HEADLESS_ENV` is ``"1"``)."""
    return os.environ.get(HEADLESS_ENV) == "1"


def progress_bar(iterable=None, *, progress: bool = True, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)``, disabled when ``progress`` is false or the run is :func:`headless`."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not progress or headless(), **kwargs)
