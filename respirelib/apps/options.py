"""Command-line options that several ``respirenet`` commands share."""

from __future__ import annotations

import argparse

from respirelib.config import PRECISIONS


def add_precision_argument(parser: argparse.ArgumentParser, *, of_run: bool = False) -> None:
    """``--precision auto|fp32|bf16`` (:mod:`respirelib.precision`).

    ``of_run``: the command works on a trained run, whose own precision is the default (None).
    """
    default = None if of_run else "auto"
    parser.add_argument("--precision", choices=PRECISIONS, default=default,
                        help="bf16 (autocast, channels-last) or fp32 (channels-last on a CPU); auto: bf16 on CUDA and on a CPU with native "
                             "bf16 (AMX or AVX-512 BF16), else fp32 "
                             + ("(default: the precision the run trained in)" if of_run else "(default auto)"))
