"""The RespireNet classifier: a torchvision ResNet backbone and a small fully connected head.

The paper: "ResNet-34 initialised from ImageNet, then two 128-d fully connected layers
with ReLU and dropout, softmax over 4 classes". The head follows the reference code
exactly: Dropout 0.5 -> Linear(512, 128) -> ReLU -> Dropout 0.5 -> Linear(128, 128)
-> ReLU -> Linear(128, 4). The model returns logits; the softmax is left to the loss
(cross-entropy) and to evaluation.

ImageNet weights are never silently replaced by random ones: when the checkpoint
cannot be found, :func:`build_model` raises :class:`respirelib.model.weights.WeightsNotFoundError`.
Random initialisation happens only with ``pretrained="random"``, and the model then
describes itself as "random init".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from respirelib.errors import DataError
from respirelib.model.weights import SUPPORTED_BACKBONES, WeightsSpec, load_imagenet_state_dict

PRETRAINED_CHOICES = ("imagenet", "random")
HEAD_OUTPUTS = ("classes", "presence")
IMAGENET_WIDTH = 64
MIN_WIDTH = 8  # see ModelConfig.width: narrower crashes oneDNN's channels-last backward on some CPUs
_RESNET_LAYOUTS = {"resnet18": ("BasicBlock", (2, 2, 2, 2)), "resnet34": ("BasicBlock", (3, 4, 6, 3)),
                   "resnet50": ("Bottleneck", (3, 4, 6, 3))}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and initialisation; the defaults are the paper's.

    Attributes
    ----------
    backbone : str
        ``"resnet34"`` (paper), ``"resnet18"`` or ``"resnet50"``.
    pretrained : str
        ``"imagenet"`` (paper) or ``"random"``; random initialisation must be asked for.
    dropout : float
        Probability of both dropout layers in the head.
    hidden : int
        Width of the two fully connected layers.
    n_classes : int
        Output classes (normal, crackle, wheeze, both).
    output : {"classes", "presence"}
        ``"classes"`` (paper): the head's last layer gives one logit per class. ``"presence"`` (a
        departure from the paper, used by the ``quick`` profile since the README's seventh tuning
        round): it gives two, crackle present and wheeze present,
        each a sigmoid, and :class:`PresenceToClasses` turns them into the four classes'
        log-probabilities, so "both" is learnt from every crackle and every wheeze cycle rather
        than from the few cycles that carry both. Needs the four ICBHI classes.
    width : int
        Channels of the first residual stage (torchvision's and the paper's: 64; the later
        stages double it). Narrower networks (the ``quick`` profile's 16 costs about a sixth
        of the time per step on CPU) exist only from random initialisation: no ImageNet
        weights fit them. At least 8 (``MIN_WIDTH``): on an AMD EPYC without AVX-512, torch
        2.13's oneDNN crashes (segmentation fault) in the backward pass of a channels-last,
        stride-2 1x1 convolution with fewer than 8 input channels, the layout
        :func:`respirelib.precision.memory_format` uses on a CPU.
    """

    backbone: str = "resnet34"
    pretrained: str = "imagenet"
    dropout: float = 0.5
    hidden: int = 128
    n_classes: int = 4
    width: int = IMAGENET_WIDTH
    output: str = "classes"

    def __post_init__(self):
        if self.output not in HEAD_OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(HEAD_OUTPUTS)}, got {self.output!r}")
        if self.output == "presence" and self.n_classes != 4:
            raise ValueError(f"output='presence' needs the 4 classes (normal, crackle, wheeze, both), "
                             f"got n_classes={self.n_classes}")
        if self.backbone not in SUPPORTED_BACKBONES:
            raise ValueError(f"backbone must be one of {', '.join(SUPPORTED_BACKBONES)}, got '{self.backbone}'")
        if self.pretrained not in PRETRAINED_CHOICES:
            raise ValueError(f"pretrained must be 'imagenet' or 'random', got '{self.pretrained}'")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.hidden < 1 or self.n_classes < 2:
            raise ValueError(f"need hidden >= 1 and n_classes >= 2, got {self.hidden} and {self.n_classes}")
        if self.width < MIN_WIDTH:
            raise ValueError(f"width must be at least {MIN_WIDTH}, got {self.width}")

    @property
    def has_imagenet_weights(self) -> bool:
        return self.width == IMAGENET_WIDTH


