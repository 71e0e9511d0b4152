"""``respirenet data download``, ``data verify`` and ``data realism``: fetching, checking and comparing ICBHI audio.

The work is :func:`respirelib.data.download.download_icbhi`, :func:`respirelib.data.verify.verify_icbhi` and
:func:`respirelib.signal.realism.realism_report`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from respirelib.data.download import DEFAULT_DIR, DEFAULT_URL, URL_ENV, DownloadError, download_icbhi
from respirelib.data.verify import verify_icbhi
from respirelib.runs import REPO_ROOT


def add_download_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``respirenet data download [DIR]``."""
    parser.add_argument("out_dir", type=Path, nargs="?", default=DEFAULT_DIR,
                        help=f"the folder to create (default: {DEFAULT_DIR.relative_to(REPO_ROOT)})")
    parser.add_argument("--url", default=None,
                        help=f"the zip's address, or a local zip (default: ${URL_ENV}, else {DEFAULT_URL})")
    parser.add_argument("--downloads", type=Path, default=None,
                        help="where the zip is kept (default: DIR-download beside DIR)")
    parser.add_argument("--retries", type=int, default=3, help="attempts after the first (default 3)")
    parser.add_argument("--insecure", action="store_true",
                        help="do not check the server's TLS certificate (the content check still runs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_download_command)
    return parser


def run_download_command(args: argparse.Namespace) -> int:
    if args.insecure:
        print("respirenet: --insecure: the server's certificate is not checked; only the content check "
              "below can vouch for the copy", file=sys.stderr)
    try:
        result = download_icbhi(args.out_dir, url=args.url, downloads_dir=args.downloads, retries=args.retries,
                                progress=not args.quiet, verify_tls=not args.insecure)
    except DownloadError as error:
        print(f"respirenet: error: {error}", file=sys.stderr)
        return 2
    for note in result.notes:
        print(f"note: {note}")
    print(result.verdict)
    print(f"\ndata: {result.folder}")
    if result.downloaded:
        print(f"archive kept: {result.archive} (delete it to free {result.archive.stat().st_size / 1e9:.2f} GB)")
    if not result.verdict.ok:
        print(f"the content check found problems: {result.verdict.label}", file=sys.stderr)
        return 1
    print(f"next: make demo DATA={result.folder}   or   make reproduce DATA={result.folder}")
    return 0


def add_verify_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``respirenet data verify DIR``."""
    parser.add_argument("data_dir", type=Path, help="an ICBHI folder (official zip layout, Kaggle layout or flat)")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument("--no-audio", action="store_true", help="check the text files only")
    parser.set_defaults(func=run_verify_command)
    return parser


def run_verify_command(args: argparse.Namespace) -> int:
    """Prints one line per file that is not genuine, then the summary; 1 when the copy is not the release."""
    verdict = verify_icbhi(args.data_dir, audio=not args.no_audio)
    print(json.dumps(verdict.to_dict(), indent=2) if args.json else verdict)
    return 0 if verdict.ok else 1


def add_realism_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``respirenet data realism REAL_DIR``."""
    parser.add_argument("real_dir", type=Path, help="real ICBHI recordings with their annotation files "
                                                    "(e.g. ../shared/icbhi-audio-sample or a download)")
    parser.add_argument("--synthetic", type=Path, default=None,
                        help="a synthetic set (default: the profile's, written to data/ if missing)")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"),
                        help="whose synthetic set is the default (default quick)")
    parser.add_argument("--per-device", type=int, default=12,
                        help="synthetic recordings measured per device (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="which synthetic recordings are drawn (default 0)")
    parser.add_argument("--json", action="store_true", help="print the whole record as JSON")
    parser.add_argument("--out", type=Path, default=None, help="also write the record to this JSON file (default: printed only)")
    parser.add_argument("--log", type=Path, default=None,
                        help="append the record, named by --step, to this calibration log (JSON; default: no log)")
    parser.add_argument("--step", default=None,
                        help="what this record measures, e.g. 'before calibration' (default: none; needed with --log)")
    parser.set_defaults(func=run_realism_command)
    return parser


def realism_record(args: argparse.Namespace) -> dict:
    """The report as a JSON-ready record with its provenance (what ``--out`` and ``--log`` write)."""
    import shlex

    from respirelib.data.icbhi import load_icbhi
    from respirelib.experiments.provenance import data_record, environment
    from respirelib.signal.realism import realism_report
    from respirelib.training.profiles import profile_data_dir

    real = load_icbhi(args.real_dir, errors="skip")
    if real.is_synthetic:
        raise ValueError(f"{args.real_dir} holds a synthetic set (it has a SYNTHETIC_DATASET.json); "
                         "REAL_DIR must hold real recordings")
    synthetic = load_icbhi(profile_data_dir(args.synthetic, args.profile), errors="raise")
    if not synthetic.is_synthetic:
        raise ValueError(f"{synthetic.root} has no synthetic-dataset marker: --synthetic must name a synthetic set")
    report = realism_report(real, synthetic, per_device=args.per_device, seed=args.seed)
    return {"record": "realism", "step": args.step, **environment(),
            "command": "respirenet " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None,
            "real_data": data_record(real), "synthetic_data": data_record(synthetic),
            "per_device": args.per_device, "seed": args.seed, **report.to_dict()}


def format_realism(record: dict) -> str:
    """The comparison as text: one line per device and statistic, then the count within tolerance."""
    lines = [f"real: {record['real_data']['label']} ({record['real_data']['root']})",
             f"synthetic: {record['synthetic_data']['root']}",
             f"{'device':9s} {'statistic':18s} {'real median':>11s} {'real spread':>11s} {'synthetic':>9s} "
             f"{'distance':>8s} {'allowed':>7s}  verdict"]
    for row in record["comparison"]:
        lines.append(f"{row['device']:9s} {row['statistic']:18s} {row['real_median']:11.2f} "
                     f"{'±' + format(row['real_spread'], '.2f'):>11s} {row['synthetic_median']:9.2f} "
                     f"{row['distance']:+8.2f} {row['tolerance']:7.2f}  {'within' if row['within'] else 'OUTSIDE'}")
    summary = record["summary"]
    lines.append(f"within tolerance: {summary['within']} of {summary['compared']} (device, statistic) pairs")
    return "\n".join(lines)


def run_realism_command(args: argparse.Namespace) -> int:
    """Prints the comparison; ``--out`` writes the record, ``--log --step`` appends it to a calibration log."""
    from respirelib.storage import atomic_write_text

    if args.log is not None and args.step is None:
        print("respirenet: error: --log needs --step (what this record measures)", file=sys.stderr)
        return 2
    record = realism_record(args)
    text = json.dumps(record, indent=2)
    if args.out is not None:
        atomic_write_text(args.out, text + "\n")
    if args.log is not None:
        log = json.loads(args.log.read_text()) if args.log.exists() else {"record": "realism calibration log",
                                                                         "steps": []}
        log["steps"].append(record)
        atomic_write_text(args.log, json.dumps(log, indent=2) + "\n")
    print(text if args.json else format_realism(record))
    return 0
