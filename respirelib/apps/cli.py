"""The ``respirenet`` command line: the same jobs as the notebooks, from a shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from respirelib.apps.options import add_precision_argument
from respirelib.config import DEFAULT_INIT, EVAL_PADDING_METHODS, INIT_CHOICES, PADDING_METHODS, SELECTION_METRICS
from respirelib.errors import DataError
from respirelib.runs import REPO_ROOT


def _has_default_to_show(action: argparse.Action) -> bool:
    """A value the option takes when not given (flags and required arguments have none worth showing)."""
    return (action.default is not None and action.default is not False and action.default is not argparse.SUPPRESS
            and (bool(action.option_strings) or action.nargs in ("?", "*")))


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless its text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not _has_default_to_show(action) or "default" in text.lower():
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """The CLI's parsers, sub-commands included (argparse makes those of the parent's class), show defaults."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        if action.help is None and _has_default_to_show(action):  # argparse would print no line to end with it
            action.help = "default: %(default)s"
        return action


def _cmd_data_summary(args: argparse.Namespace) -> int:
    from respirelib.data.icbhi import load_icbhi
    from respirelib.data.summary import data_summary, format_recording_list, format_summary, recording_list

    dataset = load_icbhi(args.data_dir, errors="skip" if args.skip_bad else "raise",
                         audio="ignore" if args.no_audio else "auto")
    summary = data_summary(dataset)
    if args.recordings:
        summary["recording_list"] = recording_list(dataset)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary)
          + (f"\n\n{format_recording_list(summary['recording_list'])}" if args.recordings else ""))
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from respirelib.data.synth import write_synthetic_icbhi

    result = write_synthetic_icbhi(args.out_dir, scale=args.scale, seed=args.seed, difficulty=args.difficulty,
                                   progress=not args.quiet)
    print(result)
    return 0


def _cmd_pipeline(args: argparse.Namespace) -> int:
    from respirelib.apps.launch import start_pipeline
    from respirelib.apps.pipeline import PipelineError

    try:
        out = start_pipeline(profile=args.profile, data=args.data, out=args.out, start=args.start, seed=args.seed,
                             seeds=args.seeds, splits=args.splits, device=args.device, precision=args.precision,
                             init=args.init,
                             scale=args.scale, runs=args.runs, project=args.project, progress=not args.quiet,
                             assume_yes=args.yes)
    except PipelineError as error:
        print(f"respirenet: {error}", file=sys.stderr)
        return 1
    report = Path(out) / "notebooks" / "07_results.ipynb"
    print(f"\ndone: {out}\n  figures: {Path(out) / 'figures'}")
    if report.exists():
        print(f"  report:  {report}  (open it in JupyterLab: see the README's Notebooks section)")
    return 0


def _training_overrides(args: argparse.Namespace) -> dict:
    overrides: dict = {}
    stage1 = {key: value for key, value in (("concat", False if args.no_concat else None),
                                            ("clip_blank", False if args.no_clip else None),
                                            ("select_on", args.select_on), ("select_metric", args.select_metric),
                                            ("epochs", args.epochs)) if value is not None}
    if stage1:
        overrides["stage1"] = stage1
    audio = {key: value for key, value in (("cycle_duration", args.cycle_seconds), ("padding", args.padding),
                                           ("eval_padding", args.eval_padding))
             if value is not None}
    if audio:
        overrides["audio"] = audio
    return overrides


def _seconds_1_to_9(text: str) -> float:
    value = float(text)
    if not 1 <= value <= 9:
        raise argparse.ArgumentTypeError(f"input length must be between 1 and 9 s (Table II), got {value:g}")
    return value


def _cmd_train(args: argparse.Namespace) -> int:
    from respirelib.experiments.run import train_run

    if args.resume:
        run_dir = train_run(args.data, args.out, resume=True, device=args.device, progress=not args.quiet,
                            errors="skip" if args.skip_bad else "raise")
    else:
        from respirelib.training.profiles import profile_data_dir

        data_dir = profile_data_dir(args.data, args.profile)
        run_dir = train_run(data_dir, args.out, profile=args.profile, seed=args.seed, split=args.split,
                            fold=args.fold, split_seed=args.split_seed, init=args.init, device=args.device,
                            precision=args.precision, weights_dir=args.weights_dir,
                            errors="skip" if args.skip_bad else "raise", progress=not args.quiet,
                            overrides=_training_overrides(args))
    print(f"stage 1 done: {run_dir}")
    return 0


