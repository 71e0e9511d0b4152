"""``respirenet export RUN_DIR OUT``: a run directory as one model file (:mod:`respirelib.inference.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_export_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``respirenet export RUN_DIR OUT``."""
    parser.add_argument("run", type=Path, help="a run directory (trained; fine-tuned and evaluated if possible)")
    parser.add_argument("out", type=Path, help="the model file to write, e.g. models/respirenet.pt, or a folder "
                                               "(existing, or a name without a suffix) to write respirenet.pt into; "
                                               "MODEL_CARD.md is written beside it")
    parser.add_argument("--data", type=Path, default=None,
                        help="the training data folder, read for the card (default: the one the run recorded)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model file and card")
    parser.set_defaults(func=run_export_command)
    return parser


def run_export_command(args: argparse.Namespace) -> int:
    from respirelib.inference.export import export_model, load_exported_model  # torch: only when the command runs

    model_file, card = export_model(args.run, args.out, data_dir=args.data, overwrite=args.overwrite)
    payload = load_exported_model(model_file)
    label = "SYNTHETIC data" if payload.is_synthetic else f"{payload.data['label']} data"
    devices = ", ".join(payload.devices) or "none (stage 1 only)"
    print(f"model file: {model_file} ({model_file.stat().st_size / 1e6:.1f} MB; {label}, {payload.training['init']}, "
          f"profile {payload.training['profile']})\ndevice models: {devices}\nmodel card: {card}")
    if payload.metrics["stage1"] is None:
        print("NOTE: the run was not evaluated; the card has no test metrics (run `respirenet evaluate` first)")
    return 0
