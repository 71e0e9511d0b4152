"""``respirenet predict REC [REC ...] --model FILE``: :func:`respirelib.inference.predict.predict_recording` on files.

Every output file is planned and checked before any work, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from respirelib.apps.options import add_precision_argument

if TYPE_CHECKING:
    from respirelib.inference.predict import PredictionResult


def add_predict_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``respirenet predict REC [REC ...] --model FILE``."""
    parser.add_argument("recordings", type=Path, nargs="+", help="WAV or FLAC files (any rate, any channels)")
    parser.add_argument("--model", type=Path, required=True, help="a file written by `respirenet export`")
    parser.add_argument("--annotations", action="append", default=None, metavar="TXT",
                        help="cycle annotations ('start end [crackle wheeze]' rows), once per recording in order; "
                             "'auto' takes REC.txt beside each recording (default: sliding windows)")
    parser.add_argument("--stethoscope", default=None, metavar="NAME",
                        help="the stethoscope the recordings were made with (e.g. Meditron), which picks its "
                             "fine-tuned model (default: an ICBHI-style file name's suffix, else the stage-1 model)")
    parser.add_argument("--hop", type=float, default=None, metavar="SECONDS",
                        help="hop between sliding windows (default: half the model's input length)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT",
                        help="write all predictions as JSON (default: print a table)")
    parser.add_argument("--csv", type=Path, default=None, metavar="OUT",
                        help="write all rows as one CSV (default: print a table)")
    parser.add_argument("--figures", type=Path, default=None, metavar="DIR",
                        help="write a timeline PNG per recording (REC_timeline.png) here (default: beside the first "
                             "of --json/--csv, named OUT_REC_timeline.png after it; none when printing only)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--device", default="cpu",
                        help="where the network runs: cpu, cuda or auto (default: cpu, the same numbers on every "
                             "machine)")
    add_precision_argument(parser, of_run=True)
    parser.set_defaults(func=run_predict_command)
    return parser


def _annotation_paths(recordings: list[Path], given: list[str] | None) -> list[Path | None]:
    if not given:
        return [None] * len(recordings)
    if given == ["auto"]:
        return [recording.with_suffix(".txt") for recording in recordings]
    if len(given) != len(recordings):
        raise ValueError(f"{len(given)} --annotations for {len(recordings)} recordings: give one per recording, "
                         "in order, or --annotations auto")
    return [Path(item) for item in given]


@dataclass(frozen=True)
class _Outputs:
    json: Path | None
    csv: Path | None
    figures: tuple[Path | None, ...]  # one per recording

    def paths(self) -> list[Path]:
        return [path for path in (self.json, self.csv, *self.figures) if path is not None]


def _planned_outputs(args: argparse.Namespace) -> _Outputs:
    """Every file the command would write, checked before any work so that nothing is half-written."""
    if args.json is not None and args.json == args.csv:
        raise ValueError("--json and --csv name the same file")
    beside = next((out for out in (args.json, args.csv) if out is not None), None)
    figures = tuple(None for _ in args.recordings)
    if args.figures is not None or beside is not None:
        stems = [recording.stem for recording in args.recordings]
        duplicates = sorted({stem for stem in stems if stems.count(stem) > 1})
        if duplicates:
            raise ValueError(f"recordings share the name(s) {', '.join(duplicates)}: their figures would collide")
        # Beside an output file they carry its name, so a second output (a.json, then b.csv) adds its own.
        figures = tuple(args.figures / f"{stem}_timeline.png" if args.figures is not None
                        else beside.parent / f"{beside.stem}_{stem}_timeline.png" for stem in stems)
    outputs = _Outputs(json=args.json, csv=args.csv, figures=figures)
    existing = [str(path) for path in outputs.paths() if path.exists()]
    if existing and not args.overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist(s); nothing was written; pass --overwrite to "
                              "replace them")
    return outputs


def _print_table(result: PredictionResult) -> None:
    source = "--stethoscope" if result.device_source == "argument" else result.device_source
    device = f"stethoscope {result.device_name} (from {source})" if result.device_name else "stethoscope unknown"
    print(f"\n{result.recording} [{result.info.sample_rate} Hz, {result.info.channels} ch, "
          f"{result.info.duration:.2f} s; {device}; model {result.model_used}"
          + (f"; {result.note}" if result.note else "") + "]")
    print(result.table.drop(columns="model_used").to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def run_predict_command(args: argparse.Namespace) -> int:
    """Predict every recording, then write the outputs (nothing is written if any recording fails)."""
    from respirelib.data.audio import audio_info

    outputs = _planned_outputs(args)
    annotation_paths = _annotation_paths(list(args.recordings), args.annotations)
    for recording in args.recordings:  # a wrong file (a folder, an .mp3, a typo) stops it before torch loads
        audio_info(recording)

    import pandas as pd

    from respirelib.inference.export import load_exported_model
    from respirelib.inference.predict import predict_recording
    from respirelib.storage import atomic_write_text
    from respirelib.viz.save import DEFAULT_DPI

    model = load_exported_model(args.model, device=args.device, precision=args.precision)
    results = [predict_recording(model, recording, annotations=annotations, device_name=args.stethoscope,
                                 hop_seconds=args.hop)
               for recording, annotations in zip(args.recordings, annotation_paths)]
    if model.is_synthetic:
        print(f"WARNING: {args.model} was trained on SYNTHETIC data; its predictions mean nothing for real sounds.")
    print("Not a medical device: research use only.")
    if outputs.json is None and outputs.csv is None:
        for result in results:
            _print_table(result)
    if outputs.json is not None:
        document = {"model": model.describe(), "recordings": [result.to_dict() for result in results]}
        atomic_write_text(outputs.json, json.dumps(document, indent=2))
    if outputs.csv is not None:
        atomic_write_text(outputs.csv, pd.concat([result.csv_rows() for result in results]).to_csv(index=False))
    for result, path in zip(results, outputs.figures):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            result.figure().savefig(path, dpi=DEFAULT_DPI, bbox_inches="tight")
    for path in outputs.paths():
        print(f"written: {path}")
    return 0
