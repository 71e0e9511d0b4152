"""An interactive explorer of a run's cycles: pick one, hear it, see what the model saw and where it looked.

:func:`build_explorer` returns an ipywidgets box with four dropdowns (part of the
split, device, class, cycle) above an ``Output`` area showing an audio player of
the 4 kHz cycle and the one-cycle figure (waveform, Mel spectrogram, clipped
spectrogram, probabilities and the Grad-CAM++ overlay). The callbacks only call
two plain functions, :func:`explorer_options` (what each dropdown offers) and
:func:`render_cycle` (the figure), which work and are tested without a browser.
Building the widget renders the first cycle once, and the displayed explorer also
carries that first view as plain HTML (player and figure) and PNG beside the widget
view: a front end with live widgets (JupyterLab) shows the widgets, anything without
one (a saved notebook on GitHub, nbconvert, a terminal) shows the static figure.

:func:`show_explorer` is what notebook 06 calls. In a kernel started by a headless run
(papermill, :func:`respirelib.progressbar.headless`) it displays that first view alone
and creates no widget: nbclient, which papermill drives, imitates a front end for
``Output`` widgets by sending comm messages on the kernel's shell channel, and that send
can swallow the wake-up of the cell's own reply, so the run then waits for it forever
(seen on a 2-core Intel Xeon in most runs of notebook 06; a live front end is not affected).

In JupyterLab the dropdowns also work from the keyboard (Tab, arrows, Home/End,
typing a name's first letter): see :data:`KEYBOARD_SCRIPT`.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib.figure
import numpy as np
import pandas as pd
import ipywidgets as widgets
import torch

from respirelib.config import CLASS_NAMES
from respirelib.experiments.run import LoadedRun
from respirelib.explain.cycles import cycle_figure, explain_cycles, load_model, run_label

ALL = "all"
EXPLORER_CLASS = "respirenet-explorer"
# JupyterLab gives keys pressed in a focused <select> to the notebook's command mode (ArrowDown moves to the
# next cell, "a" inserts one): its "leave keys to inputs" test (jp-mod-readWrite) covers only :read-write
# elements. Lumino, its keymap, ignores the shortcuts of a key whose target carries data-lm-suppress-shortcuts;
# it must be the focused element itself, which command-mode selectors ("... :focus") match before any ancestor
# is looked at. ipywidgets cannot set DOM attributes from Python, so the explorer carries a hidden Output whose
# one output is this script (ipywidgets renders Output content as trusted): once per page, it marks whatever
# takes the focus inside an explorer, before any key. There JupyterLab's shortcuts rest (click outside to use
# them). Where no widget front end runs (papermill, nbconvert, GitHub) the script is never shown or does
# nothing, and the static fallback does not carry it.
KEYBOARD_SCRIPT = f"""<script>
if (!window.respirenetExplorerKeys) {{
  window.respirenetExplorerKeys = true;
  document.addEventListener("focusin", (event) => {{
    if (event.target instanceof Element && event.target.closest(".{EXPLORER_CLASS}")) {{
      event.target.setAttribute("data-lm-suppress-shortcuts", "true");
    }}
  }}, true);
}}
</script>"""


def explorer_options(cycles: pd.DataFrame, subset: pd.Series, *, part: str, device: str = ALL,
                     label: str = ALL) -> dict:
    """What the dropdowns offer for the current part, device and class.

    Parameters
    ----------
    cycles : pd.DataFrame
        The cycles table (``recording``, ``cycle_index``, ``device``, ``label_id``, ``duration``).
    subset : pd.Series
        ``"train"``/``"val"``/``"test"``/``"unused"`` per cycle (``run.prepared.subset``).
    part : str
    device, label : str
        The current choices; ``"all"`` for no filter. A choice the part does not
        offer falls back to ``"all"``.

    Returns
    -------
    options : dict
        ``devices`` and ``classes`` (lists starting with ``"all"``, only values
        present), ``device`` and ``label`` (the effective choices), ``cycles``
        (``(text, row)`` pairs, by recording then cycle index).
    """
    in_part = cycles[(subset == part).to_numpy()]
    devices = [ALL, *sorted(in_part["device"].astype(str).unique())]
    device = device if device in devices else ALL
    if device != ALL:
        in_part = in_part[in_part["device"].astype(str) == device]
    present = set(in_part["label_id"].astype(int))
    classes = [ALL, *(name for index, name in enumerate(CLASS_NAMES) if index in present)]
    label = label if label in classes else ALL
    if label != ALL:
        in_part = in_part[in_part["label_id"] == CLASS_NAMES.index(label)]
    in_part = in_part.sort_values(["recording", "cycle_index"])
    texts = [f"{rec}:{index} · {CLASS_NAMES[label_id]} · {duration:.1f} s"
             for rec, index, label_id, duration in zip(in_part["recording"].astype(str), in_part["cycle_index"],
                                                       in_part["label_id"], in_part["duration"])]
    return {"devices": devices, "device": device, "classes": classes, "label": label,
            "cycles": list(zip(texts, in_part.index.tolist()))}


def render_cycle(run: LoadedRun, row: int, *, model: torch.nn.Module | None = None,
                 layer=None) -> matplotlib.figure.Figure:
    """The explorer's figure for one cycle row (:func:`respirelib.explain.cycles.cycle_figure`)."""
    return cycle_figure(run, explain_cycles(run, [row], model=model, layer=layer))


