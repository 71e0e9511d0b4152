"""Crash-safe writing: every file and folder this project writes goes through here.

- :func:`atomic_write_text`, :func:`atomic_write_bytes`, :func:`atomic_torch_save`: a file
  is written to a temporary sibling, flushed to disk and renamed over its name only when
  complete, so a crash leaves the previous file intact, never a half-written one.
- :func:`atomic_directory`: a folder is filled in a staging folder beside it and renamed
  into place when complete; it never replaces a folder that holds anything, so of two
  processes committing the same folder exactly one wins and the other gets a
  :class:`FileExistsError`. :func:`claim_new_dir` claims a new run directory that way
  (earlier runs are never overwritten); :func:`new_run_dir` makes a fresh timestamped one.
- :func:`discard_directory`: a folder is renamed aside before it is deleted, so a reader
  never meets half of it.
- What a killed write leaves behind: temporary siblings named ``.NAME.HOST.PID.<random>``
  (:func:`temporary_prefix`); the next writer of the same name removes those whose process
  is gone (:func:`remove_stale_temporaries`).
- One fault-injection point, for the crash tests: :func:`kill_point` kills this process at
  a chosen write when the environment variable ``RESPIRENET_KILL_AT`` holds a glob pattern
  (``fnmatch``) matching the path, e.g. ``*/stage1/checkpoints/last.pt``, optionally with
  ``#N`` for the N-th matching write of the process (``*/last.pt#2``). The process sends
  itself SIGKILL, as the out-of-memory killer or a lost machine would, with the temporary
  file or folder already written and nothing renamed. ``tests/test_faults.py`` kills real
  runs at exact points this way and checks that running them again gives the metrics of
  an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fnmatch
import glob
import json
import os
import shutil
import signal
import socket
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

KILL_AT_ENV = "RESPIRENET_KILL_AT"
# Matching writes seen so far by this process, per pattern: only read when the variable is set.
_matches: Counter = Counter()
RUN_DIR_HINT = "choose a new directory (earlier runs are never overwritten)"


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


# ---------------------------------------------------------------- temporaries and their leftovers


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


def _usual_mode(path: str | Path, *, folder: bool) -> None:
    """Give what mkstemp/mkdtemp made owner-only the mode the umask gives a new file or folder."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if folder else 0o666) & ~umask)


# ---------------------------------------------------------------- files


