"""One fault-injection point, for the crash tests: kill this process at a chosen write.

Production code calls :func:`kill_point` where it writes or commits a file or folder
(just before the rename of an atomic write; half-way through a cycle cache). It does
nothing unless the environment variable ``RESPIRENET_KILL_AT`` holds a glob pattern
(``fnmatch``) matching the path, e.g. ``*/stage1/checkpoints/last.pt``, optionally with
``#N`` for the N-th matching write of the process (``*/last.pt#2``). Then the process
sends itself SIGKILL, as the out-of-memory killer or a lost machine would, with the
temporary file or folder already written and nothing renamed. ``tests/test_faults.py``
kills real runs at exact points this way and checks that running them again gives the
metrics of an uninterrupted run.
"""

from __future__ import annotations

import fnmatch
import os
import signal
from collections import Counter
from pathlib import Path

KILL_AT_ENV = "RESPIRENET_KILL_AT"
# Matching writes seen so far by this process, per pattern: only read when the variable is set.
_matches: Counter = Counter()


def kill_point(path: str | Path) -> None:
    """SIGKILL this process if ``$RESPIRENET_KILL_AT`` matches ``path`` (made absolute); else nothing."""
    setting = os.environ.get(KILL_AT_ENV)
    if not setting:
        return
    pattern, _, nth = setting.rpartition("#") if "#" in setting else (setting, "", "1")
    if fnmatch.fnmatch(str(Path(path).absolute()), pattern):
        _matches[pattern] += 1
        if _matches[pattern] == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
