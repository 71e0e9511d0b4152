"""JupyterLab on the numbered notebooks, with the project's own kernel (``respirenet lab``, ``make lab``).

The server runs from this Python environment, so the notebooks' ``python3`` kernel is
this interpreter (the environment's kernel spec is preferred over a user-level one) and
``respirelib`` imports with no extra step. :func:`start_lab` starts one in the
background and waits until it answers (the browser test uses it); ``respirenet lab``
prints its address and becomes the server.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from respirelib.apps.notebooks import NOTEBOOK_DIR

DEFAULT_PORT = 8888


def lab_url(*, ip: str, port: int, token: str, path: str = "lab") -> str:
    """The address of a server's page ``path`` (``"lab"``, ``"lab/tree/06_explanations.ipynb"``...)."""
    return f"http://{ip}:{port}/{path}?token={token}"


def lab_command(root: str | Path = NOTEBOOK_DIR, *, ip: str = "127.0.0.1", port: int = DEFAULT_PORT,
                token: str, open_browser: bool = True, allow_root: bool = False) -> list[str]:
    """The ``jupyter lab`` command line serving ``root`` on exactly ``ip:port`` with ``token``."""
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(root).resolve()}",
            f"--ServerApp.ip={ip}", f"--ServerApp.port={port}",
            # exactly this port (the address was printed before the server starts), else fail
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.open_browser={open_browser}", f"--ServerApp.allow_root={allow_root}"]


def lab_environment(**extra: str) -> dict[str, str]:
    """This process's environment plus ``extra``; this environment's kernel spec takes precedence over the user's."""
    return {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1", **extra}


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def port_is_free(ip: str, port: int) -> bool:
    """Whether a server could listen on ``ip:port`` now (closed connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


def free_port(ip: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


@dataclass
class LabServer:
    """A JupyterLab server started by :func:`start_lab`; ``stop()`` ends it."""

    process: subprocess.Popen
    ip: str
    port: int
    token: str
    root: Path
    log: Path

    def url(self, path: str = "lab") -> str:
        return lab_url(ip=self.ip, port=self.port, token=self.token, path=path)

    def stop(self, *, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the server shuts its kernels down and exits
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_lab(root: str | Path, *, log: str | Path, ip: str = "127.0.0.1", port: int | None = None,
              token: str | None = None, timeout: float = 90.0, env: dict[str, str] | None = None) -> LabServer:
    """Start JupyterLab on ``root`` in the background (no browser) and wait until its API answers.

    Parameters
    ----------
    root : str or Path
        The folder the server shows.
    log : str or Path
        The server's output goes to this file (it is named in any error).
    port : int, optional
        Default: a free port. ``token`` default: a new random one.
    timeout : float
        Seconds to wait for the server to answer.
    env : dict, optional
        Extra environment variables (e.g. ``JUPYTER_CONFIG_DIR`` to keep a test away from the user's settings).

    Root is allowed here (CI runs as root); ``respirenet lab`` asks for ``--allow-root``.
    """
    import requests

    port = free_port(ip) if port is None else port
    token = token or secrets.token_hex(24)
    log = Path(log)
    with open(log, "ab") as out:
        process = subprocess.Popen(lab_command(root, ip=ip, port=port, token=token, open_browser=False,
                                               allow_root=running_as_root()),
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=lab_environment(**(env or {})))
    server = LabServer(process, ip, port, token, Path(root), log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode} before answering; see {log}")
        try:
            if requests.get(server.url("api/status"), timeout=2).ok:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    server.stop()
    raise TimeoutError(f"JupyterLab did not answer on {ip}:{port} within {timeout:.0f} s; see {log}")


def add_lab_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``respirenet lab``; sets ``func`` to :func:`run_lab_command`."""
    parser.add_argument("--dir", type=Path, default=NOTEBOOK_DIR,
                        help="the folder to open (default: the project's notebooks/)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--allow-root", action="store_true", help="run as root (JupyterLab refuses otherwise)")
    parser.set_defaults(func=run_lab_command)
    return parser


def run_lab_command(args: argparse.Namespace) -> int:
    if not args.dir.is_dir():
        raise FileNotFoundError(f"{args.dir} is not a folder to open in JupyterLab")
    if not port_is_free(args.ip, args.port):
        raise ValueError(f"port {args.port} on {args.ip} is in use (another Jupyter?); "
                         f"choose another with: respirenet lab --port {args.port + 1}")
    if running_as_root() and not args.allow_root:
        raise ValueError("running as root: JupyterLab refuses that unless asked; add --allow-root "
                         "(or run as an ordinary user)")
    token = secrets.token_hex(24)
    print(f"JupyterLab on {args.dir.resolve()} with the project's kernel ({sys.executable}).\n"
          f"Open: {lab_url(ip=args.ip, port=args.port, token=token)}\n"
          "Ctrl-C twice stops it.", flush=True)
    command = lab_command(args.dir, ip=args.ip, port=args.port, token=token, open_browser=not args.no_browser,
                          allow_root=args.allow_root)
    # This process becomes the server: Ctrl-C and signals reach it directly, and no server outlives us.
    os.execve(command[0], command, lab_environment())
