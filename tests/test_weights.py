"""Finding and verifying torchvision ImageNet checkpoints, with checkpoints the tests write.

No test touches the network: downloads are disabled by ``$RESPIRENET_OFFLINE`` and
the download path is exercised with ``urlopen`` and the downloader replaced.
"""

import hashlib
import shutil
import urllib.error

import pytest
import torch

import respirelib  # noqa: F401  (must precede torchvision: installs the CPU import fix)
import torchvision.models

from respirelib.model import weights
from respirelib.errors import DataError
from respirelib.model.weights import (
    OFFLINE_ENV,
    WEIGHTS_DIR_ENV,
    WeightsIntegrityError,
    WeightsNotFoundError,
    WeightsSpec,
    find_imagenet_checkpoint,
    imagenet_weights_spec,
    load_imagenet_state_dict,
    search_dirs,
    sha256_of,
    verify_checkpoint,
)


pytestmark = pytest.mark.usefixtures("offline_weights")


def test_spec_comes_from_torchvision():
    spec = imagenet_weights_spec("resnet34")
    url = torchvision.models.ResNet34_Weights.IMAGENET1K_V1.url
    assert spec.url == url
    assert spec.file_name == url.rsplit("/", 1)[-1]
    assert spec.file_name == f"resnet34-{spec.hash_prefix}.pth"
    assert len(spec.hash_prefix) >= 8
    assert imagenet_weights_spec("resnet50").url == torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url
    with pytest.raises(ValueError, match="resnet101"):
        imagenet_weights_spec("resnet101")


def test_sha256_of_matches_hashlib(fake_resnet18):
    path, spec, _ = fake_resnet18
    assert sha256_of(path, chunk_size=4096) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert verify_checkpoint(path, spec.hash_prefix) == path


def test_search_order(tmp_path, monkeypatch, fake_resnet18):
    path, spec, _ = fake_resnet18
    explicit, from_env = tmp_path / "explicit", tmp_path / "env"
    cache = tmp_path / "torch_home" / "hub" / "checkpoints"
    for directory in (explicit, from_env, cache):
        directory.mkdir(parents=True)
        shutil.copy(path, directory / spec.file_name)
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(from_env))
    assert search_dirs(explicit) == [explicit, from_env, cache]

    assert find_imagenet_checkpoint(spec, weights_dir=explicit) == explicit / spec.file_name
    (explicit / spec.file_name).unlink()
    assert find_imagenet_checkpoint(spec, weights_dir=explicit) == from_env / spec.file_name
    monkeypatch.delenv(WEIGHTS_DIR_ENV)
    assert find_imagenet_checkpoint(spec) == cache / spec.file_name


def test_wrong_hash_is_rejected_and_not_skipped(tmp_path, fake_resnet18):
    path, spec, _ = fake_resnet18
    # Random weights under torchvision's real file name: the hash cannot match.
    real = imagenet_weights_spec("resnet18")
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    shutil.copy(path, bad_dir / real.file_name)
    with pytest.raises(WeightsIntegrityError) as error:
        find_imagenet_checkpoint(real, weights_dir=bad_dir)
    message = str(error.value)
    assert message.startswith(str(bad_dir / real.file_name))
    assert real.hash_prefix in message and sha256_of(path)[:16] in message
    assert isinstance(error.value, DataError)


def test_missing_checkpoint_message_names_file_url_and_dirs(tmp_path, fake_resnet18):
    _, spec, _ = fake_resnet18
    with pytest.raises(WeightsNotFoundError) as error:
        find_imagenet_checkpoint(spec, weights_dir=tmp_path / "nowhere", allow_download=False)
    message = str(error.value)
    assert message.startswith(spec.file_name)
    for expected in (spec.url, str(tmp_path / "nowhere"), str(tmp_path / "torch_home" / "hub" / "checkpoints"),
                     WEIGHTS_DIR_ENV, "--init random", "allow_download=False"):
        assert expected in message
    assert error.value.url == spec.url


def test_offline_env_skips_download(monkeypatch, fake_resnet18):
    _, spec, _ = fake_resnet18

    def must_not_run(*args, **kwargs):
        raise AssertionError("download attempted although offline")

    monkeypatch.setattr(weights, "_download", must_not_run)
    with pytest.raises(WeightsNotFoundError, match=OFFLINE_ENV):
        find_imagenet_checkpoint(spec, allow_download=True)


def test_failed_download_is_reported(monkeypatch, fake_resnet18):
    _, spec, _ = fake_resnet18
    monkeypatch.delenv(OFFLINE_ENV)

    def unreachable(request, timeout):
        assert timeout <= 10
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(weights.urllib.request, "urlopen", unreachable)
    with pytest.raises(WeightsNotFoundError, match="download failed .*Name or service not known"):
        find_imagenet_checkpoint(spec)


def test_successful_download_lands_in_cache(tmp_path, monkeypatch, fake_resnet18):
    path, spec, _ = fake_resnet18
    monkeypatch.delenv(OFFLINE_ENV)

    class Reachable:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_download(url, dst, hash_prefix=None, progress=True):
        assert url == spec.url and hash_prefix == spec.hash_prefix
        shutil.copy(path, dst)

    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda request, timeout: Reachable())
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    found = find_imagenet_checkpoint(spec)
    assert found == tmp_path / "torch_home" / "hub" / "checkpoints" / spec.file_name
    assert found.read_bytes() == path.read_bytes()


def test_load_state_dict_returns_saved_tensors(fake_resnet18):
    path, spec, saved = fake_resnet18
    state_dict, found = load_imagenet_state_dict("resnet18", weights_dir=path.parent, spec=spec)
    assert found == path
    assert state_dict.keys() == saved.keys()
    assert all(torch.equal(state_dict[key], saved[key]) for key in saved)


def test_unreadable_checkpoint_with_valid_hash(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a torch file")
    digest = sha256_of(garbage)
    path = garbage.rename(tmp_path / f"resnet18-{digest[:8]}.pth")
    spec = WeightsSpec(backbone="resnet18", url=f"https://example.invalid/{path.name}")
    with pytest.raises(DataError, match="cannot be read"):
        load_imagenet_state_dict("resnet18", weights_dir=tmp_path, spec=spec)
