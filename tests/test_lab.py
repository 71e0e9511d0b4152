"""JupyterLab with the project: the command line it is started with, and the kernel the notebooks get."""

from __future__ import annotations

import ast
import json
import re
import socket
import subprocess
import sys
import time

import pytest

from respirelib.apps import lab
from respirelib.apps.cli import build_parser
from respirelib.apps.notebooks import NOTEBOOK_DIR

# What the pipeline injects and every notebook declares (README: "Every notebook takes the same parameters").
COMMON_PARAMETERS = {"data_dir", "profile", "seed", "device", "run_dir", "figures_dir"}


def test_lab_command_serves_the_notebooks_on_exactly_the_printed_address():
    command = lab.lab_command(ip="127.0.0.1", port=8891, token="abc", open_browser=False)
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={NOTEBOOK_DIR.resolve()}" in command
    assert {"--ServerApp.ip=127.0.0.1", "--ServerApp.port=8891", "--ServerApp.port_retries=0",
            "--IdentityProvider.token=abc", "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=False"} <= set(command)
    assert lab.lab_url(ip="127.0.0.1", port=8891, token="abc") == "http://127.0.0.1:8891/lab?token=abc"


def test_respirenet_lab_refuses_a_busy_port_and_root_without_asking(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = build_parser().parse_args(["lab", "--port", str(port), "--no-browser"])
        assert args.dir == NOTEBOOK_DIR and args.ip == "127.0.0.1"
        with pytest.raises(ValueError, match=f"port {port} on 127.0.0.1 is in use"):
            args.func(args)
    monkeypatch.setattr(lab, "running_as_root", lambda: True)
    args = build_parser().parse_args(["lab", "--port", str(lab.free_port()), "--no-browser"])
    with pytest.raises(ValueError, match="--allow-root"):
        args.func(args)


def test_the_notebooks_kernel_is_this_environment_even_with_a_user_python3_kernel(tmp_path):
    """A user-level ``python3`` kernel spec (another interpreter) must not shadow the project's."""
    user_kernel = tmp_path / "user-data" / "kernels" / "python3"
    user_kernel.mkdir(parents=True)
    (user_kernel / "kernel.json").write_text(json.dumps(
        {"argv": ["/elsewhere/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "someone else's Python", "language": "python"}))
    names = {json.loads(path.read_text())["metadata"]["kernelspec"]["name"] for path in NOTEBOOK_DIR.glob("*.ipynb")}
    assert names == {"python3"}
    probe = ("import json, sys; from jupyter_client.kernelspec import KernelSpecManager; "
             "spec = KernelSpecManager().get_kernel_spec('python3'); print(json.dumps(spec.argv))")
    argv = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                     env=lab.lab_environment(JUPYTER_DATA_DIR=str(tmp_path / "user-data"))).stdout)
    # jupyter_client starts a spec whose argv[0] is "python" with the server's own interpreter
    assert argv[0] in {"python", "python3", sys.executable} and argv[1:3] == ["-m", "ipykernel_launcher"]


@pytest.mark.parametrize("path", sorted(NOTEBOOK_DIR.glob("*.ipynb")), ids=lambda p: p.name)
def test_a_notebook_runs_in_jupyterlab_as_under_papermill(path):
    """JupyterLab runs the parameters cell as written; papermill adds a cell of values after it; no other difference."""
    import nbformat
    import papermill

    code = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the parameters cell must be the first code cell"
    for statement in ast.parse(code[0].source).body:  # plain defaults a reader can edit in place
        assert isinstance(statement, ast.Assign), ast.unparse(statement)
        ast.literal_eval(statement.value)
    assert COMMON_PARAMETERS <= set(papermill.inspect_notebook(str(path)))
    papermill_only = [index for index, cell in enumerate(code)
                      if re.search(r"papermill|injected-parameters|sys\.argv", cell.source)]
    assert papermill_only == [], f"code cells {papermill_only} depend on how the notebook is run"


def test_respirenet_lab_serves_the_address_it_prints(tmp_path):
    import requests

    port = lab.free_port()
    env = lab.lab_environment(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    process = subprocess.Popen([sys.executable, "-m", "respirelib.apps.cli", "lab", "--no-browser", "--allow-root",
                                "--port", str(port), "--dir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        printed = "".join(process.stdout.readline() for _ in range(3))
        url = re.search(r"Open: (http://127\.0\.0\.1:(\d+)/lab\?token=(\w+))", printed)
        assert url and int(url.group(2)) == port and len(url.group(3)) >= 32, printed
        status = None
        for _ in range(120):
            try:
                status = requests.get(url.group(1).replace("/lab?", "/api/status?"), timeout=2).status_code
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        assert status == 200
        wrong = requests.get(url.group(1).replace("/lab?", "/api/status?")[:-4] + "0000", timeout=5)
        assert wrong.status_code == 403  # the token is required
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert lab.port_is_free("127.0.0.1", port)  # stopping the command stopped the server: none is left behind