def figure_png(fig: matplotlib.figure.Figure, *, dpi: int = 90) -> bytes:
    """PNG bytes of a figure, displayable without a matplotlib backend."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


class ExplorerBox(widgets.VBox):
    """The explorer's box; its display also offers ``static`` (MIME type to data) for front ends without widgets."""

    def __init__(self, children, *, static: dict | None = None):
        super().__init__(children)
        self.static = dict(static or {})
        self.add_class(EXPLORER_CLASS)

    def _repr_mimebundle_(self, **kwargs):
        # Front ends rank the widget view above HTML and PNG; the others fall back to those.
        return {**self.static, **super()._repr_mimebundle_(**kwargs)}


def keyboard_output() -> widgets.Output:
    """A hidden ``Output`` holding :data:`KEYBOARD_SCRIPT`, set as data: no kernel or shell needed."""
    script = {"output_type": "display_data", "data": {"text/html": KEYBOARD_SCRIPT}, "metadata": {}}
    return widgets.Output(outputs=(script,), layout=widgets.Layout(display="none"))


def static_view(audio_html: str, png: bytes) -> dict:
    """MIME bundle of a player and a figure for front ends without widgets: ``text/html`` and ``image/png``."""
    encoded = base64.b64encode(png).decode("ascii")
    return {"text/html": f'{audio_html}<br><img src="data:image/png;base64,{encoded}" alt="the chosen cycle">',
            "image/png": encoded}


def _parts_with_cycles(run: LoadedRun, parts: Sequence[str]) -> list[str]:
    """The parts of the split that have cycles, in the order asked; the explorer opens on the first."""
    present = [part for part in parts if (run.prepared.subset == part).any()]
    if not present:
        raise ValueError(f"none of the parts {list(parts)} of this run's split has cycles")
    return present


def _cycle_view(run: LoadedRun, row: int, *, model: torch.nn.Module, layer=None):
    """The explorer's view of one cycle: an audio player of it and its figure as PNG bytes."""
    from IPython.display import Audio

    audio = Audio(np.asarray(run.prepared.cache.cycle(row), dtype=np.float32), rate=run.prepared.cache.sr)
    return audio, figure_png(render_cycle(run, row, model=model, layer=layer))


