"""Precision (fp32 | bf16 | auto): what auto resolves to, that bf16 is used and repeatable, and that runs record it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import respirelib.precision as precision_module
from respirelib.precision import autocast, cpu_bf16_support, describe_precision, memory_format, resolve_precision


@pytest.mark.parametrize(("flags", "native"), [
    ("fpu sse avx2 avx512f avx512_bf16 amx_tile", True),  # AMD Zen 4, Intel Cooper Lake
    ("fpu avx512f amx_bf16 amx_tile amx_int8", True),  # Intel Sapphire Rapids
    ("fpu sse avx2 avx512f avx512bw", False),  # AVX-512 without bf16: emulated, slower than fp32
])
def test_cpu_flags_decide_native_bf16(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    found, reason = cpu_bf16_support(cpuinfo)
    assert found is native and str(cpuinfo) in reason


def test_arm_bf16_feature_counts(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")
    assert cpu_bf16_support(cpuinfo)[0] is True


def test_records_name_the_cpu_generation(tmp_path):
    from respirelib.experiments.provenance import cpu_generation

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                       "model name\t: AMD EPYC\nstepping\t: 1\n\nprocessor\t: 1\ncpu family\t: 99\n")
    assert cpu_generation(cpuinfo) == "AuthenticAMD family 25 model 17 stepping 1"
    (tmp_path / "arm").write_text("processor\t: 0\nFeatures\t: fp asimd\n")
    assert cpu_generation(tmp_path / "arm") is None
    assert cpu_generation(tmp_path / "missing") is None


def test_without_cpuinfo_torch_probes_decide(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    found, reason = cpu_bf16_support(tmp_path / "missing")
    assert found is True and "_is_avx512_bf16_supported" in reason
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert cpu_bf16_support(tmp_path / "missing")[0] is False


@pytest.mark.parametrize("native", [True, False])
def test_auto_resolves_by_the_hardware(monkeypatch, native):
    monkeypatch.setattr(precision_module, "cpu_bf16_support", lambda: (native, "monkeypatched"))
    expected = "bf16" if native else "fp32"
    assert describe_precision("auto", "cpu") == {"requested": "auto", "used": expected, "reason": "monkeypatched"}
    assert resolve_precision("auto", torch.device("cpu")) == expected
    # An explicit choice is kept whatever the hardware; other device types get fp32.
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("auto", "meta") == "fp32"
    # On a CPU oneDNN's channels-last layout is used in both precisions; fp32 on CUDA stays contiguous.
    assert memory_format("auto", "cpu") == torch.channels_last
    assert memory_format("fp32", "cpu") == torch.channels_last
    assert memory_format("bf16", "cuda") == torch.channels_last
    assert memory_format("fp32", "cuda") == torch.contiguous_format
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp16", "cpu")


def test_autocast_runs_convolutions_in_bf16_only_when_asked():
    conv = torch.nn.Conv2d(3, 4, 3)
    image = torch.randn(1, 3, 8, 8)
    with autocast("cpu", "bf16"):
        assert conv(image).dtype == torch.bfloat16
    with autocast("cpu", "fp32"):
        assert conv(image).dtype == torch.float32


def _tiny_sets(seed: int = 0):
    from respirelib.signal.samples import SampleSet

    generator = torch.Generator().manual_seed(seed)
    n = 24
    labels = torch.arange(n) % 4
    train = SampleSet(torch.randn(n, 4000, generator=generator), labels, np.arange(n),
                      np.array(["AKGC417L"] * n, dtype=object))
    selection = SampleSet(torch.randn(8, 4000, generator=generator), torch.arange(8) % 4, np.arange(n, n + 8),
                          np.array(["AKGC417L"] * 8, dtype=object))
    return train, selection


def _tiny_fit(out_dir, precision: str):
    from respirelib.config import AugmentConfig, FeatureConfig
    from respirelib.model.network import ModelConfig, build_model
    from respirelib.signal.frontend import FeatureFrontend
    from respirelib.training.profiles import TrainConfig
    from respirelib.training.train import fit

    train, selection = _tiny_sets()
    model = build_model(ModelConfig(backbone="resnet18", pretrained="random", width=8), seed=0)
    config = TrainConfig(epochs=2, batch_size=8, lr=1e-2, optimizer="adamw", samples_per_epoch=16,
                         eval_batch_size=8, augment=False, precision=precision)
    seen = set()  # (training?, dtype of the last convolution's output) of every forward pass
    last_conv = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    last_conv.register_forward_hook(lambda module, args, out: seen.add((model.training, out.dtype)))
    result = fit(model, FeatureFrontend(FeatureConfig(image_scale=1.0)), train, selection, config=config,
                 augment=AugmentConfig(), sr=4000, out_dir=out_dir, seed=0, progress=False)
    history = [{k: v for k, v in record.items() if k != "seconds"} for record in result.history]
    result.seen = seen
    return result, history, model.state_dict()


def test_bf16_training_is_repeatable_and_differs_from_fp32(tmp_path):
    """Same machine, threads and seed give the same numbers in bf16 too; bf16 is really used."""
    first, history, weights = _tiny_fit(tmp_path / "a", "bf16")
    again, history_again, weights_again = _tiny_fit(tmp_path / "b", "bf16")
    assert first.precision == again.precision == "bf16"
    assert history == history_again and len(history) == 2
    assert all(torch.equal(weights[key], weights_again[key]) for key in weights)
    from respirelib.model.checkpoint import load_checkpoint

    assert load_checkpoint(first.last_path)["precision"] == "bf16"
    fp32, history_fp32, weights_fp32 = _tiny_fit(tmp_path / "c", "fp32")
    assert fp32.precision == "fp32"
    # Training and validation passes ran in the precision asked for.
    assert first.seen == {(True, torch.bfloat16), (False, torch.bfloat16)}
    assert fp32.seen == {(True, torch.float32), (False, torch.float32)}
    assert history_fp32 != history or not all(torch.equal(weights[k], weights_fp32[k]) for k in weights)


def test_a_resumed_run_keeps_the_precision_it_started_in(tmp_path, monkeypatch):
    from respirelib.model.checkpoint import load_checkpoint

    first, _, _ = _tiny_fit(tmp_path / "run", "bf16")
    # The same run resumed where "auto" means fp32 (another machine) goes on in bf16.
    monkeypatch.setattr(precision_module, "cpu_bf16_support", lambda: (False, "monkeypatched"))
    from respirelib.config import AugmentConfig, FeatureConfig
    from respirelib.model.network import ModelConfig, build_model
    from respirelib.signal.frontend import FeatureFrontend
    from respirelib.training.profiles import TrainConfig
    from respirelib.training.train import fit

    train, selection = _tiny_sets()
    model = build_model(ModelConfig(backbone="resnet18", pretrained="random", width=8), seed=0)
    config = TrainConfig(epochs=3, batch_size=8, lr=1e-2, optimizer="adamw", samples_per_epoch=16,
                         eval_batch_size=8, augment=False, precision="auto")
    resumed = fit(model, FeatureFrontend(FeatureConfig(image_scale=1.0)), train, selection, config=config,
                  augment=AugmentConfig(), sr=4000, out_dir=tmp_path / "run", seed=0, progress=False)
    assert resumed.precision == "bf16" and load_checkpoint(resumed.last_path)["precision"] == "bf16"
    assert len(resumed.history) == 3


def test_runs_record_their_precision(smoke_run):
    expected = resolve_precision("auto", "cpu")
    request = json.loads((smoke_run / "run.json").read_text())
    assert request["precision"]["requested"] == "auto" and request["precision"]["used"] == expected
    assert request["precision"]["reason"]
    for name in ("metrics.json", "metrics_finetuned.json"):
        metrics = json.loads((smoke_run / name).read_text())
        assert metrics["precision"] == metrics["training_precision"] == expected
    statuses = json.loads((smoke_run / "stage2" / "devices.json").read_text())
    assert {s["precision"] for s in statuses.values() if s.get("status") == "trained"} == {expected}


def test_the_exported_model_records_and_uses_its_training_precision(smoke_run, tmp_path):
    from respirelib.inference.export import export_model, load_exported_model

    expected = resolve_precision("auto", "cpu")
    model_file, _ = export_model(smoke_run, tmp_path / "model.pt")
    model = load_exported_model(model_file)
    assert model.training["precision"]["used"] == expected and model.precision == expected
    assert model.describe()["precision"] == model.describe()["training_precision"] == expected
    assert f"| precision | {expected} (asked for: auto;" in model.card
    other = "fp32" if expected == "bf16" else "bf16"
    assert load_exported_model(model_file, precision=other).precision == other


def test_an_asked_precision_is_recorded_and_used(tiny_synthetic, tmp_path):
    from respirelib.experiments.run import train_run

    other = "fp32" if resolve_precision("auto", "cpu") == "bf16" else "bf16"
    run = train_run(tiny_synthetic, tmp_path / "run", profile="smoke", init="random", seed=0, progress=False,
                    precision=other, overrides={"stage1": {"epochs": 1}})
    request = json.loads((run / "run.json").read_text())
    assert request["precision"] == {"requested": other, "used": other, "reason": "asked for"}
    assert request["overrides"]["stage1"] == {"epochs": 1, "precision": other}
    assert request["config"]["stage2"]["precision"] == other
    from respirelib.model.checkpoint import load_checkpoint

    assert load_checkpoint(run / "stage1" / "checkpoints" / "last.pt")["precision"] == other


def test_the_commands_take_precision():
    from respirelib.apps.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["train", "--out", "x", "--precision", "bf16"]).precision == "bf16"
    assert parser.parse_args(["train", "--out", "x"]).precision == "auto"
    assert parser.parse_args(["demo"]).precision == "auto"
    assert parser.parse_args(["evaluate", "run"]).precision is None  # the run's own
    assert parser.parse_args(["finetune", "run", "--precision", "fp32"]).precision == "fp32"
    assert parser.parse_args(["explain", "--run", "r", "--cycle", "a:0", "--out", "o.png"]).precision is None
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--out", "x", "--precision", "fp16"])


def test_records_say_which_instruction_set_torch_was_allowed(monkeypatch):
    import torch

    from respirelib.apps.bench_common import _thread_environment
    from respirelib.experiments.provenance import hardware_record

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    environment = _thread_environment()
    assert environment["ONEDNN_MAX_CPU_ISA"] == "AVX2" and environment["ATEN_CPU_CAPABILITY"] == "avx2"
    assert hardware_record()["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
