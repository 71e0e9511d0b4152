"""Concatenation-based augmentation: new samples made by joining two cycles end to end.

How many samples are added: each class is brought up to
``target = round(scale * n_normal)`` samples; a class that already has ``target``
or more gets none. With the default ``scale=1`` only the abnormal classes grow,
each to the size of the normal class; ``scale=2`` (say) also doubles normal.
Both schemes count the same way (the reference's ``aug_scale``); they differ in
which two cycles make a new sample:

``"paper"``
    Two different cycles of the class itself (the paper: "randomly sampling two
    samples of the same class and concatenating them"); a class with a single
    cycle joins it with itself.
``"reference"``
    The reference implementation's recipes, drawn per new sample (first + second):
    normal N+N; crackle 60% C+C, 20% C+N, 20% N+C; wheeze 60% W+W, 20% W+N,
    20% N+W; both 50% B+B, 20% C+W, 10% W+C, 10% B+N, 10% N+B. As in the
    reference, the two cycles are drawn independently and may coincide.

A class with no cycles gets no new samples; a recipe that needs an empty class is
dropped and the remaining recipes' probabilities renormalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from respirelib.config import CLASS_NAMES, CONCAT_SCHEMES

# (first class, second class, probability) for each new sample of a class.
Recipe = tuple[int, int, float]

PAPER_RECIPES: dict[int, tuple[Recipe, ...]] = {c: ((c, c, 1.0),) for c in range(len(CLASS_NAMES))}
REFERENCE_RECIPES: dict[int, tuple[Recipe, ...]] = {
    0: ((0, 0, 1.0),),
    1: ((1, 1, 0.6), (1, 0, 0.2), (0, 1, 0.2)),
    2: ((2, 2, 0.6), (2, 0, 0.2), (0, 2, 0.2)),
    3: ((3, 3, 0.5), (1, 2, 0.2), (2, 1, 0.1), (3, 0, 0.1), (0, 3, 0.1)),
}


def augmentation_counts(labels: Sequence[int] | np.ndarray, *, scale: float = 1.0) -> np.ndarray:
    """Number of new samples per class.

    Returns
    -------
    counts : np.ndarray [shape=(4,), dtype=int64]
        ``max(0, round(scale * n_normal) - n_class)`` for each class.
    """
    present = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(CLASS_NAMES))
    target = int(round(scale * present[0]))
    counts = np.maximum(target - present, 0)
    counts[present == 0] = 0
    return counts


def _draw_pairs(members: dict[int, np.ndarray], recipes: tuple[Recipe, ...], n_new: int,
                rng: np.random.Generator, *, distinct: bool) -> np.ndarray:
    """(n_new, 2) indices of the first and second cycle of each new sample."""
    usable = [r for r in recipes if len(members[r[0]]) and len(members[r[1]])]
    if not usable or n_new == 0:
        return np.zeros((0, 2), dtype=np.int64)
    weights = np.array([p for _, _, p in usable], dtype=float)
    choice = rng.choice(len(usable), size=n_new, p=weights / weights.sum())
    pairs = np.zeros((n_new, 2), dtype=np.int64)
    for k, (first, second, _) in enumerate(usable):
        rows = np.flatnonzero(choice == k)
        if distinct and first == second and len(members[first]) > 1:
            # Draw the second from the other n-1 cycles: an offset of 1..n-1 never lands on the first.
            size = len(members[first])
            i = rng.integers(size, size=len(rows))
            j = (i + rng.integers(1, size, size=len(rows))) % size
        else:
            i = rng.integers(len(members[first]), size=len(rows))
            j = rng.integers(len(members[second]), size=len(rows))
        pairs[rows, 0] = members[first][i]
        pairs[rows, 1] = members[second][j]
    return pairs


def concatenate_augment(cycles: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray, *,
                        scheme: str = "paper", scale: float = 1.0,
                        rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Make new training samples by concatenating pairs of cycles.

    Parameters
    ----------
    cycles : sequence of np.ndarray [shape=(n_i,)]
        Training cycles (any lengths; pad or window the results afterwards).
    labels : array-like of int [shape=(n_cycles,)]
        Their classes (0 normal, 1 crackle, 2 wheeze, 3 both).
    scheme : str
        ``"paper"`` or ``"reference"`` (see the module docstring).
    scale : float
        Each class is brought up to ``round(scale * n_normal)`` samples.
    rng : np.random.Generator
        The only source of randomness.

    Returns
    -------
    new_cycles : list of np.ndarray [shape=(n_first + n_second,)]
        Only the new samples (append them to the originals yourself), grouped by
        class in label order.
    new_labels : np.ndarray [shape=(n_new,), dtype=int64]
        The class each new sample stands for.
    provenance : np.ndarray [shape=(n_new, 2), dtype=int64]
        Indices into ``cycles`` of the first and second part of each new sample
        (use them to carry recording, patient or device along).
    """
    if scheme not in CONCAT_SCHEMES:
        raise ValueError(f"scheme must be one of {CONCAT_SCHEMES}, got {scheme!r}")
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(cycles):
        raise ValueError(f"{len(cycles)} cycles but {len(labels)} labels")
    recipes = PAPER_RECIPES if scheme == "paper" else REFERENCE_RECIPES
    members = {c: np.flatnonzero(labels == c) for c in range(len(CLASS_NAMES))}
    counts = augmentation_counts(labels, scale=scale)
    pairs, new_labels = [], []
    for c, n_new in enumerate(counts):
        drawn = _draw_pairs(members, recipes[c], int(n_new), rng, distinct=scheme == "paper")
        pairs.append(drawn)
        new_labels.append(np.full(len(drawn), c, dtype=np.int64))
    provenance = np.concatenate(pairs)
    new_cycles = [np.concatenate([cycles[i], cycles[j]]) for i, j in provenance]
    return new_cycles, np.concatenate(new_labels), provenance
