"""What a killed write leaves behind: temporary siblings named by host and process, and their removal.

Every atomic write in this project (:mod:`respirelib.model.checkpoint`, :mod:`respirelib.signal.cache`)
writes ``.NAME.HOST.PID.<random>`` beside ``NAME`` and renames it when complete. A process
killed before the rename leaves that temporary (up to gigabytes for a cycle cache); the
next writer of the same name removes those whose process is gone.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
from pathlib import Path


def temporary_prefix(name: str) -> str:
    """Name prefix of this process's temporary siblings of ``name``: ``.NAME.HOST.PID.``.

    The host and process id let :func:`remove_stale_temporaries` tell what a killed
    process left behind from what a running one is still writing.
    """
    return f".{name}.{socket.gethostname()}.{os.getpid()}."


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(directory: str | Path, name: str) -> list[Path]:
    """Delete temporary siblings of ``name`` in ``directory`` whose writer (on this host) is dead.

    A process killed mid-write leaves its temporary file or folder (up to gigabytes for
    a cycle cache); the next writer of the same name removes it. Temporaries of live
    processes, and of other hosts sharing the folder, are left alone. Returns what was removed.
    """
    directory, removed = Path(directory), []
    prefix = f".{name}.{socket.gethostname()}."
    for entry in directory.glob(glob.escape(prefix) + "*"):
        pid = entry.name[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
