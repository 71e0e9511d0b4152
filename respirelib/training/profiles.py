"""Run profiles: the paper's schedule, a CPU-sized one, and one for tests.

- ``paper``: the full schedule of the paper (ResNet-34, 192-pixel-high images, 200
  epochs of stage 1 at lr 1e-3, 50 epochs per device at lr 1e-4). Meant for a GPU.
- ``quick``: the same pipeline cut so that the whole demo, five seeds of both Table I
  rows and stage 2, takes about ten minutes on two CPU cores: smaller images (no 3x
  resize), a ResNet-18 a quarter as wide (16 channels in its first stage; a sixth of
  the time per step, and no ImageNet weights exist for it, so always random init),
  lighter dropout, a half-size synthetic set made easier (difficulty 0.3 instead of the
  generator's 0.5: at 0.5 this budget leaves some seeds recalling almost no wheeze), and
  AdamW with a cosine decay over 30 short epochs of batches of 32 (12 until sound model 3
  made the synthetic set harder, 24 until the eighth round), validated every third epoch; its
  images are standardised spectrograms copied to three channels (no ImageNet weights fit this network, so the colormap
  that imitates a photograph buys nothing), and blank region clipping works at the ``"mean"``
  blank level (``FeatureConfig.blank_level``: a quiet top band is cut as well as an empty one;
  over ten seeds the two together raised the score and narrowed its spread). Since sound model 4
  (the seventh round) its head predicts crackle and wheeze presence (``ModelConfig.output``), and stage 1
  validates and keeps a moving average of the weights (``TrainConfig.ema_decay``), selected by the
  mean of the four class recalls on validation (``TrainConfig.select_metric``): together they narrowed
  the spread over seeds and raised the rarest class's recall. Since the eighth round its runs train
  two at a time on a CPU, each on half the threads (``Profile.parallel_runs``), which paid for 30
  epochs instead of 24, and the average's decay is 0.98 per step. Each choice was measured
  (``results/quick_profile_tuning.json``, ``results/quick_profile_tuning_sound3.json``,
  ``results/quick_profile_tuning_round7.json``, ``results/quick_profile_tuning_round8.json``;
  ``respirenet bench quick``). The ninth round (``results/quick_profile_tuning_round9.json``) measured
  it on a second synthetic draw it was never tuned on and found no setting with a smaller spread over
  seeds beyond the noise. Its numbers say ``quick`` and are not comparable with the paper's.
- ``smoke``: seconds, for tests: tiny epochs that only prove the code path runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from respirelib.config import AudioConfig, AugmentConfig, FeatureConfig
from respirelib.model.network import ModelConfig
from respirelib.config import PRECISIONS, SELECTION_METRICS

SELECTION_SPLITS = ("val", "test")
OVERRIDE_SECTIONS = ("stage1", "stage2", "audio", "features", "augment", "model")
OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class TrainConfig:
    """One training stage.

    Attributes
    ----------
    epochs, batch_size, lr, momentum, weight_decay :
        Schedule (paper: 200 epochs, batch 64, SGD at lr 1e-3, momentum 0.9; the
        weight decay 5e-4 is the reference code's).
    optimizer : {"sgd", "adamw"}
        SGD with momentum (paper) or AdamW (decoupled weight decay; ``momentum`` unused),
        which learns faster from random initialisation in short schedules such as ``quick``.
    class_weights : tuple of float or None
        Cross-entropy class weights (the reference uses (0.1, 0.3, 0.3, 0.3) on top
        of its weighted sampler); None for unweighted.
    weighted_sampler : bool
        Draw classes uniformly (paper).
    augment : bool
        Standard waveform augmentations per batch (paper).
    concat : bool
        Concatenation-based augmentation of the training set (paper's CBA).
    clip_blank : bool
        Blank region clipping of every spectrogram (paper's BRC).
    lr_schedule : {"constant", "cosine"}
        Constant learning rate (paper) or cosine decay to zero over the epochs (steadier
        ends for short schedules such as ``quick``).
    select_on : {"val", "test"}
        Checkpoint selection by ICBHI score on the validation patients (default) or,
        as the reference code does, on the test set: only to compare the two.
    select_metric : {"score", "mean_recall"}
        What selection maximises on those patients: the 4-class ICBHI Score (the paper's), or the
        mean of the four class recalls (a departure: the Score's sensitivity counts every abnormal
        cycle alike, so a model that gives up the rarest class, *both*, loses little of it).
    samples_per_epoch : int or None
        Inputs drawn per epoch (None: the size of the training set).
    eval_every : int
        Validate every this many epochs (and after the last).
    monitor_test : bool
        A diagnostic for the optimism table only: also score the *test* cycles at every
        validation epoch and keep those predictions (``stage1/test_monitor.pt``), so the
        reference code's test-selected checkpoint can be reported beside ours. Never used
        to select anything. Costs one test-set evaluation per validation epoch.
    ema_decay : float or None
        Validate, select and keep an exponential moving average of the weights (and of the
        batch-norm statistics), updated after every step with this decay (e.g. 0.99: about the
        last 100 steps), instead of the weights of the last step; None (the paper's way): the
        weights themselves. A departure that steadies short, noisy schedules such as ``quick``
        (``torch.optim.swa_utils``).
    precision : {"auto", "fp32", "bf16"}
        Numeric precision of training and validation (:mod:`respirelib.precision`): bf16
        autocast with channels-last memory, or float32 (channels-last on a CPU,
        :func:`respirelib.precision.memory_format`). ``"auto"`` (default) is bf16 on CUDA and
        on a CPU with native bf16, fp32 elsewhere; a run records what it resolved to. The paper
        trained in float32 on a GPU; fp32 vs bf16 on the quick profile is measured in
        ``results/bench_precision_accuracy_*.json``.
    """

    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    optimizer: str = "sgd"
    class_weights: tuple[float, ...] | None = None
    weighted_sampler: bool = True
    augment: bool = True
    concat: bool = True
    clip_blank: bool = True
    lr_schedule: str = "constant"
    select_on: str = "val"
    select_metric: str = "score"
    samples_per_epoch: int | None = None
    eval_every: int = 1
    eval_batch_size: int = 128
    monitor_test: bool = False
    ema_decay: float | None = None
    precision: str = "auto"

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.eval_every < 1:
            raise ValueError(f"eval_every must be positive, got {self.eval_every}")
        if self.select_metric not in SELECTION_METRICS:
            raise ValueError(f"select_metric must be one of {', '.join(SELECTION_METRICS)}, got {self.select_metric!r}")
        if self.select_on not in SELECTION_SPLITS:
            raise ValueError(f"select_on must be 'val' or 'test', got {self.select_on!r}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie between 0 and 1 (or be None), got {self.ema_decay!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    model: ModelConfig = field(default_factory=ModelConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    stage1: TrainConfig = field(default_factory=TrainConfig)
    stage2: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=50, lr=1e-4))
    synthetic_scale: float = 1.0
    # The synthetic set's difficulty (None: the generator's default, 0.5); see respirelib.data.synth.difficulty.
    synthetic_difficulty: float | None = None
    n_seeds: int = 1  # seeds the pipeline trains when none are given (the demo's targets need at least 5)
    # Training runs the notebooks train side by side on a CPU, each on its share of the threads
    # (respirelib.experiments.study.ensure_runs); 1: one after another, each on every thread.
    parallel_runs: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, overrides: dict | None = None) -> Profile:
        """A copy with settings changed, e.g. ``{"stage1": {"concat": False}, "audio": {"cycle_duration": 5}}``.

        Keys are ``stage1``, ``stage2``, ``audio``, ``features``, ``augment`` and ``model``
        (:data:`OVERRIDE_SECTIONS`), each mapping field names of its dataclass to values (the CNN
        row of Table I, the Table II sweep, ...).

        Raises
        ------
        ValueError
            An unknown section or field (the message lists the valid ones), or a value its
            dataclass refuses.
        """
        changes = {}
        for part, settings in (overrides or {}).items():
            if part not in OVERRIDE_SECTIONS:
                raise ValueError(f"unknown override section {part!r}: the sections are {', '.join(OVERRIDE_SECTIONS)}")
            current = getattr(self, part)
            known = [item.name for item in fields(current)]
            if not isinstance(settings, dict):
                raise ValueError(f"override section {part!r} must map its settings to values, e.g. "
                                 f"{{{part!r}: {{{known[0]!r}: ...}}}}, got {settings!r}")
            unknown = sorted(set(settings) - set(known))
            if unknown:
                raise ValueError(f"unknown {part} setting(s) {', '.join(map(repr, unknown))}: {part} has "
                                 f"{', '.join(known)}")
            try:
                changes[part] = replace(current, **settings)
            except TypeError as error:  # a value of the wrong type, met by a check in __post_init__
                raise ValueError(f"{part}: {settings!r} is refused ({error})") from None
        return replace(self, **changes)


PROFILES = {
    "paper": Profile(name="paper", description="the paper's full schedule (GPU)",
                     stage1=TrainConfig(monitor_test=True)),
    "quick": Profile(
        name="quick",
        description="the whole demo (5 seeds) in about ten minutes on 2 CPU cores: a narrow ResNet-18 (width 16, "
                    "random init, head dropout 0.2) whose head predicts crackle and wheeze presence (not four classes), "
                    "64-pixel-high images (no resize), a half-size synthetic set "
                    "at difficulty 0.3 (the generator's default is 0.5), standardised grey images (not the magma colormap) "
                    "whose blank region clipping also cuts a quiet top band (blank level 'mean'), 30 epochs of 512 inputs in batches of 32 with AdamW at lr 2e-3 and a "
                    "cosine decay, validating and keeping a moving average of the weights (decay 0.98 per step) "
                    "selected by the mean class recall on validation, two runs at a time on a CPU; NOT the paper's schedule",
        model=ModelConfig(backbone="resnet18", width=16, dropout=0.2, output="presence"),
        features=FeatureConfig(image_scale=1.0, scaling="standard", image_mode="replicate", blank_level="mean"),
        stage1=TrainConfig(epochs=30, batch_size=32, lr=2e-3, optimizer="adamw", lr_schedule="cosine",
                           samples_per_epoch=512, eval_every=3, eval_batch_size=64, monitor_test=True,
                           ema_decay=0.98, select_metric="mean_recall"),
        stage2=TrainConfig(epochs=2, batch_size=16, lr=1e-4, optimizer="adamw", samples_per_epoch=128,
                           eval_batch_size=64),
        synthetic_scale=0.5, synthetic_difficulty=0.3, n_seeds=5, parallel_runs=2),
    "smoke": Profile(
        name="smoke",
        description="seconds, for tests: proves the code path runs; its numbers mean nothing",
        model=ModelConfig(backbone="resnet18"),
        audio=AudioConfig(cycle_duration=3.0),
        features=FeatureConfig(image_scale=1.0),
        stage1=TrainConfig(epochs=2, batch_size=16, lr=1e-3, lr_schedule="cosine", samples_per_epoch=48,
                           eval_batch_size=64, monitor_test=True),
        stage2=TrainConfig(epochs=1, batch_size=16, lr=1e-4, samples_per_epoch=16, eval_batch_size=64),
        synthetic_scale=0.03),
}


def profile_data_dir(data_dir, profile: str | Profile, *, progress: bool = True):
    """``data_dir`` if given; else the profile's synthetic set (its scale and difficulty), written on first use."""
    from respirelib.data.data_dirs import resolve_data_dir

    profile = get_profile(profile) if isinstance(profile, str) else profile
    return resolve_data_dir(data_dir, scale=profile.synthetic_scale, seed=0,
                            difficulty=profile.synthetic_difficulty, progress=progress)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None