def _cmd_finetune(args: argparse.Namespace) -> int:
    from respirelib.experiments.run import finetune_run

    statuses = finetune_run(args.run, device=args.device, precision=args.precision, resume=args.resume,
                            progress=not args.quiet)
    for device_name, status in statuses.items():
        print(f"{device_name:10s} {_describe_finetuning(status)}")
    print(f"written: {args.run / 'stage2' / 'devices.json'}")
    return 0


def _describe_finetuning(status: dict) -> str:
    """One device's stage-2 outcome in words (``finetune_run``'s status dict)."""
    if status["status"] != "trained":
        return f"not fine-tuned: {status['reason']}"
    line = (f"fine-tuned on {status['n_train_inputs']} inputs, selected on {status['n_selection_inputs']} "
            f"validation inputs: epoch {status['best_epoch']} kept")
    return line + (f" ({status['note']})" if status.get("note") else "")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from respirelib.experiments.run import evaluate_run
    from respirelib.training.metrics import format_entry

    results = evaluate_run(args.run, device=args.device, precision=args.precision, overwrite=args.overwrite,
                           progress=not args.quiet)
    for stage, metrics in results.items():
        label = "SYNTHETIC data" if metrics["synthetic"] else f"{metrics['data']} data"
        ci = metrics["ci"]
        print(f"{stage:9s} [{label}, {metrics['init']}, profile {metrics['profile']}, {metrics['split']} split, "
              f"{metrics['precision']}; "
              f"{ci['level']:.0%} intervals: {ci['method']} over {ci['n_patients']} patients]")
        for task, name in (("four_class", "4-class"), ("two_class", "2-class")):
            print(f"  {name}: " + "  ".join(f"{metric.capitalize()} "
                                            f"{format_entry(ci[task][metric])}"
                                            for metric in ("sp", "se", "score")))
    print(f"written: {args.run / 'metrics.json'}" + (" and metrics_finetuned.json" if "finetuned" in results else ""))
    return 0


