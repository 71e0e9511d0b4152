"""Fixed-length inputs: padding short cycles and windowing long ones.

A CNN with a fixed-size input needs every breathing cycle at one length (paper:
7 s, Table II). Cycles shorter than that are padded; longer ones are cut into
overlapping windows whose predictions
:func:`respirelib.training.metrics.combine_window_predictions` merges per cycle.

Padding methods (the cycle always comes out whole, never truncated):

``"smart"`` (the paper)
    Borrow real audio from the neighbouring cycles of the same recording. A
    neighbour may be used if its class equals the cycle's class or is normal.
    Exactly: first the following cycles ``i+1, ..., i+reach`` are appended, in
    order, while each is allowed; then the preceding cycles ``i-1, ..., i-reach``
    are put in front, nearest first, while each is allowed; the chain stops at the
    first disallowed neighbour, so the borrowed audio is always contiguous with the
    cycle in the recording. Whatever length is still missing is filled with copies
    of the cycle itself, appended at the end. A following neighbour contributes its
    beginning and a preceding one its end (the parts adjacent to the cycle). With
    the paper's ``reach=1`` only the cycles just before and after are used. No
    randomness is involved.
``"context"`` (label-free smart padding)
    Exactly the chain of ``"smart"``, but every neighbour is allowed, whatever its
    class: the input is the stretch of the recording around the cycle, as it would
    be on a new recording whose labels nobody knows. It needs no labels, so it is
    the padding of every validation, test and prediction input.
``"repeat"`` (the reference implementation)
    Copies of the cycle itself, behind it, or (with probability 1/2 when an ``rng``
    is given) in front of it, the cycle then ending the window. Without an
    ``rng`` the cycle always comes first, so evaluation is deterministic.
``"zero"``
    The cycle followed by zeros.
``"reflect"``
    The cycle followed by its mirror image (``numpy.pad(mode="reflect")``,
    repeated as often as needed).

Windows of a long cycle start every ``hop_fraction * duration`` seconds (the
reference's half length). Where the last regular window would miss the end of the
cycle, one more window ends exactly at the cycle's end; the reference instead
pads the remainder, so its last window is mostly copied audio.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from respirelib.config import NORMAL, PADDING_METHODS

_Piece = tuple[int, int, int]  # (source cycle index or -1 for zeros, start, stop)


def _n_target(sr: int, duration: float) -> int:
    n_target = int(round(duration * sr))
    if n_target < 1:
        raise ValueError(f"duration {duration} s at {sr} Hz gives no samples")
    return n_target


def _repeat_pieces(index: int, own: int, need: int, *, in_front: bool) -> list[_Piece]:
    """Copies of cycle ``index`` filling ``need`` samples, adjacent to the cycle."""
    pieces = []
    while need > 0:
        take = min(own, need)
        pieces.append((index, own - take, own) if in_front else (index, 0, take))
        need -= take
    return pieces[::-1] if in_front else pieces


def neighbour_pieces(lengths: np.ndarray, labels: np.ndarray | None, index: int, need: int,
                  reach: int) -> tuple[list[_Piece], list[_Piece]]:
    """Pieces before and after cycle ``index`` per the paper's smart padding.

    Parameters
    ----------
    lengths : np.ndarray [shape=(n_cycles,)]
        Samples in each cycle of the recording (no audio is needed to plan the padding).
    labels : np.ndarray [shape=(n_cycles,)] or None
        ``None`` allows every neighbour (``"context"`` padding): no label is read.
    index, need, reach : int
        The cycle, the samples still missing, and how many neighbours on each side.

    Returns
    -------
    before, after : list of (source cycle, start, stop)
    """
    label = None if labels is None else labels[index]

    def allowed(j: int) -> bool:
        return labels is None or labels[j] == label or labels[j] == NORMAL

    after: list[_Piece] = []
    for j in range(index + 1, min(index + reach, len(lengths) - 1) + 1):
        if need == 0 or not allowed(j):
            break
        take = min(int(lengths[j]), need)
        after.append((j, 0, take))
        need -= take
    before: list[_Piece] = []
    for j in range(index - 1, max(index - reach, 0) - 1, -1):
        if need == 0 or not allowed(j):
            break
        take = min(int(lengths[j]), need)
        before.insert(0, (j, int(lengths[j]) - take, int(lengths[j])))
        need -= take
    after += _repeat_pieces(index, int(lengths[index]), need, in_front=False)
    return before, after


def _assemble(cycles: Sequence[np.ndarray], pieces: list[_Piece]) -> tuple[np.ndarray, np.ndarray]:
    dtype = np.result_type(*(cycles[i].dtype for i, _, _ in pieces if i >= 0), np.float32)
    audio = np.concatenate([cycles[i][a:b] if i >= 0 else np.zeros(b - a, dtype) for i, a, b in pieces])
    sources = np.concatenate([np.full(b - a, i, dtype=np.int64) for i, a, b in pieces])
    return audio.astype(dtype, copy=False), sources


def pad_cycle(cycles: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray | None, index: int, *,
              sr: int, duration: float = 7.0, method: str = "smart",
              rng: np.random.Generator | None = None, reach: int = 1,
              return_sources: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Bring cycle ``index`` of a recording to ``duration`` seconds.

    Parameters
    ----------
    cycles : sequence of np.ndarray [shape=(n_i,)]
        All cycles of one recording, in time order (smart padding borrows from them;
        the other methods use only ``cycles[index]``).
    labels : array-like of int [shape=(n_cycles,)] or None
        Their classes (0 normal, 1 crackle, 2 wheeze, 3 both). Only ``"smart"``
        reads them, and needs them; every other method takes ``None``.
    index : int
        The cycle to pad.
    sr : int
        Sample rate.
    duration : float
        Target length in seconds.
    method : str
        ``"smart"``, ``"context"``, ``"repeat"``, ``"zero"`` or ``"reflect"`` (see the
        module docstring).
    rng : np.random.Generator or None
        Only ``"repeat"`` uses it (front or behind); ``None`` is deterministic.
    reach : int
        How many cycles on each side smart and context padding may borrow from.
    return_sources : bool
        Also return, per output sample, the index of the cycle it came from.

    Returns
    -------
    y : np.ndarray [shape=(round(duration * sr),)]
        The padded cycle. A cycle longer than the target is cut to its first
        ``duration`` seconds; use :func:`fixed_length_windows` to keep all of it.
    sources : np.ndarray [shape=(round(duration * sr),), dtype=int64]
        Only with ``return_sources``: source cycle of each sample, -1 for zeros.
    """
    if method not in PADDING_METHODS:
        raise ValueError(f"method must be one of {PADDING_METHODS}, got {method!r}")
    if method == "smart" and labels is None:
        raise ValueError("smart padding chooses neighbours by their class: it needs labels "
                         "(use 'context' for the label-free variant)")
    # Only smart padding may look at the labels; the others never receive them.
    labels = np.asarray(labels) if method == "smart" else None
    if labels is not None and len(labels) != len(cycles):
        raise ValueError(f"{len(cycles)} cycles but {len(labels)} labels")
    if not 0 <= index < len(cycles):
        raise IndexError(f"cycle index {index} out of range for {len(cycles)} cycles")
    n_target = _n_target(sr, duration)
    own = len(cycles[index])
    if own == 0:
        raise ValueError(f"cycle {index} is empty")
    need = n_target - own
    if need <= 0:
        pieces = [(index, 0, n_target)]
    elif method in ("smart", "context"):
        lengths = np.array([len(c) for c in cycles])
        before, after = neighbour_pieces(lengths, labels, index, need, reach)
        pieces = before + [(index, 0, own)] + after
    elif method == "repeat":
        in_front = rng is not None and rng.random() < 0.5
        copies = _repeat_pieces(index, own, need, in_front=in_front)
        pieces = copies + [(index, 0, own)] if in_front else [(index, 0, own)] + copies
    elif method == "zero":
        pieces = [(index, 0, own), (-1, 0, need)]
    else:
        y = np.pad(cycles[index], (0, need), mode="reflect") if own > 1 else np.repeat(cycles[index], n_target)
        sources = np.full(n_target, index, dtype=np.int64)
        return (y, sources) if return_sources else y
    y, sources = _assemble(cycles, pieces)
    return (y, sources) if return_sources else y


