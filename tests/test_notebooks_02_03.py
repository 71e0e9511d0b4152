"""Notebooks 02 (pre-processing) and 03 (augmentation) run headlessly on a tiny synthetic set."""

from __future__ import annotations

import json

import pytest

from respirelib.config import CLASS_NAMES

pytestmark = pytest.mark.notebook


def _figures(run_dir) -> set[str]:
    return {p.stem for p in (run_dir / "figures").glob("*.png")}


def test_02_preprocessing(smoke_pipeline, tiny_synthetic):
    from respirelib.data.icbhi import load_icbhi
    from respirelib.signal.leakage import padding_leak_summary
    from respirelib.training.profiles import get_profile
    from tests.conftest import REPO_ROOT

    numbers = json.loads((smoke_pipeline / "02_preprocessing.json").read_text())
    assert numbers["data"] == "synthetic"
    # The step-by-step chain equals the one call, and each step did what it says.
    assert numbers["max_difference_from_one_call"] < 1e-5
    assert numbers["peak_after"] == pytest.approx(1.0, abs=1e-6)
    assert abs(numbers["samples_4k"] - numbers["samples_raw"] * 4000 / numbers["sample_rate_raw"]) <= 1
    assert numbers["filter_gain_db"]["50"] == pytest.approx(-3.0, abs=0.05)
    assert numbers["filter_gain_db"]["1000"] == pytest.approx(0.0, abs=0.05)
    padding = numbers["padding_sources"]
    assert set(padding) == {"zero", "reflect", "smart", "context"}
    for shares in padding.values():
        assert sum(shares.values()) == pytest.approx(1.0)
    assert padding["zero"]["zeros"] > 0 and padding["reflect"]["zeros"] == 0
    assert padding["smart"]["neighbours"] > 0, "the example was chosen so that smart padding borrows a neighbour"
    assert padding["context"]["neighbours"] >= padding["smart"]["neighbours"]
    # ... and so that smart (label-aware) and context (label-free) padding differ: the difference is shown.
    assert numbers["smart_differs_from_context"] is True and padding["smart"] != padding["context"]
    leak = numbers["padding_leak"]
    assert leak["n_short"] >= leak["n_differs"] > 0 and leak["n_short_normal"] >= leak["n_normal_refused_abnormal"]
    # The count on the notebook's own data, recomputed from the annotations it read at the profile's length.
    audio = get_profile("smoke").audio
    assert leak["input_seconds"] == audio.cycle_duration and "synthetic" in leak["source"]
    recomputed = padding_leak_summary(load_icbhi(tiny_synthetic, audio="ignore").cycles, part="test",
                                      duration=audio.cycle_duration, reach=audio.smart_reach)
    assert {key: leak[key] for key in recomputed} == recomputed
    # Beside it, the shipped record of the real annotations (tests/test_leakage.py recomputes it from ../shared).
    recorded = json.loads((REPO_ROOT / "results" / "padding_leak_icbhi.json").read_text())["by_duration"]
    assert numbers["padding_leak_recorded_icbhi"] == {key: recorded[key] for key in ("3", "7")}
    assert numbers["long_cycle_windows"] >= numbers["long_cycles"]
    assert {"02_step1_raw", "02_step2_resampled", "02_step3_filter_response", "02_step4_normalised",
            "02_spectrogram_before", "02_spectrogram_after", "02_padding_strategies"} <= _figures(smoke_pipeline)


def test_03_augmentation(smoke_pipeline):
    import os
    from pathlib import Path

    assert list(Path(os.environ["RESPIRENET_CACHE"]).glob("cycles-*")), "the cache goes where RESPIRENET_CACHE says"
    run_dir = smoke_pipeline
    numbers = json.loads((run_dir / "03_augmentation.json").read_text())
    assert numbers["data"] == "synthetic"
    balance = numbers["class_balance"]
    before, after = balance["training cycles"], balance["+ concatenation"]
    assert sum(before.values()) == numbers["train_cycles"]
    assert sum(after.values()) - sum(before.values()) == numbers["concatenation"]["new_samples"] > 0
    # With concat_scale 1 every class is brought up to the normal count, normal itself unchanged.
    assert after["normal"] == before["normal"]
    assert all(after[name] == before["normal"] for name in CLASS_NAMES)
    assert sum(balance["weighted sampler alone, one epoch"].values()) == numbers["train_cycles"]
    assert numbers["augmentations"] == ["noise", "speed", "loudness", "pitch", "circular shift"]
    per_device = numbers["blank_regions"]["per_device"]
    # The synthetic Litt3200 leaves nothing above 1.5 kHz; the AKG microphone records the full band.
    assert per_device["Litt3200"]["band_blank"] >= 0.9
    assert per_device["AKGC417L"]["band_blank"] <= 0.1
    example = numbers["blank_regions"]["example"]
    # The clipping example is the cycle with the most blank rows, and the figure shows that count.
    assert example["blank_rows"] == example["blank_rows_shown"] > 0
    assert example["blank_rows"] >= max(row["mean_blank_rows"] for row in per_device.values())
    assert {"03_concatenation", "03_class_balance", "03_augmentations", "03_blank_fraction_per_device",
            "03_blank_region_clipping"} <= _figures(run_dir)
