"""Tests that need ../shared: a clean skip for a user, a failure under CI where ../shared must be present."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT, SHARED_ANNOTATIONS, require_shared


def test_missing_shared_skips_outside_ci_and_fails_under_ci(tmp_path, monkeypatch):
    missing = tmp_path / "shared" / "icbhi-annotations"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="icbhi-annotations is not present"):
        require_shared(missing)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require_shared(missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="icbhi-annotations is not present"):
        require_shared(missing)


def test_present_shared_is_returned_under_ci_or_not(tmp_path, monkeypatch):
    folder = tmp_path / "icbhi-annotations"
    folder.mkdir()
    (folder / "ICBHI_challenge_train_test.txt").write_text("101_1b1_Al_sc_Meditron\ttrain\n")
    for ci in ("true", None):
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        assert require_shared(folder) == folder


def test_the_default_is_the_folder_beside_the_repository():
    assert SHARED_ANNOTATIONS == REPO_ROOT.parent / "shared" / "icbhi-annotations"