def pad_to_length(y: np.ndarray, *, sr: int, duration: float = 7.0, method: str = "repeat",
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Pad one signal with no neighbours (e.g. an augmented sample) to ``duration`` seconds.

    ``"smart"`` and ``"context"`` have no neighbours to borrow from here and equal
    ``"repeat"`` without an ``rng``. See :func:`pad_cycle` for the methods and the returned shape.
    """
    return pad_cycle([y], [NORMAL] if method == "smart" else None, 0, sr=sr, duration=duration, method=method, rng=rng)


def window_starts(n: int, *, n_target: int, hop: int) -> np.ndarray:
    """First sample of each fixed-length window of an ``n``-sample cycle.

    Returns
    -------
    starts : np.ndarray [shape=(n_windows,), dtype=int64]
        ``[0]`` when ``n <= n_target``; otherwise ``0, hop, 2*hop, ...`` while the
        window fits, plus ``n - n_target`` when needed to reach the cycle's end.
    """
    if n <= n_target:
        return np.zeros(1, dtype=np.int64)
    if hop < 1:
        raise ValueError(f"hop must be at least one sample, got {hop}")
    starts = np.arange(0, n - n_target + 1, hop, dtype=np.int64)
    if starts[-1] + n_target < n:
        starts = np.append(starts, n - n_target)
    return starts


def fixed_length_windows(cycles: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray | None, *, sr: int,
                         duration: float = 7.0, method: str = "smart", hop_fraction: float = 0.5,
                         rng: np.random.Generator | None = None, reach: int = 1, hop: int | None = None,
                         return_starts: bool = False) -> tuple[np.ndarray, ...]:
    """All fixed-length inputs of one recording: padded short cycles, windows of long ones.

    Parameters
    ----------
    cycles : sequence of np.ndarray [shape=(n_i,)]
        The cycles of one recording in time order.
    labels : array-like of int [shape=(n_cycles,)] or None
        Needed by ``"smart"`` padding only (see :func:`pad_cycle`).
    sr : int
    duration : float
        Window length in seconds.
    method : str
        Padding of cycles shorter than ``duration`` (see :func:`pad_cycle`).
    hop_fraction : float
        Hop between windows of a long cycle, as a fraction of ``duration``.
    rng : np.random.Generator or None
        Passed to :func:`pad_cycle`.
    reach : int
        Passed to :func:`pad_cycle`.
    hop : int, optional
        Hop between windows of a long cycle in samples; overrides ``hop_fraction``.
    return_starts : bool
        Also return where each window begins in its cycle.

    Returns
    -------
    windows : np.ndarray [shape=(n_windows, round(duration * sr)), dtype=float32]
    cycle_index : np.ndarray [shape=(n_windows,), dtype=int64]
        The cycle each window belongs to.
    starts : np.ndarray [shape=(n_windows,), dtype=int64]
        Only with ``return_starts``: the sample of its cycle at which each window
        begins; for a padded cycle ``-offset``, its own audio (first copy, for repeat
        padding) beginning ``offset`` samples into the window.
    """
    n_target = _n_target(sr, duration)
    hop = max(1, int(round(hop_fraction * n_target))) if hop is None else hop
    windows, owners, starts = [], [], []
    for index, cycle in enumerate(cycles):
        if len(cycle) <= n_target:
            y, sources = pad_cycle(cycles, labels, index, sr=sr, duration=duration, method=method, rng=rng,
                                   reach=reach, return_sources=True)
            windows.append(y[None])
            owners.append(np.array([index]))
            starts.append(np.array([-int(np.argmax(sources == index))]))
        else:
            cycle_starts = window_starts(len(cycle), n_target=n_target, hop=hop)
            windows.append(np.stack([cycle[s:s + n_target] for s in cycle_starts]))
            owners.append(np.full(len(cycle_starts), index))
            starts.append(cycle_starts)
    if not windows:
        empty = np.zeros(0, dtype=np.int64)
        return (np.zeros((0, n_target), dtype=np.float32), empty) + ((empty,) if return_starts else ())
    result = (np.concatenate(windows).astype(np.float32, copy=False), np.concatenate(owners).astype(np.int64))
    return result + ((np.concatenate(starts).astype(np.int64),) if return_starts else ())
