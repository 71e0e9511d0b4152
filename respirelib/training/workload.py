"""What a training schedule costs: the inputs it processes, and timed training and evaluation steps.

:func:`schedule_workload` counts the training inputs and evaluation windows a profile's
schedule processes on prepared data; :func:`time_train_steps` times real training and
evaluation steps exactly as :func:`respirelib.training.train.fit` runs them. The projection of
``make reproduce`` (:mod:`respirelib.experiments.progress`) and ``respirenet bench train`` both use them.
"""

from __future__ import annotations

import time


def schedule_workload(prepared, profile) -> dict:
    """Inputs processed by a profile's schedule on prepared data: training samples and evaluation windows."""
    from respirelib.data.names import DEVICES
    from respirelib.signal.samples import evaluation_set, training_set

    def n_train(rows):
        return len(training_set(prepared.cache, rows, audio=profile.audio, augment=profile.augment,
                                concat=profile.stage1.concat)) if len(rows) else 0

    def n_eval(rows):
        return len(evaluation_set(prepared.cache, rows, config=profile.audio)) if len(rows) else 0

    stage1, stage2 = profile.stage1, profile.stage2
    per_epoch = stage1.samples_per_epoch or n_train(prepared.rows("train"))
    val, test = n_eval(prepared.rows("val")), n_eval(prepared.rows("test"))
    workload = {"stage1_train_samples": stage1.epochs * per_epoch, "stage1_eval_windows": stage1.epochs * val,
                "test_eval_windows": 2 * test, "stage2_train_samples": 0, "stage2_eval_windows": 0}
    for device_name in DEVICES:
        train_rows = prepared.rows("train", device_name)
        if len(train_rows):
            per_device = stage2.samples_per_epoch or n_train(train_rows)
            workload["stage2_train_samples"] += stage2.epochs * per_device
            workload["stage2_eval_windows"] += stage2.epochs * n_eval(prepared.rows("val", device_name))
    workload["train_samples"] = workload["stage1_train_samples"] + workload["stage2_train_samples"]
    workload["eval_windows"] = (workload["stage1_eval_windows"] + workload["stage2_eval_windows"]
                                + workload["test_eval_windows"])
    return workload


def time_train_steps(waves, labels, *, profile, device: str, batch_size: int = 64, steps: int = 2,
                     warmup: int = 1, seed: int = 0, precision: str | None = None) -> dict:
    """Samples per second of full training steps and of evaluation batches, on ``device``.

    A step is :func:`respirelib.training.train.fit`'s own (:func:`~respirelib.training.train.training_images`,
    then :func:`~respirelib.training.train.training_update`): the profile's augmentations and features with
    blank region clipping decided once on the un-augmented inputs, then the forward and backward pass, the
    stage-1 optimizer and, where the profile keeps one, the moving average of the weights. ``precision``
    defaults to the profile's stage-1 precision; the record says what it resolved to.
    """
    from dataclasses import replace

    import torch

    from respirelib.precision import autocast, memory_format, resolve_precision
    from respirelib.signal.frontend import FeatureFrontend
    from respirelib.model.network import ModelConfig, build_model
    from respirelib.training.train import (loss_function, make_optimizer, moving_average, training_images,
                                           training_update)

    torch_device = torch.device(device)
    precision = resolve_precision(precision or profile.stage1.precision, torch_device)
    config = replace(profile.stage1, precision=precision)
    model = build_model(ModelConfig(**{**profile.model.__dict__, "pretrained": "random"}), seed=seed).to(torch_device)
    frontend = FeatureFrontend(profile.features, clip_blank=config.clip_blank).to(torch_device)
    layout = memory_format(precision, torch_device)
    model.to(memory_format=layout)
    optimizer = make_optimizer(model, config)
    averaged = moving_average(model, config)
    loss_fn = loss_function(config, torch_device)
    generator = torch.Generator(device=torch_device).manual_seed(seed)
    batch_size = min(batch_size, len(waves))
    waves, labels = waves[:batch_size].to(torch_device), labels[:batch_size].to(torch_device)
    cut = frontend.blank_cut(waves) if config.clip_blank else None  # once per fit, as fit decides it
    augment = profile.augment if config.augment else None

    def sync():
        if torch_device.type == "cuda":
            torch.cuda.synchronize()

    model.train()
    features_s = model_s = 0.0
    for step in range(warmup + steps):
        sync()
        started = time.perf_counter()
        images = training_images(frontend, waves, cut=cut, augment=augment, sr=profile.audio.sample_rate,
                                 generator=generator, layout=layout)
        sync()
        middle = time.perf_counter()
        training_update(model, images, labels, loss_fn=loss_fn, optimizer=optimizer, averaged=averaged,
                        device=torch_device, precision=precision)
        sync()
        if step >= warmup:
            features_s += middle - started
            model_s += time.perf_counter() - middle
    model.eval()
    eval_s = 0.0
    with torch.no_grad():
        for step in range(warmup + steps):
            sync()
            started = time.perf_counter()
            with autocast(torch_device, precision):
                model(frontend(waves).contiguous(memory_format=layout))
            sync()
            if step >= warmup:
                eval_s += time.perf_counter() - started
    return {"device": device, "precision": precision, "batch_size": batch_size, "steps": steps,
            "image_shape": list(images.shape[1:]), "backbone": profile.model.backbone,
            "optimizer": config.optimizer, "moving_average": averaged is not None,
            "augment_features_ms_per_step": round(1000 * features_s / steps, 1),
            "model_ms_per_step": round(1000 * model_s / steps, 1),
            "train_samples_per_s": round(steps * batch_size / (features_s + model_s), 2),
            "eval_samples_per_s": round(steps * batch_size / eval_s, 2)}
