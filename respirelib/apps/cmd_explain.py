"""``respirenet explain``: one cycle's Grad-CAM++ figure (:func:`respirelib.explain.cycles.explain_cycle_to_file`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from respirelib.apps.options import add_precision_argument


def add_explain_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``respirenet explain``; sets ``func`` to :func:`run_explain_command`."""
    parser.add_argument("--run", type=Path, required=True, help="a trained run directory (has run.json)")
    parser.add_argument("--cycle", required=True,
                        help="RECORDING:CYCLE_INDEX, e.g. 101_1b1_Al_sc_Meditron:0 (cycles count from 0)")
    parser.add_argument("--out", type=Path, required=True, help="the figure to write, e.g. cycle.png")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--layer", default=None,
                        help="module to explain, e.g. backbone.layer3 (default: the last residual block)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_precision_argument(parser, of_run=True)
    parser.add_argument("--data", type=Path, default=None, help="the data folder, if it moved since training (default: the one the run recorded)")
    parser.set_defaults(func=run_explain_command)
    return parser


def run_explain_command(args: argparse.Namespace) -> int:
    from respirelib.explain.cycles import explain_cycle_to_file  # torch and friends: only when the command runs

    path = explain_cycle_to_file(args.run, args.cycle, args.out, data_dir=args.data, device=args.device,
                                 precision=args.precision, layer=args.layer, overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0
