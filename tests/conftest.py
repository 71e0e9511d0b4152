"""Shared fixtures: tiny hand-made ICBHI folders and the real annotation files from ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import hashlib

import numpy as np
import pytest
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_ANNOTATIONS = REPO_ROOT.parent / "shared" / "icbhi-annotations"
SHARED_AUDIO_SAMPLE = REPO_ROOT.parent / "shared" / "icbhi-audio-sample"
SPLIT_FILE = "ICBHI_challenge_train_test.txt"


# `make test` runs the suite on two pytest-xdist workers (much of it waits on subprocesses, imports
# and notebook kernels). The notebook pipeline behind the ``smoke_pipeline`` fixture takes about two
# minutes, so the modules that use it run on one worker and it is built once; every other module
# is a unit of its own. (pytest-xdist's own --dist loadgroup cannot do this under pytest 9: it
# marks a group by rewriting a node id that pytest 9 no longer reads.)
PIPELINE_FIXTURE = "smoke_pipeline"
PIPELINE_MODULES = frozenset({"test_book.py", "test_notebook_06.py", "test_notebooks.py",
                              "test_notebooks_02_03.py", "test_readme_results.py"})


def worker_scope(nodeid: str) -> str:
    """The unit of tests that one xdist worker runs together: the pipeline's modules, or one module."""
    module = nodeid.split("::", 1)[0]
    return PIPELINE_FIXTURE if Path(module).name in PIPELINE_MODULES else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class PipelineOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid)

    return PipelineOnOneWorker(config, log)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` skip, saying why, where torch sees no GPU; a module that uses the pipeline
    fixture outside :data:`PIPELINE_MODULES` stops the run."""
    strays = sorted({item.path.name for item in items if PIPELINE_FIXTURE in getattr(item, "fixturenames", ())}
                    - PIPELINE_MODULES)
    if strays:
        raise pytest.UsageError(f"{', '.join(strays)} use(s) the {PIPELINE_FIXTURE} fixture: add them to "
                                "PIPELINE_MODULES in tests/conftest.py, or two test workers build it twice")
    cuda_items = [item for item in items if item.get_closest_marker("cuda")]
    if not cuda_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason=f"needs a CUDA GPU; this torch ({torch.__version__}) sees none")
    for item in cuda_items:
        item.add_marker(skip)


def shared_present(folder: Path = SHARED_ANNOTATIONS, *, marker: str = SPLIT_FILE) -> bool:
    """Whether ``folder`` holds its ../shared files (``marker``, by default the split file, marks a complete copy)."""
    return (folder / marker).is_file()


def require_shared(folder: Path = SHARED_ANNOTATIONS, *, marker: str = SPLIT_FILE) -> Path:
    """``folder``, the real ICBHI annotation files from ../shared; without them a skip, or under CI a failure.

    ../shared sits beside the repository in its CI only, so a user's ``make test`` skips what needs
    it and says why; under CI (``CI=true``) a missing ../shared fails instead, as a missing
    browser does (tests/test_browser_explorer.py): a broken checkout must not pass as skips.
    """
    if shared_present(folder, marker=marker):
        return folder
    message = f"{folder} is not present: ../shared sits beside the repository in its CI only"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def shared_annotations() -> Path:
    """The real ICBHI annotation files (see :func:`require_shared`)."""
    return require_shared()


@pytest.fixture
def audio_sample() -> Path:
    """The six real ICBHI recordings with their annotations (see :func:`require_shared`)."""
    return require_shared(SHARED_AUDIO_SAMPLE, marker="101_1b1_Al_sc_Meditron.wav")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def write_recording(folder: Path, name: str, rows: list[str], *, sr: int = 4000, seconds: float = 6.0,
                    channels: int = 1, subtype: str = "PCM_16", audio: bool = True) -> None:
    """Write ``name.txt`` with ``rows`` and (optionally) ``name.wav`` with quiet noise."""
    (folder / f"{name}.txt").write_text("\n".join(rows) + "\n")
    if audio:
        samples = np.random.default_rng(len(name)).normal(0, 0.05, (int(sr * seconds), channels))
        sf.write(folder / f"{name}.wav", samples.astype(np.float32), sr, subtype=subtype)


TINY_RECORDINGS = {
    "101_1b1_Al_sc_Meditron": ["0.1\t1.5\t0\t0", "1.5\t3.2\t1\t0", "3.2\t5.0\t0\t1"],
    "102_1b1_Ar_sc_Meditron": ["0.0\t2.0\t1\t1", "2.0\t4.0\t0\t0"],
    "103_2b2_Ar_mc_LittC2SE": ["0.5\t2.5\t0\t0", "2.5\t4.5\t1\t0"],
    "104_1b1_Ll_sc_Litt3200": ["0.2\t2.2\t0\t1", "2.2\t4.0\t0\t0"],
    "105_1b1_Tc_sc_AKGC417L": ["0.3\t2.0\t0\t0", "2.0\t3.9\t0\t0"],
}


@pytest.fixture
def tiny_icbhi(tmp_path) -> Path:
    """A five-recording ICBHI folder in the real layout, with audio, split, diagnosis and demographics."""
    folder = tmp_path / "icbhi"
    folder.mkdir()
    for name, rows in TINY_RECORDINGS.items():
        write_recording(folder, name, rows)
    parts = ["train", "test", "train", "test", "train"]
    (folder / "ICBHI_challenge_train_test.txt").write_bytes(
        "".join(f"{name}\t{part}\r\n" for name, part in zip(TINY_RECORDINGS, parts)).encode())
    (folder / "patient_diagnosis.csv").write_text("101,URTI\n102,COPD\n103,COPD\n104,Healthy\n105,COPD\n")
    (folder / "demographic_info.txt").write_text(
        "\n101 3 F NA 19 99\n102 70 M 25.1 NA NA\n103 NA NA NA NA NA\n104 50 F 22 NA NA\n105 60 M 30 NA NA")
    return folder


TINY_SYNTHETIC_SCALE = 0.03


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory) -> Path:
    """A tiny synthetic ICBHI-shaped dataset (written once per test session)."""
    from respirelib.data.synth import write_synthetic_icbhi

    out = tmp_path_factory.mktemp("synthetic") / "icbhi"
    write_synthetic_icbhi(out, scale=TINY_SYNTHETIC_SCALE, seed=0, progress=False)
    return out


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory):
    """Caches, weights lookups and downloads stay inside the test session's temporary folder."""
    base = tmp_path_factory.getbasetemp()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESPIRENET_CACHE", str(base / "cycle-cache"))
        patch.setenv("RESPIRENET_OFFLINE", "1")
        patch.setenv("TORCH_HOME", str(base / "torch-home"))
        patch.delenv("RESPIRENET_WEIGHTS_DIR", raising=False)
        patch.setenv("RESPIRENET_CELL_TIMEOUT", "900")  # a hung notebook fails its test, not the whole suite
        yield


@pytest.fixture(scope="session")
def smoke_run(tiny_synthetic, tmp_path_factory, _isolated_environment) -> Path:
    """One smoke-profile run (random init) trained, fine-tuned and evaluated; shared, treat it as read-only."""
    from respirelib.experiments.run import evaluate_run, finetune_run, train_run

    run_dir = tmp_path_factory.mktemp("smoke-run") / "official-full-seed0"
    train_run(tiny_synthetic, run_dir, profile="smoke", init="random", seed=0, progress=False)
    finetune_run(run_dir, progress=False)
    evaluate_run(run_dir, progress=False)
    return run_dir


@pytest.fixture(scope="session")
def smoke_pipeline(tiny_synthetic, tmp_path_factory, _isolated_environment) -> Path:
    """Every numbered notebook, run once by the headless pipeline in the smoke profile.

    Its init is the demo's default, ``imagenet-if-available``, which falls back to random init here (the smoke
    network has no ImageNet weights), so the notebooks say so as a demo's would.
    """
    from respirelib.apps.pipeline import PipelineRequest, run_pipeline

    out = tmp_path_factory.mktemp("pipeline") / "smoke"
    request = PipelineRequest(profile="smoke", data_dir=str(tiny_synthetic), seed=0, device="cpu",
                              init="imagenet-if-available")
    return run_pipeline(out=out, request=request, progress=False)


@pytest.fixture(scope="session")
def model_file(smoke_run, tmp_path_factory) -> Path:
    """``smoke_run`` exported as one model file (``respirenet export``); shared, treat it as read-only."""
    from respirelib.inference.export import export_model

    out = tmp_path_factory.mktemp("export") / "smoke.pt"
    export_model(smoke_run, out)
    return out


def write_named_checkpoint(directory: Path, arch: str, state_dict) -> Path:
    """Save like torchvision does: ``<arch>-<first 8 hex of the file's sha256>.pth``."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f"{arch}.staging"
    torch.save(state_dict, staging)
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()
    return staging.rename(directory / f"{arch}-{digest[:8]}.pth")


@pytest.fixture
def offline_weights(tmp_path, monkeypatch):
    """No weights directory, an empty torchvision cache, and no download attempts."""
    from respirelib.model.weights import OFFLINE_ENV, WEIGHTS_DIR_ENV

    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.delenv(WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture(scope="session")
def fake_resnet18(tmp_path_factory):
    """A resnet18 checkpoint with seeded random weights and a torchvision-style name: (path, spec, state)."""
    import torch
    import torchvision

    from respirelib.model.weights import WeightsSpec

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        state_dict = torchvision.models.resnet18(weights=None).state_dict()
    path = write_named_checkpoint(tmp_path_factory.mktemp("weights"), "resnet18", state_dict)
    spec = WeightsSpec(backbone="resnet18", url=f"https://example.invalid/models/{path.name}")
    return path, spec, state_dict