class PresenceToClasses(nn.Module):
    """Two presence logits (crackle, wheeze) to the log-probabilities of normal, crackle, wheeze and both.

    With ``c`` and ``w`` the sigmoids of the two logits, taken as independent: normal ``(1-c)(1-w)``,
    crackle ``c(1-w)``, wheeze ``(1-c)w``, both ``cw``. The four sum to one, so they serve as logits
    wherever the model's output goes (cross-entropy, softmax, Grad-CAM++ targets) unchanged.
    Input ``[shape=(batch, 2)]``, output ``[shape=(batch, 4)]``, computed in float32.
    """

    def forward(self, presence: torch.Tensor) -> torch.Tensor:
        crackle, wheeze = presence.float().unbind(-1)
        log_c, log_not_c = nn.functional.logsigmoid(crackle), nn.functional.logsigmoid(-crackle)
        log_w, log_not_w = nn.functional.logsigmoid(wheeze), nn.functional.logsigmoid(-wheeze)
        return torch.stack([log_not_c + log_not_w, log_c + log_not_w, log_not_c + log_w, log_c + log_w], dim=-1)


def build_head(n_features: int, *, hidden: int = 128, dropout: float = 0.5, n_classes: int = 4,
               output: str = "classes") -> nn.Sequential:
    """The reference code's classifier head, mapping pooled features to logits.

    ``output="presence"`` (see :class:`ModelConfig`): the last layer gives two presence logits and
    :class:`PresenceToClasses` turns them into the four classes' log-probabilities.
    """
    layers = [nn.Dropout(dropout), nn.Linear(n_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
              nn.Linear(hidden, hidden), nn.ReLU(inplace=True)]
    if output == "presence":
        return nn.Sequential(*layers, nn.Linear(hidden, 2), PresenceToClasses())
    return nn.Sequential(*layers, nn.Linear(hidden, n_classes))


class RespireNet(nn.Module):
    """ResNet backbone (its ``fc`` replaced by the identity) followed by the head.

    Input ``[shape=(batch, 3, height, width)]`` float, output logits
    ``[shape=(batch, n_classes)]``. Any image size works (global average pooling);
    channels_last inputs and weights are supported.

    Attributes
    ----------
    backbone : torchvision.models.ResNet
        Returns pooled features ``[shape=(batch, n_features)]``.
    head : nn.Sequential
    config : ModelConfig
    init : str
        ``"imagenet"`` or ``"random"``: how the backbone was initialised.
    weights_file : Path or None
        The verified checkpoint the backbone was loaded from.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, *, config: ModelConfig,
                 init: str, weights_file: Path | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.config = config
        self.init = init
        self.weights_file = weights_file

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    @property
    def target_layer(self) -> nn.Module:
        """The last residual block of ``layer4``: the usual Grad-CAM++ target."""
        return self.backbone.layer4[-1]

    @property
    def init_label(self) -> str:
        """How reports name the initialisation: "ImageNet (<file>)" or "random init"."""
        if self.init == "random":
            return "random init"
        return f"ImageNet ({self.weights_file.name})" if self.weights_file else "ImageNet"

    def describe(self) -> dict:
        """JSON-friendly summary for run reports (config, initialisation, size)."""
        return {
            **asdict(self.config),
            "init": self.init,
            "init_label": self.init_label,
            "weights_file": str(self.weights_file) if self.weights_file else None,
            "n_parameters": sum(p.numel() for p in self.parameters()),
        }


def _narrow_resnet(name: str, width: int) -> nn.Module:
    """A torchvision ResNet whose stages have ``width``, 2, 4 and 8 times ``width`` channels.

    torchvision fixes the first stage at 64 channels; this builds the same modules
    (names, blocks, initialisation) at another width, so Grad-CAM++ targets and state
    dicts look the same.
    """
    from torchvision.models import resnet

    block_name, layers = _RESNET_LAYOUTS[name]
    block = getattr(resnet, block_name)
    model = resnet.ResNet(block, [1, 1, 1, 1])  # torchvision's attributes; every stage is rebuilt below
    model.inplanes = width
    model.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    model.bn1 = nn.BatchNorm2d(width)
    model.layer1 = model._make_layer(block, width, layers[0])
    for index, stage in enumerate(("layer2", "layer3", "layer4"), start=1):
        setattr(model, stage, model._make_layer(block, width * 2 ** index, layers[index], stride=2))
    model.fc = nn.Linear(width * 8 * block.expansion, 1000)
    for module in model.modules():  # torchvision's initialisation
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def build_model(config: ModelConfig = ModelConfig(), *, weights_dir: str | Path | None = None,
                allow_download: bool = True, seed: int | None = None,
                weights_spec: WeightsSpec | None = None) -> RespireNet:
    """Build RespireNet as ``config`` says, loading ImageNet weights when asked.

    Parameters
    ----------
    config : ModelConfig
    weights_dir : str or Path, optional
        Searched first for the checkpoint (see :mod:`respirelib.model.weights` for the order).
    allow_download : bool
        Allow a download when no local checkpoint exists (``$RESPIRENET_OFFLINE`` also
        forbids it).
    seed : int, optional
        Seeds the random initialisation (head, and backbone when random) without
        touching torch's global generator. ``None`` draws from the global generator.
    weights_spec : WeightsSpec, optional
        Overrides the checkpoint torchvision publishes (tests, mirrors).

    Raises
    ------
    WeightsNotFoundError
        ``pretrained="imagenet"`` and the checkpoint is neither on disk nor downloadable.
    ValueError
        ``pretrained="imagenet"`` for a width other than 64.
    WeightsIntegrityError
        The checkpoint file fails its hash check.
    DataError
        The checkpoint does not fit the backbone.
    """
    import torchvision.models

    if config.pretrained == "imagenet" and not config.has_imagenet_weights:
        raise ValueError(f"no ImageNet weights exist for a {config.backbone} of width {config.width} (only of "
                         f"width {IMAGENET_WIDTH}): use pretrained='random' (--init random)")
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        backbone = (torchvision.models.get_model(config.backbone, weights=None) if config.has_imagenet_weights
                    else _narrow_resnet(config.backbone, config.width))
        head = build_head(backbone.fc.in_features, hidden=config.hidden,
                          dropout=config.dropout, n_classes=config.n_classes, output=config.output)

    weights_file = None
    if config.pretrained == "imagenet":
        state_dict, weights_file = load_imagenet_state_dict(
            config.backbone, weights_dir=weights_dir, allow_download=allow_download, spec=weights_spec)
        try:
            backbone.load_state_dict(state_dict, strict=True)
        except RuntimeError as error:
            raise DataError(weights_file, f"does not fit a torchvision {config.backbone}: {error}") from error
    # The head replaces fc; keeping fc as the identity leaves the backbone a plain ResNet.
    backbone.fc = nn.Identity()
    return RespireNet(backbone, head, config=config, init=config.pretrained, weights_file=weights_file)


def network_summary(model: RespireNet) -> list[dict]:
    """The network part by part, for a reader: what each part is, its parameters and where its first weights
    come from (ImageNet transfer reaches the backbone only; the head always starts random).

    Returns
    -------
    rows : list of dict
        ``{"part", "layers", "parameters", "first weights"}``, the backbone's stages then the head's layers.
    """
    backbone_init = ("ImageNet (torchvision's weights: --init imagenet)" if model.init == "imagenet"
                     else "random (--init random)")
    rows = []
    for name, module in model.backbone.named_children():
        n_parameters = sum(p.numel() for p in module.parameters())
        if isinstance(module, nn.Conv2d):
            layers = f"{module.kernel_size[0]}×{module.kernel_size[1]} convolution, stride {module.stride[0]}, " \
                     f"{module.out_channels} channels"
        elif isinstance(module, nn.Sequential):
            convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
            layers = f"{len(module)} residual blocks ({type(module[0]).__name__}), {convs[-1].out_channels} channels"
        else:
            layers = type(module).__name__
        if n_parameters or isinstance(module, nn.Sequential):
            rows.append({"part": f"backbone.{name}", "layers": layers, "parameters": n_parameters,
                         "first weights": backbone_init})
    for index, module in enumerate(model.head):
        if isinstance(module, nn.Linear):
            layers = f"fully connected {module.in_features} → {module.out_features}"
        elif isinstance(module, nn.Dropout):
            layers = f"dropout p={module.p:g} (training only)"
        elif isinstance(module, PresenceToClasses):
            layers = "crackle and wheeze presence (sigmoids) → log-probabilities of the 4 classes"
        else:
            layers = type(module).__name__
        rows.append({"part": f"head.{index}", "layers": layers,
                     "parameters": sum(p.numel() for p in module.parameters()),
                     "first weights": "random (always: the head is new)" if isinstance(module, nn.Linear) else "–"})
    return rows
