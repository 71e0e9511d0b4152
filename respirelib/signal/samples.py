"""Fixed-length model inputs from the cycle cache: evaluation windows and training samples.

Evaluation inputs are deterministic and never read a label: every cycle shorter than
the input length is padded with ``AudioConfig.eval_padding`` (by default ``"context"``,
the neighbouring cycles of the same recording whatever their class), every longer
cycle becomes overlapping windows whose predictions are combined per cycle later. So
a validation or test input is exactly what a new, unlabelled recording would give:
:func:`recording_inputs` builds the inputs of one recording for evaluation, training,
explanations and predictions alike. Training inputs are padded with
``AudioConfig.padding`` (the paper's label-aware smart padding may read the training
labels there) and add the concatenation-based augmentation's new samples.

Departure from the paper: the paper pads every cycle with smart padding, which picks
a test cycle's neighbours by the test labels (its own and theirs). That lets the
labels shape the test inputs; here it survives only as the explicitly named
diagnostic :data:`respirelib.config.LABEL_AWARE_DIAGNOSTIC`. Everything is built once per run into one tensor, so a training batch
is a single index operation (on the GPU when training there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from respirelib.signal.cache import CycleCache
from respirelib.signal.concat import concatenate_augment
from respirelib.config import LABEL_AWARE_DIAGNOSTIC, AudioConfig, AugmentConfig
from respirelib.signal.padding import fixed_length_windows, pad_cycle, pad_to_length


@dataclass
class SampleSet:
    """Fixed-length inputs with their labels.

    Attributes
    ----------
    waves : torch.Tensor [shape=(n, n_samples), dtype=float32]
    labels : torch.Tensor [shape=(n,), dtype=int64]
    cycle_rows : np.ndarray [shape=(n,), dtype=int64]
        Row of the cycles table each input comes from (several windows of a long
        cycle share one); -1 for samples made by concatenation.
    devices : np.ndarray [shape=(n,), dtype=object]
        Recording device of each input (of the first part, for concatenations).
    """

    waves: torch.Tensor
    labels: torch.Tensor
    cycle_rows: np.ndarray
    devices: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> SampleSet:
        return SampleSet(self.waves.to(device), self.labels.to(device), self.cycle_rows, self.devices)

    def select(self, mask: np.ndarray) -> SampleSet:
        """The inputs where ``mask`` (a boolean array over inputs) is true."""
        index = torch.as_tensor(np.flatnonzero(mask), device=self.waves.device)
        return SampleSet(self.waves[index], self.labels[index], self.cycle_rows[mask], self.devices[mask])


@dataclass(frozen=True)
class RecordingInputs:
    """The fixed-length model inputs of one recording's cycles.

    Attributes
    ----------
    waves : np.ndarray [shape=(n_inputs, n_samples), dtype=float32]
    owner : np.ndarray [shape=(n_inputs,), dtype=int64]
        Position (in the cycles given) of the cycle each input comes from, ascending;
        the windows of a long cycle share one.
    starts : np.ndarray [shape=(n_inputs,), dtype=int64]
        Sample of its cycle at which each input begins: ``0, hop, ...`` for the windows
        of a long cycle; ``-offset`` for a padded cycle whose own audio begins
        ``offset`` samples into the input.
    cycle_lengths : np.ndarray [shape=(n_cycles,), dtype=int64]
        Samples in each cycle given.
    """

    waves: np.ndarray
    owner: np.ndarray
    starts: np.ndarray
    cycle_lengths: np.ndarray

    @property
    def own(self) -> np.ndarray:
        """True on the samples of the owning cycle itself, False on padding [shape=(n_inputs, n_samples)]."""
        position = self.starts[:, None] + np.arange(self.waves.shape[1])
        return (position >= 0) & (position < self.cycle_lengths[self.owner][:, None])

    @property
    def n_windows(self) -> np.ndarray:
        """Inputs of each cycle [shape=(n_cycles,)]: 1 for a cycle that fits, more for a long one."""
        return np.bincount(self.owner, minlength=len(self.cycle_lengths))

    @property
    def first(self) -> np.ndarray:
        """Index of each cycle's first input [shape=(n_cycles,)]."""
        return np.searchsorted(self.owner, np.arange(len(self.cycle_lengths)))


