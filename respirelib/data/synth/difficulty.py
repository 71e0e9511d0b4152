"""What the synthetic dataset's ``difficulty`` knob changes.

``difficulty`` runs from 0 (loud, dense adventitious sounds, little noise, labels
that always match the sound) to 1 (faint, sparse events in loud noise, many
mislabelled-looking cycles). Every setting is a straight line in ``d``:

=====================================================  ==========  ==========  ==========
setting                                                 d = 0       d = 0.5     d = 1
=====================================================  ==========  ==========  ==========
crackle peak level, dB over breath RMS (uniform range)  10 … 24     3 … 18      −4 … 12
wheeze peak level, dB over breath RMS (uniform range)   −8 … 10     −16 … 4    −24 … −2
crackles in a 2.7 s crackle cycle (1 + Poisson mean)    1 + 10      1 + 6.5     1 + 3
share of its breath phase a wheeze lasts                0.5 … 1     0.35 … 0.8  0.2 … 0.6
ambient noise, dB relative to breath (50–2000 Hz)       −32         −23         −14
artifacts per second (clicks, thumps, short tones)      0.05        0.3         0.55
abnormal cycles whose events are 25 dB quieter          0 %         12.5 %      25 %
normal cycles with faint unlabelled events              0 %         7.5 %       15 %
"both" cycles with only one kind audible                0 %         15 %        30 %
recording-to-recording spread of event level (sd, dB)   2           4           6
=====================================================  ==========  ==========  ==========

Wheezes reach down to faint at every difficulty (sound model 3: 4 dB lower than before at the
bottom of each range): wheezes are often of low intensity relative to the breath sound (CORSA,
Sovijärvi et al. 2000), and a model that has only heard loud ones misses the faint ones.
The Poisson mean grows in proportion to cycle length (up to 8 s). The clutter every real
recording carries (heart sounds, rumble, friction clicks, mains hum, patients' voices;
:mod:`respirelib.data.synth.clutter`, sound model 2) is the same at every difficulty: it is
the recording's, not the task's; the artifacts above come on top of it.
"Breath RMS" is the RMS of the breath sound at the loudest point of a normal
inspiration. The quiet-event and unlabelled-event shares put a ceiling on what
any classifier can reach: at the default 0.5 about one abnormal cycle in eight
sounds normal and one normal cycle in thirteen carries a faint event.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DIFFICULTY = 0.5
# How much quieter "silent" abnormal cycles and unlabelled events in normal cycles are.
SILENT_DROP_DB = 25.0
SPURIOUS_DROP_DB = 6.0


@dataclass(frozen=True)
class DifficultySettings:
    """The generator's settings for one difficulty (see the module docstring)."""

    difficulty: float
    crackle_level_db: tuple[float, float]
    wheeze_level_db: tuple[float, float]
    crackles_per_cycle: float
    wheeze_coverage: tuple[float, float]
    ambient_db: float
    artifacts_per_second: float
    silent_share: float
    spurious_share: float
    one_sided_both_share: float
    recording_level_sd_db: float


def difficulty_settings(difficulty: float = DEFAULT_DIFFICULTY) -> DifficultySettings:
    """Turn ``difficulty`` in [0, 1] into the generator's settings."""
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    d = float(difficulty)
    return DifficultySettings(
        difficulty=d,
        crackle_level_db=(10.0 - 14.0 * d, 24.0 - 12.0 * d),
        wheeze_level_db=(-8.0 - 16.0 * d, 10.0 - 12.0 * d),
        crackles_per_cycle=10.0 - 7.0 * d,
        wheeze_coverage=(0.5 - 0.3 * d, 1.0 - 0.4 * d),
        ambient_db=-32.0 + 18.0 * d,
        artifacts_per_second=0.05 + 0.5 * d,
        silent_share=0.25 * d,
        spurious_share=0.15 * d,
        one_sided_both_share=0.3 * d,
        recording_level_sd_db=2.0 + 4.0 * d,
    )
