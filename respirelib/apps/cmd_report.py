"""``respirenet report readme [RUN_DIR]``: the README's results, regenerated from one pipeline run;
``respirenet report book [RUN_DIR]``: the run as a static site (:mod:`respirelib.apps.book`).

With ``RUN_DIR`` the run's numbers and provenance are written to the record (default
``results/readme_run.json``, committed, as run directories are not) and the README's results block
is redrawn from it; without, the block is redrawn from the record as it is. ``--check`` only
compares the README with the record and fails when they disagree (as ``tests/test_readme_results.py``
does). See :mod:`respirelib.experiments.readme`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from respirelib.runs import REPO_ROOT

README = REPO_ROOT / "README.md"
RECORD = REPO_ROOT / "results" / "readme_run.json"


def add_report_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``respirenet report readme``; sets ``func``."""
    reports = parser.add_subparsers(dest="report_command", required=True)
    readme = reports.add_parser("readme", help="regenerate the README's results tables from a pipeline run")
    readme.add_argument("run", type=Path, nargs="?", default=None,
                        help="a finished pipeline run directory (default: redraw from the record as it is)")
    readme.add_argument("--command", dest="made_by", default="make demo",
                        help="how the run was made, quoted in the README (default: make demo)")
    readme.add_argument("--record", type=Path, default=RECORD, help=f"the record (default {RECORD.relative_to(REPO_ROOT)})")
    readme.add_argument("--readme", type=Path, default=README, help="the README to update (default README.md)")
    readme.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the README's results differ from the record")
    readme.set_defaults(func=run_report_readme)
    book = reports.add_parser("book", help="render a pipeline run's executed notebooks into a static site")
    book.add_argument("run", type=Path, nargs="?", default=None,
                      help="a finished pipeline run directory (default: the newest under runs/)")
    book.add_argument("--out", type=Path, default=None, help="a new folder for the book (default: RUN/book)")
    book.add_argument("--engine", choices=("auto", "myst", "static"), default="auto",
                      help="myst: Jupyter Book 2 (fetches its site theme on a first build); static: nbconvert, "
                           "offline; auto: myst, else static (default)")
    book.add_argument("--template", type=Path, default=None,
                      help="a local MyST site theme folder (holding template.yml) (default: fetch book-theme)")
    book.add_argument("--replace", action="store_true", help="replace an earlier book in --out")
    book.set_defaults(func=run_report_book)
    return parser


def run_report_readme(args: argparse.Namespace) -> int:
    from respirelib.experiments.readme import readme_record, render_results, replace_results, results_block
    from respirelib.storage import atomic_write_text

    readme = args.readme.read_text()
    if args.check:
        if args.run is not None:
            raise ValueError("--check compares the README with the record; give no run directory with it")
        expected = render_results(json.loads(args.record.read_text()))
        if results_block(readme) != expected:
            print(f"respirenet: {args.readme}'s results differ from {args.record}: run `respirenet report readme`",
                  file=sys.stderr)
            return 1
        print(f"{args.readme}'s results agree with {args.record}")
        return 0
    if args.run is not None:
        record = readme_record(args.run, command=args.made_by)
        atomic_write_text(args.record, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        print(f"written: {args.record}")
    else:
        record = json.loads(args.record.read_text())
    atomic_write_text(args.readme, replace_results(readme, render_results(record)))
    print(f"written: {args.readme} (results of run {record['run']}, commit {record['commit']})")
    return 0


def run_report_book(args: argparse.Namespace) -> int:
    import shutil

    from respirelib.apps.book import BookBuildError, build_book
    from respirelib.runs import latest_pipeline_run

    run = args.run if args.run is not None else latest_pipeline_run()
    out = args.out if args.out is not None else run / "book"
    if args.replace and out.exists():
        if not (out / "source" / "myst.yml").is_file():
            raise FileExistsError(f"{out} is not a book made by `respirenet report book`; not replacing it")
        shutil.rmtree(out)
    try:
        index, engine = build_book(run, out, engine=args.engine, template=args.template)
    except BookBuildError as error:
        print(f"respirenet: error: {error}", file=sys.stderr)
        return 2
    print(f"written: {index} (run {run}, {'Jupyter Book 2 / MyST' if engine == 'myst' else 'nbconvert, offline'})")
    print(f"open it through a local server: python -m http.server --directory {index.parent} 8000")
    return 0
