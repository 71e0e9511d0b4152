"""The ``respirenet`` command line: the same jobs as the notebooks, from a shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from respirelib.errors import DataError
from respirelib.runs import REPO_ROOT


def _cmd_data_summary(args: argparse.Namespace) -> int:
    from respirelib.icbhi import load_icbhi
    from respirelib.summary import data_summary, format_summary

    dataset = load_icbhi(args.data_dir, errors="skip" if args.skip_bad else "raise",
                         audio="ignore" if args.no_audio else "auto")
    summary = data_summary(dataset)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from respirelib.synth import write_synthetic_icbhi

    result = write_synthetic_icbhi(args.out_dir, scale=args.scale, seed=args.seed, difficulty=args.difficulty,
                                   progress=not args.quiet)
    print(result)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from respirelib.data_dirs import resolve_data_dir
    from respirelib.icbhi import load_icbhi
    from respirelib.notebooks import execute_notebook
    from respirelib.runs import new_run_dir
    from respirelib.summary import data_summary, format_summary

    data_dir = resolve_data_dir(args.data, scale=args.scale, seed=args.seed)
    summary = data_summary(load_icbhi(data_dir, errors="skip"))
    print(format_summary(summary))
    run_dir = new_run_dir(args.runs, "demo")
    (run_dir / "data_summary.json").write_text(json.dumps(summary, indent=2))
    parameters = {"data_dir": str(data_dir.resolve()), "profile": args.profile, "seed": args.seed,
                  "run_dir": str(run_dir.resolve()), "figures_dir": str((run_dir / "figures").resolve())}
    print(f"executing notebooks into {run_dir}")
    executed = execute_notebook("01", run_dir, parameters)
    print(f"\ndone. executed notebook: {executed}\nfigures: {run_dir / 'figures'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="respirenet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="inspect an ICBHI-layout folder")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    summary = data_commands.add_parser("summary", help="counts of recordings, cycles, classes, devices, splits")
    summary.add_argument("data_dir", type=Path)
    summary.add_argument("--json", action="store_true", help="print JSON instead of text")
    summary.add_argument("--skip-bad", action="store_true",
                         help="leave bad files and rows out (all listed in the report) instead of stopping")
    summary.add_argument("--no-audio", action="store_true", help="read annotations only (faster)")
    summary.set_defaults(func=_cmd_data_summary)

    synth = commands.add_parser("synth", help="write a synthetic ICBHI-shaped dataset in the real layout")
    synth.add_argument("out_dir", type=Path)
    synth.add_argument("--scale", type=float, default=1.0, help="1 gives about 6900 cycles (default 1)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--difficulty", type=float, default=0.5,
                       help="0 easy .. 1 hard: quieter, sparser events and more noise (default 0.5)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=_cmd_synth)

    demo = commands.add_parser("demo", help="the main job: data summary and the notebooks, headless")
    demo.add_argument("--data", type=Path, default=None,
                      help="an ICBHI folder; without it a synthetic dataset is written to data/")
    demo.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--scale", type=float, default=1.0, help="scale of the synthetic dataset (default 1)")
    demo.add_argument("--runs", type=Path, default=REPO_ROOT / "runs", help="where run directories go")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, FileExistsError, FileNotFoundError) as error:
        print(f"respirenet: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
