"""RespireNet: shapes, the reference head, ImageNet loading, random-init refusal."""


import numpy as np
import pytest
import torch
from torch import nn

import respirelib  # noqa: F401  (must precede torchvision: installs the CPU import fix)
import torchvision.models

from respirelib.errors import DataError
from respirelib.model.network import ModelConfig, RespireNet, build_head, build_model
from respirelib.model.weights import WEIGHTS_DIR_ENV, WeightsNotFoundError

SMALL = (2, 3, 64, 64)


pytestmark = pytest.mark.usefixtures("offline_weights")


@pytest.fixture(scope="module")
def small_input():
    return torch.randn(SMALL, generator=torch.Generator().manual_seed(0))


def test_config_defaults_are_the_papers():
    config = ModelConfig()
    assert (config.backbone, config.pretrained, config.dropout, config.hidden, config.n_classes) == \
        ("resnet34", "imagenet", 0.5, 128, 4)
    with pytest.raises(ValueError, match="backbone"):
        ModelConfig(backbone="vgg16")
    with pytest.raises(ValueError, match="pretrained"):
        ModelConfig(pretrained="none")
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig(dropout=1.0)


def test_head_is_the_reference_head():
    head = build_head(512)
    kinds = [type(layer) for layer in head]
    assert kinds == [nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Linear]
    linears = [(layer.in_features, layer.out_features) for layer in head if isinstance(layer, nn.Linear)]
    assert linears == [(512, 128), (128, 128), (128, 4)]
    assert [layer.p for layer in head if isinstance(layer, nn.Dropout)] == [0.5, 0.5]


def test_presence_head_gives_the_four_classes_probabilities():
    from respirelib.model.network import PresenceToClasses

    head = build_head(512, output="presence")
    assert isinstance(head[-1], PresenceToClasses) and head[-2].out_features == 2
    # Logits (crackle, wheeze) = (log 3, 0): c = 0.75, w = 0.5, so normal 0.125, crackle 0.375, wheeze 0.125,
    # both 0.375; (0, -log 4): c = 0.5, w = 0.2.
    presence = torch.tensor([[np.log(3.0), 0.0], [0.0, -np.log(4.0)]])
    probabilities = PresenceToClasses()(presence).exp()
    expected = torch.tensor([[0.125, 0.375, 0.125, 0.375], [0.4, 0.4, 0.1, 0.1]])
    assert torch.allclose(probabilities, expected, atol=1e-6)
    # Used as logits, the softmax gives the same probabilities back; extreme logits stay finite.
    assert torch.allclose(PresenceToClasses()(presence).softmax(-1), expected, atol=1e-6)
    assert torch.isfinite(PresenceToClasses()(torch.tensor([[80.0, -80.0]]))).all()
    with pytest.raises(ValueError, match="output must be one of"):
        ModelConfig(output="sigmoid")
    with pytest.raises(ValueError, match="needs the 4 classes"):
        ModelConfig(output="presence", n_classes=2)


def test_resnet34_forward_shape(small_input):
    model = build_model(ModelConfig(pretrained="random"), seed=0)
    assert isinstance(model, RespireNet)
    assert [len(model.backbone.layer1), len(model.backbone.layer3)] == [3, 6]  # ResNet-34 layout
    assert isinstance(model.backbone.fc, nn.Identity)
    model.eval()
    with torch.no_grad():
        logits = model(small_input)
    assert logits.shape == (2, 4)
    assert torch.isfinite(logits).all()


def test_resnet50_head_takes_2048_features():
    model = build_model(ModelConfig(backbone="resnet50", pretrained="random"), seed=0)
    assert model.head[1].in_features == 2048
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 4)


def test_imagenet_weights_are_loaded_exactly(fake_resnet18, small_input):
    path, spec, saved = fake_resnet18
    model = build_model(ModelConfig(backbone="resnet18"), weights_dir=path.parent, weights_spec=spec, seed=0)
    loaded = model.backbone.state_dict()
    backbone_keys = [key for key in saved if not key.startswith("fc.")]
    assert sorted(loaded) == sorted(backbone_keys)
    assert all(torch.equal(loaded[key], saved[key]) for key in backbone_keys)
    assert model.init == "imagenet" and model.weights_file == path
    description = model.describe()
    assert description["init"] == "imagenet"
    assert description["init_label"] == f"ImageNet ({path.name})"
    assert description["backbone"] == "resnet18"

    # The backbone then computes what the plain torchvision network computes before fc.
    reference = torchvision.models.resnet18(weights=None)
    reference.load_state_dict(saved)
    reference.fc = nn.Identity()
    model.eval()
    reference.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(small_input), reference(small_input))


def test_weights_dir_from_environment(monkeypatch, fake_resnet18):
    path, spec, _ = fake_resnet18
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(path.parent))
    assert build_model(ModelConfig(backbone="resnet18"), weights_spec=spec).weights_file == path