@contextlib.contextmanager
def _atomic_file(path: Path, mode: str, **open_args) -> Iterator:
    """Yield a stream on a temporary file beside ``path``; rename it over ``path`` only when complete.

    A crash mid-write leaves the previous file intact, never a half-written one; the
    temporary file a killed writer left is removed by the next write of the same name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)
    handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode, **open_args) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        _usual_mode(temporary, folder=False)
        kill_point(path)  # crash tests only; a no-op otherwise
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically (temporary file, then rename)."""
    path = Path(path)
    with _atomic_file(path, "w") as stream:
        stream.write(text)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write a binary file atomically (temporary file, then rename)."""
    path = Path(path)
    with _atomic_file(path, "wb") as stream:
        stream.write(data)
    return path


def refuse_existing_record(path: str | Path) -> None:
    """Raise FileExistsError if ``path`` exists: a record is never overwritten."""
    if Path(path).exists():
        raise FileExistsError(f"{path} exists: a record is never overwritten; choose another name or remove it")


def write_new_record(path: str | Path, record: dict) -> Path:
    """Write ``record`` as JSON to a new file ``path``, atomically (see :func:`refuse_existing_record`)."""
    refuse_existing_record(path)
    return atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def atomic_torch_save(obj, path: str | Path) -> Path:
    """Write ``obj`` with ``torch.save`` atomically (temporary file, then rename)."""
    import torch  # only the writers of checkpoints and models pay for importing it

    path = Path(path)
    with _atomic_file(path, "wb") as stream:
        torch.save(obj, stream)
    return path


# ---------------------------------------------------------------- folders


def _is_free(path: Path) -> bool:
    """``path`` does not exist, or is an empty folder."""
    if not path.exists():
        return True
    return path.is_dir() and not any(path.iterdir())


def refuse_existing_dir(path: str | Path, *, hint: str) -> None:
    """Raise :class:`FileExistsError` naming ``path`` if it exists and is not an empty folder.

    A quick check before long work; :func:`atomic_directory` repeats it atomically when it
    commits. ``hint`` says what to do instead.
    """
    path = Path(path)
    if not _is_free(path):
        raise _exists_error(path, hint)


def _exists_error(path: Path, hint: str) -> FileExistsError:
    return FileExistsError(f"{path} already exists and is not an empty folder; {hint}")


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, hint: str = "choose a new or empty folder",
                     staging: str | Path | None = None) -> Iterator[Path]:
    """Yield a staging folder beside ``path``; rename it to ``path`` when the block completes.

    The folder appears whole or not at all. The rename replaces nothing but an empty
    folder (the user's, made for the purpose), so of two processes committing ``path`` at
    once exactly one wins; the other gets a :class:`FileExistsError` and its staging
    folder is removed.

    Parameters
    ----------
    path : str or Path
        The folder to create.
    hint : str
        What the :class:`FileExistsError` tells a user to do instead.
    staging : str or Path, optional
        A staging folder the caller made and owns (the synthetic writer's ``OUT.partial``,
        which its next run recognises): left as it is when the block fails. By default a
        hidden temporary folder ``.NAME.HOST.PID.<random>``, removed when the block fails
        and, left by a killed process, by the next writer of the same name.

    Raises
    ------
    FileExistsError
        ``path`` exists and is not an empty folder, when the block starts or when it ends.
    """
    path = Path(path)
    refuse_existing_dir(path, hint=hint)
    owned = staging is None
    if owned:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent, path.name)
        staging = Path(tempfile.mkdtemp(prefix=temporary_prefix(path.name), dir=path.parent))
        _usual_mode(staging, folder=True)  # a shared cache or run folder gets the usual mode
    staging = Path(staging)
    try:
        yield staging
        kill_point(path)  # crash tests only; a no-op otherwise
        try:
            os.rename(staging, path)  # replaces an empty folder, fails on a non-empty one
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise _exists_error(path, hint) from None
            raise
    except BaseException:
        if owned:
            shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def claim_new_dir(path: str | Path) -> Iterator[Path]:
    """Claim ``path`` as a new run directory: :func:`atomic_directory` with the run's wording.

    Write the run's first files into the yielded folder; the run directory appears with
    them, so a run killed before the claim leaves nothing and one killed after it leaves
    a folder that is never taken for a new one. Of two processes claiming the same
    folder, exactly one wins; the other gets a :class:`FileExistsError` naming it.
    An existing empty folder is accepted.
    """
    with atomic_directory(path, hint=RUN_DIR_HINT) as staging:
        yield staging


def new_run_dir(base: str | Path, name: str) -> Path:
    """Create and return ``base/<name>-<UTC timestamp>[-N]``; an existing directory is never reused."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        candidate = base / (f"{name}-{stamp}" if attempt == 0 else f"{name}-{stamp}-{attempt}")
        try:
            candidate.mkdir()  # atomic: of two processes, one makes it and the other tries the next name
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"could not create a new run directory under {base}")


def discard_directory(path: str | Path) -> None:
    """Delete the folder ``path``: renamed aside first, so no reader meets half of it.

    The renamed folder is a temporary sibling (:func:`temporary_prefix`): if this process
    is killed while deleting it, the next writer of ``path`` removes the rest. A folder
    already gone (another process discarded it) is not an error.
    """
    path = Path(path)
    aside = path.with_name(f"{temporary_prefix(path.name)}{uuid.uuid4().hex[:8]}.discarded")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside, ignore_errors=True)