def recording_inputs(cycles: Sequence[np.ndarray], *, sr: int, config: AudioConfig = AudioConfig(),
                     padding: str | None = None, labels: np.ndarray | None = None,
                     hop_seconds: float | None = None) -> RecordingInputs:
    """The model inputs of one recording's cycles, or of sliding windows over a whole recording.

    Every input a model sees outside training's augmentation is built here: the
    validation and test inputs (:func:`evaluation_set`), the training originals
    (:func:`training_set`), the inputs an explanation shows and a prediction's.

    Parameters
    ----------
    cycles : sequence of np.ndarray [shape=(n_i,)]
        The cycles of one recording in time order (padding borrows from the
        neighbours). A whole recording as the only cycle gives sliding windows.
    sr : int
        Sample rate of ``cycles``.
    config : AudioConfig
        Input length (``cycle_duration``), ``window_hop``, ``smart_reach`` and, by
        default, the padding (``eval_padding``).
    padding : str, optional
        Padding of cycles shorter than the input (see
        :func:`respirelib.signal.padding.pad_cycle`). Default: ``config.eval_padding``,
        which never reads a label (an error for the label-aware diagnostic).
    labels : np.ndarray [shape=(n_cycles,)], optional
        Only ``padding="smart"`` reads them, and needs them; no other padding receives them.
    hop_seconds : float, optional
        Hop between the windows of a long cycle; default ``config.window_hop`` of the input length.

    Returns
    -------
    RecordingInputs
        ``waves [shape=(n_inputs, round(config.cycle_duration * sr))]``: one input per
        short cycle, one per window of a long cycle, in cycle order.

    Raises
    ------
    ValueError
        ``hop_seconds`` is under one sample, the label-aware diagnostic is asked
        for by default, or ``"smart"`` padding has no labels.
    """
    method = label_free_padding(config) if padding is None else padding
    hop = None
    if hop_seconds is not None:
        hop = int(round(hop_seconds * sr))
        if hop < 1:
            raise ValueError(f"hop_seconds must be at least one sample at {sr} Hz, got {hop_seconds}")
    waves, owner, starts = fixed_length_windows(
        cycles, labels if method == "smart" else None, sr=sr, duration=config.cycle_duration, method=method,
        hop_fraction=config.window_hop, reach=config.smart_reach, hop=hop, return_starts=True)
    return RecordingInputs(waves=waves, owner=owner, starts=starts,
                           cycle_lengths=np.array([len(cycle) for cycle in cycles], dtype=np.int64))


def _recording_windows(cache: CycleCache, rows: np.ndarray, config: AudioConfig, method: str):
    """Inputs of every selected cycle, recording by recording (smart and context padding need the neighbours).

    Only ``method="smart"`` is handed the labels; every other method never sees them.
    """
    cycles = cache.cycles.loc[rows]
    label_ids = cache.cycles["label_id"].to_numpy() if method == "smart" else None
    windows, owners = [], []
    for _, group in cycles.groupby("recording", sort=True, observed=True):
        group_rows = group.sort_values("cycle_index").index.to_numpy()
        inputs = recording_inputs([cache.cycle(row) for row in group_rows], sr=cache.sr, config=config,
                                  padding=method, labels=None if label_ids is None else label_ids[group_rows])
        windows.append(inputs.waves)
        owners.append(group_rows[inputs.owner])
    return windows, owners


def evaluation_set(cache: CycleCache, rows, *, config: AudioConfig = AudioConfig(),
                   padding: str | None = None) -> SampleSet:
    """Deterministic, label-free inputs for the cycles at ``rows`` (index labels of ``cache.cycles``).

    Parameters
    ----------
    cache : CycleCache
    rows : array-like of int
    config : AudioConfig
        Input length, window hop and ``eval_padding``.
    padding : str or None
        Overrides ``config.eval_padding``. :data:`respirelib.config.LABEL_AWARE_DIAGNOSTIC`
        pads with the paper's smart padding, which reads the labels of these cycles:
        only for measuring how much that inflates a score.

    Returns
    -------
    SampleSet
        One input per short cycle, one per window of a long cycle. ``labels`` are
        carried for scoring only; with any padding but the diagnostic, ``waves`` do not
        depend on them.
    """
    return _fixed_inputs(cache, rows, config=config, method=_eval_method(padding or config.eval_padding))


def _eval_method(eval_padding: str) -> str:
    return "smart" if eval_padding == LABEL_AWARE_DIAGNOSTIC else eval_padding


def label_free_padding(config: AudioConfig) -> str:
    """The padding method of ``config``'s evaluation inputs; an error for the label-aware diagnostic.

    What a new recording gets, so it can never be the diagnostic that reads labels.
    """
    if config.eval_padding == LABEL_AWARE_DIAGNOSTIC:
        raise ValueError(f"eval_padding {LABEL_AWARE_DIAGNOSTIC!r} reads the labels of the cycles it pads; "
                         "new recordings have none")
    return config.eval_padding


def _fixed_inputs(cache: CycleCache, rows, *, config: AudioConfig, method: str) -> SampleSet:
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return SampleSet(torch.zeros(0, config.n_samples), torch.zeros(0, dtype=torch.int64), empty,
                         np.zeros(0, dtype=object))
    windows, owners = _recording_windows(cache, rows, config, method)
    owner = np.concatenate(owners)
    label_ids = cache.cycles["label_id"].to_numpy()
    devices = cache.cycles["device"].astype(str).to_numpy()
    return SampleSet(torch.from_numpy(np.concatenate(windows)), torch.from_numpy(label_ids[owner]), owner,
                     devices[owner].astype(object))