def test_missing_weights_refuse_to_fall_back_to_random(tmp_path):
    with pytest.raises(WeightsNotFoundError) as error:
        build_model(ModelConfig(backbone="resnet18"), weights_dir=tmp_path)
    message = str(error.value)
    expected_name = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    assert message.startswith(expected_name)
    assert str(tmp_path) in message and "--init random" in message and "init='random'" in message


def test_random_init_only_when_asked_and_reported(tmp_path):
    model = build_model(ModelConfig(backbone="resnet18", pretrained="random"), weights_dir=tmp_path, seed=3)
    assert model.init == "random" and model.weights_file is None
    assert model.init_label == "random init"
    assert model.describe()["init_label"] == "random init"
    assert model.describe()["n_parameters"] == sum(p.numel() for p in model.parameters())


def test_seed_makes_initialisation_deterministic_without_global_effects():
    config = ModelConfig(backbone="resnet18", pretrained="random")
    global_state = torch.random.get_rng_state()
    first, second, other = (build_model(config, seed=s) for s in (5, 5, 6))
    assert torch.equal(torch.random.get_rng_state(), global_state)
    first_params, second_params = first.state_dict(), second.state_dict()
    assert all(torch.equal(first_params[key], second_params[key]) for key in first_params)
    assert not torch.equal(first.head[1].weight, other.head[1].weight)


def test_checkpoint_for_another_backbone_is_rejected(fake_resnet18):
    path, spec, _ = fake_resnet18
    with pytest.raises(DataError, match="does not fit a torchvision resnet34"):
        build_model(ModelConfig(backbone="resnet34"), weights_dir=path.parent, weights_spec=spec)


def test_channels_last_and_target_layer(small_input):
    model = build_model(ModelConfig(backbone="resnet18", pretrained="random"), seed=1).eval()
    assert model.target_layer is model.backbone.layer4[-1]
    activations = []
    handle = model.target_layer.register_forward_hook(lambda module, inputs, output: activations.append(output))
    with torch.no_grad():
        expected = model(small_input)
        model = model.to(memory_format=torch.channels_last)
        result = model(small_input.to(memory_format=torch.channels_last))
    handle.remove()
    torch.testing.assert_close(result, expected, rtol=1e-4, atol=1e-5)
    assert activations[0].shape == (2, 512, 2, 2)


def test_dropout_only_in_training_mode(small_input):
    model = build_model(ModelConfig(backbone="resnet18", pretrained="random"), seed=2)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(small_input), model(small_input))
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        assert not torch.equal(model.head(torch.ones(4, 512)), model.head(torch.ones(4, 512)))


def test_a_narrow_resnet_keeps_torchvisions_layout(small_input):
    config = ModelConfig(backbone="resnet18", pretrained="random", width=16)
    narrow = build_model(config, seed=0)
    full = build_model(ModelConfig(backbone="resnet18", pretrained="random"), seed=0)
    assert [name for name, _ in narrow.backbone.named_children()] == \
        [name for name, _ in full.backbone.named_children()]
    assert narrow.backbone.conv1.out_channels == 16 and narrow.backbone.layer4[-1].conv2.out_channels == 128
    assert narrow.head[1].in_features == 128  # 8 x width features after pooling
    assert narrow.target_layer is narrow.backbone.layer4[-1]
    assert narrow(small_input).shape == (2, 4)
    n_narrow, n_full = (sum(p.numel() for p in m.parameters()) for m in (narrow, full))
    assert n_narrow < n_full / 10
    again = build_model(config, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(narrow.parameters(), again.parameters()))  # seeded
    assert narrow.describe()["width"] == 16


def test_a_narrow_resnet_has_no_imagenet_weights():
    with pytest.raises(ValueError, match="no ImageNet weights exist.*width 16"):
        build_model(ModelConfig(backbone="resnet18", width=16))
    with pytest.raises(ValueError, match="width"):
        ModelConfig(width=7)


def test_network_summary_accounts_for_every_parameter_and_says_where_transfer_reaches():
    from respirelib.model.network import network_summary

    model = build_model(ModelConfig(backbone="resnet18", pretrained="random", width=8), seed=0)
    rows = network_summary(model)
    assert sum(row["parameters"] for row in rows) == model.describe()["n_parameters"]
    assert [row["part"] for row in rows if row["part"].startswith("backbone.layer")] == [
        f"backbone.layer{k}" for k in range(1, 5)]
    linear = [row["layers"] for row in rows if row["layers"].startswith("fully connected")]
    assert linear == ["fully connected 64 → 128", "fully connected 128 → 128", "fully connected 128 → 4"]
    assert all(row["first weights"] == "random (--init random)" for row in rows if row["part"].startswith("backbone"))
    assert all("head is new" in row["first weights"] for row in rows if row["layers"].startswith("fully"))
