"""Synthetic ICBHI-like datasets, written in the real on-disk layout.

``write_synthetic_icbhi(out_dir, scale=..., seed=..., difficulty=...)`` writes a
folder that the ICBHI loader reads exactly like the real download, plus a
``SYNTHETIC_DATASET.json`` marker so that nothing computed on it can pass for a
result on real data. The modules, in the order the generator uses them:

- :mod:`~respirelib.data.synth.census`: the published make-up of ICBHI that is copied;
- :mod:`~respirelib.data.synth.plan`: patients, recordings, cycles, labels, split (and the scaling rule);
- :mod:`~respirelib.data.synth.devices`: sample rates, responses and noise of the four devices;
- :mod:`~respirelib.data.synth.difficulty`: what the ``difficulty`` knob changes;
- :mod:`~respirelib.data.synth.sound`: the audio of one recording;
- :mod:`~respirelib.data.synth.writer`: files, formats and the safe write.
"""

from respirelib.data.synth.difficulty import DifficultySettings, difficulty_settings
from respirelib.data.synth.writer import (
    MARKER_FILE,
    SynthConfig,
    SynthesisSummary,
    read_synthetic_marker,
    write_synthetic_icbhi,
)

__all__ = [
    "MARKER_FILE",
    "DifficultySettings",
    "SynthConfig",
    "SynthesisSummary",
    "difficulty_settings",
    "read_synthetic_marker",
    "write_synthetic_icbhi",
]
