"""Where each profile's synthetic default lives, and with which difficulty it is written."""

from __future__ import annotations

import pytest

import respirelib.data.data_dirs as data_dirs
import respirelib.data.synth as synth
from respirelib.data.synth.difficulty import DEFAULT_DIFFICULTY
from respirelib.training.profiles import get_profile, profile_data_dir


def test_a_difficulty_gets_its_own_folder_and_the_default_keeps_the_old_name():
    assert data_dirs.default_synthetic_dir(scale=0.5, seed=0).name == "synthetic-scale0.5-seed0"
    assert data_dirs.default_synthetic_dir(scale=0.5, seed=0, difficulty=0.3).name == \
        "synthetic-scale0.5-seed0-difficulty0.3"


@pytest.mark.parametrize("profile, scale, difficulty", [("quick", 0.5, 0.3), ("paper", 1.0, DEFAULT_DIFFICULTY),
                                                         ("smoke", 0.03, DEFAULT_DIFFICULTY)])
def test_each_profile_writes_its_own_synthetic_set(tmp_path, monkeypatch, profile, scale, difficulty):
    monkeypatch.setattr(data_dirs, "REPO_ROOT", tmp_path)
    written = []

    def record_write(out_dir, **kwargs):
        written.append((out_dir, kwargs))
        out_dir.mkdir(parents=True)
        (out_dir / data_dirs.SYNTHETIC_MARKER).write_text("{}")

    monkeypatch.setattr(synth, "write_synthetic_icbhi", record_write)
    path = profile_data_dir(None, profile, progress=False)
    assert written == [(path, {"scale": scale, "seed": 0, "difficulty": difficulty, "progress": False})]
    assert path.parent == tmp_path / "data"
    assert ("difficulty" in path.name) == (get_profile(profile).synthetic_difficulty is not None)
    assert profile_data_dir(None, profile, progress=False) == path and len(written) == 1  # written once
    assert profile_data_dir(tmp_path / "mine", profile) == tmp_path / "mine"  # a given folder is used as is