def _cmd_optimism(args: argparse.Namespace) -> int:
    from respirelib.training.metrics import json_safe
    from respirelib.experiments.tables import optimism_table

    table = optimism_table(args.root, split=args.split, variant=args.variant, task=args.task, device=args.device,
                           progress=not args.quiet)
    if table.empty:
        print(f"respirenet: error: no evaluated {args.split}-{args.variant}-seed* runs under {args.root / 'train'}",
              file=sys.stderr)
        return 2
    print(f"How much of a number comes from how it was measured ({args.task} Sp, Se, Score in percent, "
          "[95% patient-bootstrap interval]); rows that read the test labels are diagnostics, not results:\n")
    print(table.to_string(index=False))
    if args.json is not None:
        from respirelib.storage import atomic_write_text

        if args.json.exists():
            print(f"respirenet: error: {args.json} exists; nothing was written", file=sys.stderr)
            return 2
        atomic_write_text(args.json, json.dumps(json_safe(table.to_dict(orient="records")), indent=2))
        print(f"\nwritten: {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="respirenet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="get, check and inspect an ICBHI folder")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    summary = data_commands.add_parser("summary", help="counts of recordings, cycles, classes, devices, splits")
    summary.add_argument("data_dir", type=Path)
    summary.add_argument("--json", action="store_true", help="print JSON instead of text")
    summary.add_argument("--skip-bad", action="store_true",
                         help="leave bad files and rows out (all listed in the report) instead of stopping")
    summary.add_argument("--no-audio", action="store_true", help="read annotations only (faster)")
    summary.add_argument("--recordings", action="store_true",
                         help="also list every recording: its name, device, official split and number of cycles")
    summary.set_defaults(func=_cmd_data_summary)
    from respirelib.apps.cmd_data import add_download_arguments, add_realism_arguments, add_verify_arguments

    add_download_arguments(data_commands.add_parser(
        "download", help="download the ICBHI 2017 database, extract it atomically and check it"))
    add_verify_arguments(data_commands.add_parser(
        "verify", help="check a folder against the ICBHI 2017 release: every file, one line per problem"))
    add_realism_arguments(data_commands.add_parser(
        "realism", help="compare real recordings with the synthetic set of the same devices, statistic by statistic"))

    synth = commands.add_parser("synth", help="write a synthetic ICBHI-shaped dataset in the real layout")
    synth.add_argument("out_dir", type=Path)
    synth.add_argument("--scale", type=float, default=1.0, help="1 gives about 6900 cycles (default 1)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--difficulty", type=float, default=0.5,
                       help="0 easy .. 1 hard: quieter, sparser events and more noise (default 0.5)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=_cmd_synth)

    for command, help_text in (("pipeline", "run the numbered notebooks headlessly into one run directory"),
                               ("demo", "the main job (what `make demo` runs): the pipeline, quick profile")):
        pipeline = commands.add_parser(command, help=help_text)
        pipeline.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
        pipeline.add_argument("--data", type=Path, default=None,
                              help="an ICBHI folder (default: the profile's synthetic dataset, written to data/ "
                                   "if missing)")
        pipeline.add_argument("--out", type=Path, default=None, help="run directory (default: a new one in --runs)")
        pipeline.add_argument("--from", dest="start", default=None, metavar="NOTEBOOK",
                              help="resume the run in --out from this notebook (e.g. 04), with the settings it was "
                                   "started with (default: start a new run)")
        pipeline.add_argument("--seed", type=int, default=0)
        pipeline.add_argument("--seeds", type=int, nargs="+", default=None,
                              help="seeds to train (mean ± std); default: the profile's number of seeds from --seed "
                                   "(quick: 3)")
        pipeline.add_argument("--splits", nargs="+", choices=("official", "patient", "patient-cv"), default=None,
                              help="official 60/40, patient-disjoint 80/20, patient-cv its 5 folds "
                                   "(default: official)")
        pipeline.add_argument("--device", default="auto", help="auto, cpu or cuda")
        add_precision_argument(pipeline)
        pipeline.add_argument("--init", default=DEFAULT_INIT, choices=INIT_CHOICES,
                              help="ImageNet weights (checked before the first notebook), random, or ImageNet when "
                                   "found else random, said loudly")
        pipeline.add_argument("--scale", type=float, default=None,
                              help="scale of the synthetic dataset (default: the profile's)")
        pipeline.add_argument("--runs", type=Path, default=REPO_ROOT / "runs", help="where new run directories go")
        pipeline.add_argument("--project", action="store_true",
                              help="print the projected time before starting (always done for --profile paper)")
        pipeline.add_argument("--yes", action="store_true",
                              help="start without asking even when the projected time on a CPU is over an hour")
        pipeline.add_argument("--quiet", action="store_true")
        pipeline.set_defaults(func=_cmd_pipeline)

    train = commands.add_parser("train", help="stage 1: train RespireNet, select on validation patients")
    train.add_argument("--data", type=Path, default=None, help="ICBHI folder (default: the synthetic dataset)")
    train.add_argument("--out", type=Path, required=True, help="a new run directory")
    train.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--split", default="official", choices=("official", "patient"),
                       help="official 60/40 or patient-disjoint 80/20")
    train.add_argument("--fold", type=int, default=0, help="test fold of the patient split (0-4)")
    train.add_argument("--split-seed", type=int, default=0,
                       help="seed of the patient split and validation patients, separate from --seed (default 0)")
    train.add_argument("--init", default=DEFAULT_INIT, choices=INIT_CHOICES,
                       help="ImageNet weights (an error if missing), random, or ImageNet when found else random, "
                            "said loudly")
    train.add_argument("--weights-dir", type=Path, default=None,
                       help="folder holding resnetXX-<hash>.pth (default: $RESPIRENET_WEIGHTS_DIR, then torchvision's "
                            "cache)")
    train.add_argument("--no-concat", action="store_true", help="no concatenation-based augmentation")
    train.add_argument("--no-clip", action="store_true", help="no blank region clipping")
    train.add_argument("--select-on", choices=("val", "test"), default=None,
                       help="checkpoint selection split; 'test' reproduces the reference code's optimism "
                            "(default: the profile's, val)")
    train.add_argument("--select-metric", choices=SELECTION_METRICS, default=None,
                       help="what checkpoint selection maximises: the ICBHI score (the paper's) or the mean of the "
                            "four class recalls (default: the profile's: mean_recall for quick, score for paper)")
    train.add_argument("--epochs", type=int, default=None, help="stage-1 epochs (default: the profile's)")
    train.add_argument("--cycle-seconds", type=_seconds_1_to_9, default=None,
                       help="input length (Table II), 1-9 s (default: the profile's, 7 s for quick and paper)")
    train.add_argument("--padding", choices=PADDING_METHODS, default=None,
                       help="padding of short TRAINING cycles: smart (paper, reads the training labels), context "
                            "(neighbours whatever their class), zero, reflect, or repeat (the reference code) "
                            "(default: the profile's, context)")
    train.add_argument("--eval-padding", choices=EVAL_PADDING_METHODS, default=None,
                       help="padding of short validation/test inputs; none reads a label (default: context)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_precision_argument(train)
    train.add_argument("--skip-bad", action="store_true", help="leave bad data out (listed) instead of stopping")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=_cmd_train)

    finetune = commands.add_parser("finetune", help="stage 2: device-specific fine-tuning of a trained run")
    finetune.add_argument("run", type=Path)
    finetune.add_argument("--resume", action="store_true")
    evaluate = commands.add_parser("evaluate", help="score a run on its test cycles; writes metrics.json")
    evaluate.add_argument("run", type=Path)
    evaluate.add_argument("--overwrite", action="store_true", help="replace existing metrics files")
    for sub in (finetune, evaluate):
        sub.add_argument("--device", default="auto", help="auto, cpu or cuda")
        add_precision_argument(sub, of_run=True)
        sub.add_argument("--quiet", action="store_true")
    finetune.set_defaults(func=_cmd_finetune)
    evaluate.set_defaults(func=_cmd_evaluate)

    optimism = commands.add_parser("optimism", help="the optimism table of trained runs: ours vs the test-selected "
                                                    "checkpoint, the last epoch, label-aware test padding, seeds")
    optimism.add_argument("root", type=Path, help="a pipeline run directory (holding train/<split>-<variant>-seed<N>)")
    optimism.add_argument("--split", default="official", help="official, patient or patient-fold<k>")
    optimism.add_argument("--variant", default="full", help="cnn or full (default)")
    optimism.add_argument("--task", choices=("4-class", "2-class"), default="4-class")
    optimism.add_argument("--json", type=Path, default=None, metavar="OUT",
                          help="also write the table as JSON (default: print only)")
    optimism.add_argument("--device", default="auto", help="auto, cpu or cuda")
    optimism.add_argument("--quiet", action="store_true")
    optimism.set_defaults(func=_cmd_optimism)

    from respirelib.apps.bench import add_bench_arguments
    from respirelib.apps.cmd_explain import add_explain_arguments
    from respirelib.apps.cmd_export import add_export_arguments
    from respirelib.apps.cmd_predict import add_predict_arguments
    from respirelib.apps.lab import add_lab_arguments

    add_explain_arguments(commands.add_parser("explain", help="Grad-CAM++ figure of one cycle of a trained run"))

    add_export_arguments(commands.add_parser("export", help="write a trained run as one model file with a model card"))
    add_predict_arguments(commands.add_parser("predict", help="classify the cycles (or windows) of new recordings"))
    add_bench_arguments(commands)
    from respirelib.apps.cmd_report import add_report_arguments

    add_report_arguments(commands.add_parser(
        "report", help="from a pipeline run: the README's results (readme) or a static site of it (book)"))
    add_lab_arguments(commands.add_parser("lab", help="JupyterLab on the notebooks, with the project's kernel"))
    return parser


def main(argv: list[str] | None = None) -> int:
    # On small shared machines OpenMP threads that spin while waiting slow every small torch
    # operation many times over (measured: 63 vs 198 samples/s for the training-batch frontend).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, FileExistsError, FileNotFoundError, ValueError) as error:
        print(f"respirenet: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of stdout left (`respirenet data verify DIR | head`): stop quietly, as Python's
        # documentation advises, pointing stdout at /dev/null so the exit's flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
