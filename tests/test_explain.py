"""Grad-CAM++ maps: shape and range, batching, state restored, physical axes, band mass, Fig. 3, plots."""

import librosa
import numpy as np
import pytest
import torch
from torch import nn

import respirelib  # noqa: F401  (must precede torchvision: installs the CPU import fix)
from respirelib.config import FeatureConfig
from respirelib.explain.gradcam import (
    band_mass, blank_band_attention, blank_band_attention_cycles, blank_image_rows, gradcam_maps, map_axes,
    resolve_layer, top_rows_mass,
)
from respirelib.model.network import ModelConfig, build_model
from respirelib.explain.figures import plot_clipping_attention, plot_gradcam_gallery, plot_gradcam_overlay

SMALL = (4, 3, 64, 96)
BAND = slice(40, 51)  # rows 40-50 decide the class of the band images


@pytest.fixture(scope="module")
def resnet():
    return build_model(ModelConfig(backbone="resnet18", pretrained="random"), seed=0)


@pytest.fixture(scope="module")
def images():
    return torch.rand(SMALL, generator=torch.Generator().manual_seed(0))


def test_maps_shape_range_and_dtype(resnet, images):
    maps = gradcam_maps(resnet, images)
    assert maps.shape == (SMALL[0], SMALL[2], SMALL[3])
    assert maps.dtype == np.float32
    assert np.isfinite(maps).all()
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    # pytorch-grad-cam scales each non-blank map to [0, 1] on its own.
    peaks = maps.reshape(len(maps), -1).max(axis=1)
    assert np.all((peaks > 0.99) | (peaks == 0))


def test_batched_equals_unbatched_and_targets(resnet, images):
    whole = gradcam_maps(resnet, images, batch_size=32)
    np.testing.assert_allclose(gradcam_maps(resnet, images, batch_size=2), whole, atol=1e-4)
    one_by_one = np.concatenate([gradcam_maps(resnet, images[i:i + 1]) for i in range(len(images))])
    np.testing.assert_allclose(one_by_one, whole, atol=1e-4)

    with torch.no_grad():
        predicted = resnet.eval()(images).argmax(dim=1).numpy()
    np.testing.assert_allclose(gradcam_maps(resnet, images, targets=predicted), whole, atol=1e-6)
    other = (predicted + 1) % 4
    assert not np.allclose(gradcam_maps(resnet, images, targets=other), whole, atol=1e-3)
    with pytest.raises(ValueError, match="targets"):
        gradcam_maps(resnet, images, targets=[0, 1])


def test_gradcam_method_and_numpy_input(resnet, images):
    plus = gradcam_maps(resnet, images.numpy(), targets=1)
    plain = gradcam_maps(resnet, images, targets=1, method="gradcam")
    assert plain.shape == plus.shape and 0 <= plain.min() and plain.max() <= 1
    assert not np.allclose(plain, plus, atol=1e-3)
    with pytest.raises(ValueError, match="method"):
        gradcam_maps(resnet, images, method="scorecam")


def test_model_mode_flags_and_grads_restored(images):
    model = build_model(ModelConfig(backbone="resnet18", pretrained="random"), seed=1)
    model.train()
    model.backbone.layer1.eval()  # a mixed state must come back as it was
    model.backbone.conv1.weight.requires_grad_(False)
    saved_grad = torch.ones_like(model.head[-1].weight)
    model.head[-1].weight.grad = saved_grad
    modes = {name: module.training for name, module in model.named_modules()}
    flags = {name: param.requires_grad for name, param in model.named_parameters()}
    running_mean = model.backbone.bn1.running_mean.clone()

    gradcam_maps(model, images[:2])

    assert {name: module.training for name, module in model.named_modules()} == modes
    assert {name: param.requires_grad for name, param in model.named_parameters()} == flags
    assert model.head[-1].weight.grad is saved_grad and torch.equal(saved_grad, torch.ones_like(saved_grad))
    assert all(param.grad is None for name, param in model.named_parameters() if name != "head.6.weight")
    assert torch.equal(model.backbone.bn1.running_mean, running_mean)  # eval mode while explaining


