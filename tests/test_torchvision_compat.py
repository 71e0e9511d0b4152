"""torchvision (and pytorch-grad-cam) import after ``import respirelib``, even on CPU-only torch."""

from __future__ import annotations

import subprocess
import sys

from respirelib import _torchvision_compat


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_torchvision_and_grad_cam_import_after_respirelib():
    result = _run("import respirelib, sys\n"
                  "assert 'torch' not in sys.modules, 'import respirelib must stay cheap'\n"
                  "import torchvision, pytorch_grad_cam, torch\n"
                  "m = torchvision.models.resnet18(weights=None)\n"
                  "print(tuple(m.eval()(torch.zeros(1, 3, 32, 32)).shape))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 1000)"


def test_operators_are_declared_only_when_torchvision_cannot_load_its_own(monkeypatch):
    monkeypatch.setattr(_torchvision_compat, "torchvision_operators_load", lambda: True)
    assert _torchvision_compat.register_missing_operators() == []


def test_declared_schemas_match_what_torchvision_registers_fakes_for():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("torchvision")
    source = (Path(spec.origin).parent / "_meta_registrations.py").read_text()
    for name in _torchvision_compat.MISSING_OPERATOR_SCHEMAS:
        assert f'register_fake("torchvision::{name}")' in source
