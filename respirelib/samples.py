"""Fixed-length model inputs from the cycle cache: evaluation windows and training samples.

Evaluation inputs are deterministic: every cycle shorter than the input length is
padded (smart padding by default, which borrows neighbouring cycles of the same
recording), every longer cycle becomes overlapping windows whose predictions are
combined per cycle later. Training inputs add the concatenation-based augmentation's
new samples. Everything is built once per run into one tensor, so a training batch
is a single index operation (on the GPU when training there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from respirelib.cache import CycleCache
from respirelib.concat import concatenate_augment
from respirelib.config import AudioConfig, AugmentConfig
from respirelib.padding import fixed_length_windows, pad_to_length


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


def _recording_windows(cache: CycleCache, rows: np.ndarray, config: AudioConfig):
    """Windows of every selected cycle, recording by recording (smart padding needs the neighbours)."""
    cycles = cache.cycles.loc[rows]
    label_ids = cache.cycles["label_id"].to_numpy()
    windows, owners = [], []
    for _, group in cycles.groupby("recording", sort=True, observed=True):
        group_rows = group.sort_values("cycle_index").index.to_numpy()
        waves = [cache.cycle(row) for row in group_rows]
        recording_windows, owner = fixed_length_windows(
            waves, label_ids[group_rows], sr=cache.sr, duration=config.cycle_duration, method=config.padding,
            hop_fraction=config.window_hop, reach=config.smart_reach)
        windows.append(recording_windows)
        owners.append(group_rows[owner])
    return windows, owners


def evaluation_set(cache: CycleCache, rows, *, config: AudioConfig = AudioConfig()) -> SampleSet:
    """Deterministic inputs for the cycles at ``rows`` (index labels of ``cache.cycles``).

    Returns
    -------
    SampleSet
        One input per short cycle, one per window of a long cycle.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return SampleSet(torch.zeros(0, config.n_samples), torch.zeros(0, dtype=torch.int64), empty,
                         np.zeros(0, dtype=object))
    windows, owners = _recording_windows(cache, rows, config)
    owner = np.concatenate(owners)
    label_ids = cache.cycles["label_id"].to_numpy()
    devices = cache.cycles["device"].astype(str).to_numpy()
    return SampleSet(torch.from_numpy(np.concatenate(windows)), torch.from_numpy(label_ids[owner]), owner,
                     devices[owner].astype(object))


def training_set(cache: CycleCache, rows, *, audio: AudioConfig = AudioConfig(),
                 augment: AugmentConfig = AugmentConfig(), concat: bool = True, seed: int = 0) -> SampleSet:
    """Training inputs for the cycles at ``rows``, plus concatenation-augmented samples.

    The originals are padded and windowed exactly as for evaluation. With ``concat``,
    :func:`respirelib.concat.concatenate_augment` joins pairs of training cycles
    (``augment.concat_scheme``) until each class reaches ``augment.concat_scale``
    times the normal count; each new sample is brought to the input length by
    repeating it (it has no neighbours) or cut to its first ``cycle_duration`` s.
    """
    base = evaluation_set(cache, rows, config=audio)
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
    padded = np.stack([pad_to_length(c, sr=cache.sr, duration=audio.cycle_duration, method="repeat")
                       for c in new_cycles]).astype(np.float32)
    devices = cache.cycles["device"].astype(str).to_numpy()[rows[provenance[:, 0]]].astype(object)
    return SampleSet(torch.cat([base.waves, torch.from_numpy(padded)]),
                     torch.cat([base.labels, torch.from_numpy(new_labels)]),
                     np.concatenate([base.cycle_rows, np.full(len(new_labels), -1, dtype=np.int64)]),
                     np.concatenate([base.devices, devices]))