def test_layer_by_name_module_or_default(resnet, images):
    assert resolve_layer(resnet) is resnet.backbone.layer4[-1]
    assert resolve_layer(resnet, "backbone.layer4.1") is resnet.backbone.layer4[1]
    by_name = gradcam_maps(resnet, images[:2], layer="backbone.layer3", targets=0)
    by_module = gradcam_maps(resnet, images[:2], layer=resnet.backbone.layer3, targets=0)
    np.testing.assert_allclose(by_name, by_module, atol=1e-6)
    default = gradcam_maps(resnet, images[:2], targets=0)
    assert not np.allclose(by_name, default, atol=1e-3)
    with pytest.raises(ValueError, match="no layer"):
        resolve_layer(resnet, "backbone.layer9")
    with pytest.raises(ValueError, match="not part of the model"):
        resolve_layer(resnet, nn.Conv2d(3, 3, 1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_maps_on_gpu_match_cpu(resnet, images, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # compare float32 with float32
    cpu = gradcam_maps(resnet, images[:2], targets=[0, 2])
    model = build_model(ModelConfig(backbone="resnet18", pretrained="random"), seed=0).cuda()
    gpu = gradcam_maps(model, images[:2], targets=[0, 2])
    assert next(model.parameters()).is_cuda
    np.testing.assert_allclose(gpu, cpu, atol=2e-3)


class BandNet(nn.Module):
    """A small CNN; its last convolution block is the Grad-CAM target."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        )
        self.classifier = nn.Linear(32, 2)

    @property
    def target_layer(self) -> nn.Module:
        return self.features

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def band_images(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images; class 1 has extra energy in rows 40-50, across all columns."""
    labels = torch.arange(n) % 2
    images = 0.5 * torch.rand((n, 3, 64, 64), generator=generator)
    images[labels == 1, :, BAND] += 0.5
    return images, labels


def test_model_trained_on_a_band_puts_its_mass_there():
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BandNet()
    untrained = BandNet()
    untrained.load_state_dict(model.state_dict())
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(12):
        images, labels = band_images(32, generator)
        loss = nn.functional.cross_entropy(model(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    images, labels = band_images(16, generator)
    with torch.no_grad():
        assert (model(images).argmax(dim=1) == labels).float().mean() >= 0.95
    rows = np.arange(64.0)  # rows as their own "frequency", so the band is rows 40-50
    mass, before_training = (
        band_mass(gradcam_maps(net, images[labels == 1], targets=1), freqs_hz=rows,
                  low_hz=BAND.start, high_hz=BAND.stop - 1)
        for net in (model, untrained))
    uniform = (BAND.stop - BAND.start) / 64
    assert np.all(mass > 2 * uniform)
    assert mass.mean() > 3 * uniform
    # The band is brighter, so even random weights lean to it; training is what concentrates the map.
    assert mass.mean() > before_training.mean() + 0.15


def test_map_axes_match_librosa():
    config = FeatureConfig()
    centres = librosa.mel_frequencies(n_mels=66, fmin=50, fmax=2000)[1:-1]
    frame_times = librosa.frames_to_time(np.arange(32), sr=4000, hop_length=128)

    times, freqs = map_axes((64, 32), feature_config=config, n_samples=4000)
    np.testing.assert_allclose(freqs, centres, rtol=1e-9)
    np.testing.assert_allclose(times, frame_times, atol=1e-12)

    # 3x image: every third row/column, starting at 1, is a band centre / frame centre.
    for kwargs in ({"n_samples": 4000}, {"duration": 1.0}, {}):
        times, freqs = map_axes((3, 192, 96), feature_config=config, **kwargs)
        assert times.shape == (96,) and freqs.shape == (192,)
        np.testing.assert_allclose(freqs[1::3], centres, rtol=1e-9)
        np.testing.assert_allclose(times[1::3], frame_times, atol=1e-12)

    # After clipping 16 blank rows the 48 kept bands fill the height: 144 rows = 3 per band.
    _, clipped = map_axes((144, 96), feature_config=config, n_blank_rows=16)
    np.testing.assert_allclose(clipped[1::3], centres[:48], rtol=1e-9)
    assert clipped[-1] < centres[48]
    assert np.all(np.diff(clipped) > 0)
    with pytest.raises(ValueError, match="n_blank_rows"):
        map_axes((64, 32), n_blank_rows=64)


def test_band_mass_on_hand_made_maps():
    freqs = np.array([100.0, 200.0, 300.0, 400.0])
    maps = np.stack([np.repeat(np.array([[1.0], [2.0], [3.0], [4.0]]), 2, axis=1), np.zeros((4, 2))])
    np.testing.assert_allclose(band_mass(maps, freqs_hz=freqs, low_hz=250, high_hz=450), [0.7, 0.0])
    np.testing.assert_allclose(band_mass(maps, freqs_hz=freqs, low_hz=200, high_hz=300), [0.5, 0.0])
    assert band_mass(maps[0], freqs_hz=freqs, low_hz=0, high_hz=50) == 0.0
    with pytest.raises(ValueError, match="one frequency per row"):
        band_mass(maps, freqs_hz=freqs[:3], low_hz=0, high_hz=1)

    np.testing.assert_allclose(top_rows_mass(maps, np.array([2, 2])), [0.7, 0.0])
    np.testing.assert_allclose(top_rows_mass(maps[:1], 0), [0.0])
    np.testing.assert_array_equal(blank_image_rows([0, 11, 16], height=192, n_mels=64), [0, 33, 48])


class Intensity(nn.Module):
    """A model whose Grad-CAM++ map of class 0 is the min-max scaled image intensity."""

    def __init__(self):
        super().__init__()
        self.target_layer = nn.Conv2d(3, 1, 1, bias=False)
        nn.init.constant_(self.target_layer.weight, 1 / 3)

    def forward(self, x):
        level = self.target_layer(x).mean(dim=(2, 3))
        return torch.cat([level, -level], dim=1)


def fake_frontend(calls: list):
    """Cycles are their blank-row counts; images: blank rows bright before clipping, dim after."""
    def make_images(cycles, clip):
        calls.append((np.asarray(cycles).tolist(), clip))
        n_blank = np.asarray(cycles)
        top = np.arange(64)[None, :] >= 64 - n_blank[:, None]
        inside, outside = (0.5, 1.0) if clip else (1.0, 0.5)
        rows = np.where(top, inside, outside)
        rows[:, 0] = 0.0  # the minimum, so the map equals the rows' levels
        images = np.broadcast_to(rows[:, None, :, None], (len(n_blank), 3, 64, 8))
        return torch.as_tensor(images.copy(), dtype=torch.float32), n_blank
    return make_images


def expected_masses(b: int) -> tuple[float, float]:
    before = b * 1.0 / ((63 - b) * 0.5 + b * 1.0)
    after = b * 0.5 / ((63 - b) * 1.0 + b * 0.5)
    return before, after


def test_blank_band_attention_on_a_fake_frontend():
    config = FeatureConfig(image_scale=1)
    cycles = np.array([16, 0, 20, 4, 16, 2])
    devices = ["A", "A", "A", "B", "B", "C"]
    calls = []
    per_cycle = blank_band_attention_cycles(Intensity(), cycles, devices, make_images=fake_frontend(calls),
                                            feature_config=config, batch_size=4)
    # 11 bands are centred at or above 1.5 kHz: only cycles with >= 11 blank rows take part.
    assert per_cycle["cycle"].tolist() == [0, 2, 4]
    assert calls == [([16, 0, 20, 4], False), ([16, 20], True), ([16, 2], False), ([16], True)]
    assert per_cycle["target_before"].tolist() == [0, 0, 0]
    expected = np.array([expected_masses(b) for b in (16, 20, 16)])
    np.testing.assert_allclose(per_cycle[["mass_before", "mass_after"]].to_numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(per_cycle["area_share"], [16 / 64, 20 / 64, 16 / 64])

    summary = blank_band_attention(Intensity(), cycles, devices, make_images=fake_frontend([]),
                                   feature_config=config, labels=[0] * 6, batch_size=4)
    assert summary["device"].tolist() == ["A", "B", "C", "all"]
    assert summary["n_total"].tolist() == [3, 2, 1, 6]
    assert summary["n_cycles"].tolist() == [2, 1, 0, 3]
    np.testing.assert_allclose(summary.loc[0, ["mass_before", "mass_after"]].to_numpy(dtype=float),
                               expected[:2].mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(summary.loc[3, ["mass_before", "mass_after"]].to_numpy(dtype=float),
                               expected.mean(axis=0), atol=1e-5)
    assert summary.loc[2, ["mass_before", "mass_after", "area_share"]].isna().all()

    none = blank_band_attention(Intensity(), cycles[[1, 3]], ["A", "B"], make_images=fake_frontend([]),
                                feature_config=config)
    assert none["n_cycles"].tolist() == [0, 0, 0]


def assert_time_frequency_axes(ax):
    assert "(s)" in ax.get_xlabel() and "Hz" in ax.get_ylabel()


def test_plots_have_time_and_frequency_axes(rng):
    config = FeatureConfig()
    spec = rng.random((64, 32))
    cam = rng.random((192, 96)).astype(np.float32)
    times, freqs = map_axes(cam.shape, feature_config=config, n_samples=4000)

    fig = plot_gradcam_overlay(spec, cam, times_s=times, freqs_hz=freqs, title="a cycle")
    ax = fig.axes[0]
    assert_time_frequency_axes(ax)
    assert ax.get_title() == "a cycle" and len(fig.axes) == 2  # the colour bar
    labels = [float(label.get_text()) for label in ax.get_yticklabels()]
    assert labels and min(labels) >= freqs[0] and max(labels) <= freqs[-1]

    image = torch.rand((3, 192, 96))
    fig = plot_gradcam_gallery([spec, image, spec], [cam, cam, cam], titles=["a", "b", "c"], times_s=times,
                               freqs_hz=[freqs, freqs, freqs], ncols=2)
    shown = [ax for ax in fig.axes if ax.get_title() in ("a", "b", "c")]
    assert len(shown) == 3
    for ax in shown:
        assert_time_frequency_axes(ax)

    _, clipped_freqs = map_axes(cam.shape, feature_config=config, n_samples=4000, n_blank_rows=16)
    fig = plot_clipping_attention(spec, cam, spec, cam, times_s=times, before_freqs_hz=freqs,
                                  after_freqs_hz=clipped_freqs, n_blank_rows=16, title="Fig. 3")
    before, after = fig.axes[:2]
    for ax in (before, after):
        assert_time_frequency_axes(ax)
    share = top_rows_mass(cam[None], 48)[0]
    assert f"{100 * share:.0f}%" in before.get_title()
    with pytest.raises(ValueError, match="len"):
        plot_gradcam_overlay(spec, cam, times_s=times[:10], freqs_hz=freqs)
