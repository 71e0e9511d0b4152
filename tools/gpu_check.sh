#!/usr/bin/env bash
# The GPU check in one call: install the carried wheels on the machine's own torch, then run
# tools/gpu_check.py (CUDA tests, bench prep, bench train, a timed paper-profile run, projection).
#
#   tools/fetch_gpu_wheels.sh              # here, online, once: wheels into .whl/ (about 20 MB)
#   tools/gpu_check.sh OUT                 # there: records in OUT (at most 6 files), about 9 minutes
#   tools/gpu_check.sh --tiny-cpu OUT      # anywhere: the same steps, tiny, on the CPU, in minutes
#
# RESPIRENET_COMMIT=<hash> names the commit where the copy there has no .git.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=()
if [[ ${1:-} == --tiny-cpu ]]; then mode=(--tiny-cpu); shift; fi
# On a CPU the project's own environment is the one to use (`make venv` makes it); a GPU machine keeps its torch.
if [[ -z ${PYTHON:-} && ${#mode[@]} -gt 0 && -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; fi
PYTHON=${PYTHON:-python3}
out=${1:?usage: tools/gpu_check.sh [--tiny-cpu] OUT [gpu_check.py options]}
shift
mkdir -p "$out"

# respirelib first: it makes torchvision importable on CPU-only torch builds (respirelib/_torchvision_compat.py)
needed='import respirelib, librosa, soundfile, soxr, pytorch_grad_cam, papermill, pandas, scipy, sklearn, tqdm'
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if "$PYTHON" -c "$needed" 2>/dev/null; then
  echo "gpu_check: the packages are importable; no wheels installed"
else
  if ! compgen -G ".whl/*.whl" >/dev/null; then
    if [[ ${#mode[@]} -gt 0 ]]; then
      echo "gpu_check: $PYTHON lacks the project's packages: run \`make venv\` (it makes .venv, which --tiny-cpu" \
           "then uses), or point PYTHON at an environment that has them" >&2
    else
      echo "gpu_check: packages missing and no wheels in .whl/: run tools/fetch_gpu_wheels.sh first" >&2
    fi
    exit 2
  fi
  site=${GPU_CHECK_SITE:-/tmp/site}
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH=$site:$PYTHONPATH
  "$PYTHON" -c "$needed" || { echo "gpu_check: still missing a package after installing .whl/" >&2; exit 2; }
fi
export PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
"$PYTHON" tools/gpu_check.py "${mode[@]}" "$out" "$@" 2>&1 | tee "$out/gpu_check.log"
