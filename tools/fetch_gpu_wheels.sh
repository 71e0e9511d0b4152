#!/usr/bin/env bash
# Download, here (online), the wheels tools/gpu_check.sh installs on an offline GPU machine.
#
# That machine (Python 3.12, its own CUDA torch 2.11 and torchvision 0.26) already holds numpy,
# scipy, pandas, scikit-learn, numba/llvmlite, matplotlib, seaborn, opencv-python-headless,
# joblib, threadpoolctl, lazy-loader, msgpack, tqdm, requests, pyyaml, jinja2, pillow and pytest
# (see the device notes); what the project needs beyond those is listed below, at the versions
# constraints.txt pins, with no dependencies resolved (each needed one is named). Wheels land in
# .whl/ (git-ignored); the script prints their total size.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

packages=(
  # audio: librosa and what it imports that the machine lacks
  librosa soundfile cffi pycparser soxr audioread pooch platformdirs decorator
  # Grad-CAM++ (grad-cam itself is published as source only: built into a pure-Python wheel below)
  ttach
  # papermill and the Jupyter kernel the notebooks run in
  papermill nbformat nbclient jupyter_client jupyter_core traitlets fastjsonschema jsonschema
  jsonschema-specifications referencing rpds-py entrypoints tenacity click
  ipykernel ipython ipython_pygments_lexers jedi parso prompt_toolkit wcwidth pexpect ptyprocess
  stack-data executing asttokens pure_eval matplotlib-inline comm debugpy nest-asyncio2 pyzmq tornado
  ipywidgets widgetsnbextension jupyterlab_widgets
)

pin() {  # NAME==VERSION from constraints.txt (names compared case- and -/_-insensitively)
  local wanted line
  wanted=$(echo "$1" | tr 'A-Z_' 'a-z-')
  while IFS= read -r line; do
    [[ $line == \#* || -z $line ]] && continue
    if [[ $(echo "${line%%==*}" | tr 'A-Z_' 'a-z-') == "$wanted" ]]; then echo "$line"; return; fi
  done < constraints.txt
  echo "tools/fetch_gpu_wheels.sh: $1 is not pinned in constraints.txt" >&2
  return 1
}

mkdir -p .whl
specs=()
for name in "${packages[@]}"; do specs+=("$(pin "$name")"); done
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "${specs[@]}"
for name in grad-cam; do  # source-only on PyPI: build the (pure-Python) wheel here
  "$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation -w .whl "$(pin "$name")" 2>/dev/null \
    || "$PYTHON" -m pip wheel --quiet --no-deps -w .whl "$(pin "$name")"
done
echo "$(ls .whl/*.whl | wc -l) wheels in .whl/, $(du -ch .whl/*.whl | tail -1 | cut -f1) in all"
