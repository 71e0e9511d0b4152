"""``respirenet data download`` and ``data verify``: fetching and checking the ICBHI 2017 release.

The work is :func:`respirelib.data.download.download_icbhi` and :func:`respirelib.data.verify.verify_icbhi`.
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
