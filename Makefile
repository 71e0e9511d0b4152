# RespireNet Companion: the two commands a newcomer needs are `make demo` and `make test`.
# Both create .venv on first use. DATA=/path/to/ICBHI runs on a real download instead of
# the synthetic default.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?=
PROFILE ?= quick
SEED ?= 0

# Idle OpenMP threads must not spin on small shared machines (see respirelib/apps/cli.py).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test venv reproduce lab book clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@# librosa compiles its numba functions on first import (about 20 s on 2 cores) and caches them in
	@# the venv: done here once, not inside the first notebook of every fresh demo.
	$(PY) -c "import librosa.util.utils, librosa.core.audio, librosa.effects, librosa.display"
	@# On a machine without an NVIDIA GPU, CUDA wheels mean a pin went wrong (gigabytes for nothing).
	@command -v nvidia-smi >/dev/null || ! $(PY) -m pip list 2>/dev/null | grep -i nvidia \
		|| { echo "CUDA wheels were installed on a machine without a GPU: check constraints.txt"; exit 1; }
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/respirenet demo $(if $(DATA),--data $(DATA)) --profile $(PROFILE) --seed $(SEED)

# The paper's full schedule on a real ICBHI download: both splits, five seeds (a GPU job).
reproduce: $(STAMP)
	@test -n "$(DATA)" || { echo "usage: make reproduce DATA=/path/to/ICBHI"; exit 2; }
	$(VENV)/bin/respirenet pipeline --profile paper --data $(DATA) --splits official patient \
		--seeds 0 1 2 3 4 --init imagenet

# JupyterLab on notebooks/ with the project's kernel; prints the address to open (LAB_ARGS="--port 8890", ...).
lab: $(STAMP)
	$(VENV)/bin/respirenet lab $(LAB_ARGS)

# The book of a pipeline run (default: the newest under runs/, as `make demo` writes it): a static site in
# RUN/book/html, made with Jupyter Book 2, or offline with nbconvert when MyST cannot fetch its theme.
RUN ?=
book: $(STAMP)
	$(VENV)/bin/respirenet report book $(RUN) --replace

# Two pytest-xdist workers: much of the suite waits on subprocesses, imports and notebook kernels,
# which two cores overlap; tests/conftest.py decides what runs together. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