def training_set(cache: CycleCache, rows, *, audio: AudioConfig = AudioConfig(),
                 augment: AugmentConfig = AugmentConfig(), concat: bool = True, seed: int = 0) -> SampleSet:
    """Training inputs for the cycles at ``rows``, plus concatenation-augmented samples.

    The originals are padded with ``audio.padding`` (which may read the training
    labels) and windowed as for evaluation. With ``concat``,
    :func:`respirelib.signal.concat.concatenate_augment` joins pairs of training cycles
    (``augment.concat_scheme``) until each class reaches ``augment.concat_scale``
    times the normal count. Each new sample is padded by the same method as the
    originals (see :func:`_pad_concatenations`), then cut to its first
    ``cycle_duration`` s if longer.
    """
    base = _fixed_inputs(cache, rows, config=audio, method=audio.padding)
    if not concat or len(base) == 0:
        return base
    rows = np.asarray(rows, dtype=np.int64)
    label_ids = cache.cycles["label_id"].to_numpy()[rows]
    rng = np.random.default_rng(seed)
    cycles = [cache.cycle(row) for row in rows]
    new_cycles, new_labels, provenance = concatenate_augment(cycles, label_ids, scheme=augment.concat_scheme,
                                                             scale=augment.concat_scale, rng=rng)
    if not new_cycles:
        return base
    padded = _pad_concatenations(cache, rows, new_cycles, new_labels, provenance, audio=audio)
    devices = cache.cycles["device"].astype(str).to_numpy()[rows[provenance[:, 0]]].astype(object)
    return SampleSet(torch.cat([base.waves, torch.from_numpy(padded)]),
                     torch.cat([base.labels, torch.from_numpy(new_labels)]),
                     np.concatenate([base.cycle_rows, np.full(len(new_labels), -1, dtype=np.int64)]),
                     np.concatenate([base.devices, devices]))


def _pad_concatenations(cache: CycleCache, rows: np.ndarray, new_cycles: list[np.ndarray],
                        new_labels: np.ndarray, provenance: np.ndarray, *, audio: AudioConfig) -> np.ndarray:
    """Concatenated samples brought to the input length the way the original cycles are.

    A concatenation ``first + second`` stands in its recording where ``first`` was:
    with ``"context"`` (or ``"smart"``) padding it borrows the cycles before ``first``
    and after ``second`` (up to ``audio.smart_reach`` of each, from the selected
    rows), so it looks like any other training input. Padding it by repeating while the
    originals carry their neighbours would give the abnormal classes, which are mostly
    concatenations, a look of their own that no evaluation input has.

    Returns
    -------
    waves : np.ndarray [shape=(n_new, audio.n_samples), dtype=float32]
    """
    method, reach = audio.padding, audio.smart_reach
    if method not in ("smart", "context"):
        return np.stack([pad_to_length(c, sr=cache.sr, duration=audio.cycle_duration, method=method)
                         for c in new_cycles]).astype(np.float32)
    # Position of every selected row in its recording (selected rows only, in time order).
    order = cache.cycles.loc[rows, ["recording", "cycle_index"]].reset_index(drop=True)
    order = order.sort_values(["recording", "cycle_index"], kind="stable")
    sorted_positions = order.index.to_numpy()
    recordings = order["recording"].astype(str).to_numpy()
    rank = np.empty(len(rows), dtype=np.int64)
    rank[sorted_positions] = np.arange(len(rows))
    label_ids = cache.cycles["label_id"].to_numpy()[rows]
    padded = np.empty((len(new_cycles), audio.n_samples), dtype=np.float32)
    for k, (cycle, (first, second)) in enumerate(zip(new_cycles, provenance)):
        before = [sorted_positions[r] for r in range(rank[first] - 1, max(rank[first] - reach, 0) - 1, -1)
                  if recordings[r] == recordings[rank[first]]][::-1]
        after = [sorted_positions[r] for r in range(rank[second] + 1, min(rank[second] + reach + 1, len(rows)))
                 if recordings[r] == recordings[rank[second]]]
        stretch = [cache.cycle(rows[p]) for p in before] + [cycle] + [cache.cycle(rows[p]) for p in after]
        labels = None if method == "context" else np.array(
            [*label_ids[before], new_labels[k], *label_ids[after]], dtype=np.int64)
        padded[k] = pad_cycle(stretch, labels, len(before), sr=cache.sr, duration=audio.cycle_duration,
                              method=method, reach=reach)
    return padded