def static_explorer(run: LoadedRun, *, parts: Sequence[str] = ("test", "val"), model: torch.nn.Module | None = None,
                    layer=None) -> dict:
    """The explorer's first view without widgets: a MIME bundle (``text/html`` player and figure, ``image/png``).

    The cycle is the one :func:`build_explorer` opens on (first part, every device and class).
    """
    parts = _parts_with_cycles(run, parts)
    options = explorer_options(run.prepared.dataset.cycles, run.prepared.subset, part=parts[0])
    if not options["cycles"]:
        return {"text/plain": "no cycle matches these choices"}
    audio, png = _cycle_view(run, options["cycles"][0][1], model=load_model(run) if model is None else model,
                             layer=layer)
    return static_view(audio._repr_html_(), png)


def show_explorer(run: LoadedRun, *, parts: Sequence[str] = ("test", "val"), model: torch.nn.Module | None = None,
                  layer=None) -> None:
    """Display the explorer: the widgets in a live kernel, its first view alone in a headless run (see the module)."""
    from IPython.display import display

    from respirelib.progressbar import headless

    if headless():
        display(static_explorer(run, parts=parts, model=model, layer=layer), raw=True)
    else:
        display(build_explorer(run, parts=parts, model=model, layer=layer))


def build_explorer(run: LoadedRun, *, parts: Sequence[str] = ("test", "val"), model: torch.nn.Module | None = None,
                   layer=None):
    """An ipywidgets explorer of the run's cycles.

    Parameters
    ----------
    run : LoadedRun
    parts : sequence of str
        Parts of the split to offer; those without cycles are left out.
    model : nn.Module, optional
        Default: the run's stage-1 model, loaded once.
    layer : nn.Module or str, optional
        Layer of the maps (default: the last residual block).

    Returns
    -------
    explorer : ExplorerBox
        An ``ipywidgets.VBox``: a title, a row of dropdowns (``part``, ``device``,
        ``class``, ``cycle``), an ``Output`` with the audio player and the figure
        of the chosen cycle and the hidden :func:`keyboard_output`; its ``static``
        bundle is the first view without widgets.
    """
    from IPython.display import Image, display

    subset, cycles = run.prepared.subset, run.prepared.dataset.cycles
    parts = _parts_with_cycles(run, parts)
    model = load_model(run) if model is None else model
    style = {"description_width": "initial"}
    part_box = widgets.Dropdown(options=parts, value=parts[0], description="part", style=style)
    device_box = widgets.Dropdown(description="device", style=style)
    class_box = widgets.Dropdown(description="class", style=style)
    cycle_box = widgets.Dropdown(description="cycle", style=style, layout=widgets.Layout(width="28em"))
    output = widgets.Output()
    updating = {"now": False}  # setting options fires value events; render once per user action
    shown = {}  # the latest view's player and figure, kept for the static fallback

    def render(row) -> None:
        with output:
            output.clear_output(wait=True)
            if row is None:
                print("no cycle matches these choices")
                return
            shown["audio"], shown["png"] = _cycle_view(run, row, model=model, layer=layer)
            display(shown["audio"])
            display(Image(data=shown["png"], format="png"))

    def refresh(_change=None) -> None:
        if updating["now"]:
            return
        updating["now"] = True
        try:
            options = explorer_options(cycles, subset, part=part_box.value, device=device_box.value or ALL,
                                       label=class_box.value or ALL)
            device_box.options, device_box.value = options["devices"], options["device"]
            class_box.options, class_box.value = options["classes"], options["label"]
            rows = [row for _, row in options["cycles"]]
            current = cycle_box.value
            cycle_box.options = options["cycles"]
            cycle_box.value = current if current in rows else (rows[0] if rows else None)
        finally:
            updating["now"] = False
        render(cycle_box.value)

    def on_cycle(change) -> None:
        if not updating["now"]:
            render(change["new"])

    for box in (part_box, device_box, class_box):
        box.observe(refresh, names="value")
    cycle_box.observe(on_cycle, names="value")
    refresh()
    title = widgets.HTML(f"<b>Explore the cycles</b> of {run.run_dir.name} ({run_label(run)})")
    static = static_view(shown["audio"]._repr_html_(), shown["png"]) if shown else {}
    return ExplorerBox([title, widgets.HBox([part_box, device_box, class_box, cycle_box]), output, keyboard_output()],
                       static=static)
