"""Where each profile's synthetic default lives, and with which difficulty it is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import respirelib.data.data_dirs as data_dirs
import respirelib.data.synth as synth
from respirelib.data.synth.difficulty import DEFAULT_DIFFICULTY
from respirelib.data.synth.sound import SOUND_VERSION
from respirelib.training.profiles import get_profile, profile_data_dir


def test_a_difficulty_gets_its_own_folder_and_every_name_carries_the_sound_model():
    assert data_dirs.default_synthetic_dir(scale=0.5, seed=0).name == f"synthetic-scale0.5-seed0-sound{SOUND_VERSION}"
    assert data_dirs.default_synthetic_dir(scale=0.5, seed=0, difficulty=0.3).name == \
        f"synthetic-scale0.5-seed0-difficulty0.3-sound{SOUND_VERSION}"


def test_a_set_of_an_older_sound_model_is_not_reused(tmp_path, monkeypatch):
    """A default set written before the generator's sound changed stays where it is; a new one is written."""
    import respirelib.data.synth.sound as sound

    written = _fake_writer(monkeypatch, tmp_path)
    monkeypatch.setattr(sound, "SOUND_VERSION", SOUND_VERSION - 1)
    old = profile_data_dir(None, "smoke", progress=False)
    monkeypatch.setattr(sound, "SOUND_VERSION", SOUND_VERSION)
    new = profile_data_dir(None, "smoke", progress=False)
    assert old != new and len(written) == 2 and new.name.endswith(f"-sound{SOUND_VERSION}")


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


NOTEBOOK_SOURCES = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("0*_*.py"))


def _parameters(source: str) -> dict:
    """The values of a notebook's ``parameters`` cell (py:percent twin)."""
    cell = source.split('# %% tags=["parameters"]\n', 1)[1].split("\n# %%", 1)[0]
    values: dict = {}
    exec(cell, values)
    return {name: value for name, value in values.items() if not name.startswith("__")}


def _data_line(source: str) -> str:
    lines = [line.strip() for line in source.splitlines() if "resolve_notebook_data(" in line
             and not line.lstrip().startswith(("from ", "import ", "#"))]
    assert len(lines) == 1, "one data call per notebook"
    return lines[0]


def test_every_notebook_resolves_its_data_through_one_call():
    assert [path.name[:2] for path in NOTEBOOK_SOURCES] == ["01", "02", "03", "04", "05", "06", "07"]
    for path in NOTEBOOK_SOURCES:
        source = path.read_text()
        assert "resolve_notebook_data(data_dir, profile" in _data_line(source), path.name
        assert "resolve_data_dir(" not in source and "profile_data_dir(" not in source, path.name


def _fake_writer(monkeypatch, tmp_path) -> list:
    monkeypatch.setattr(data_dirs, "REPO_ROOT", tmp_path)
    written = []

    def record_write(out_dir, **kwargs):
        written.append((out_dir, kwargs))
        out_dir.mkdir(parents=True)
        (out_dir / data_dirs.SYNTHETIC_MARKER).write_text(json.dumps({"synthetic": True, **kwargs}))

    monkeypatch.setattr(synth, "write_synthetic_icbhi", record_write)
    return written


def test_notebooks_run_alone_resolve_the_data_the_pipeline_uses_and_say_which(tmp_path, monkeypatch, capsys):
    from respirelib.experiments.notebook import resolve_notebook_data

    written = _fake_writer(monkeypatch, tmp_path)
    resolved = {}
    for path in NOTEBOOK_SOURCES[:5]:  # 06 and 07 take the data of the model they look at (next test)
        source = path.read_text()
        namespace = {**_parameters(source), "resolve_notebook_data": resolve_notebook_data}
        exec(_data_line(source), namespace)
        resolved[path.name[:2]] = namespace["data_path"]
    assert len(set(resolved.values())) == 1, resolved  # 01 analyses the set 04 trains on
    assert len(written) == 1 and written[0][1]["scale"] == 0.5 and written[0][1]["difficulty"] == 0.3
    assert resolved["01"] == profile_data_dir(None, "quick")  # what `respirenet pipeline` passes as data_dir
    said = capsys.readouterr().out
    assert f"data: SYNTHETIC ICBHI-shaped dataset (scale 0.5, difficulty 0.3, seed 0): {resolved['01']}" in said
    given = tmp_path / "icbhi"
    given.mkdir()
    assert resolve_notebook_data(str(given), "quick") == given and len(written) == 1
    assert f"no synthetic marker: real recordings): {given}" in capsys.readouterr().out


def test_a_trained_run_brings_its_own_data(tmp_path, monkeypatch, capsys):
    from respirelib.experiments.notebook import resolve_notebook_data

    written = _fake_writer(monkeypatch, tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"data_dir": str(tmp_path / "elsewhere")}))
    assert resolve_notebook_data(None, "quick", trained_run=run) == tmp_path / "elsewhere"
    assert resolve_notebook_data(str(tmp_path / "given"), "quick", trained_run=run) == tmp_path / "given"
    assert resolve_notebook_data(None, "smoke", trained_run=tmp_path / "no-run").name == \
        f"synthetic-scale0.03-seed0-sound{SOUND_VERSION}"
    assert len(written) == 1
