# Two commands do everything: `make demo` and `make test` (both install what is missing first).
VENV := .venv
VT := $(VENV)/bin/voicetrainer
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
export MPLCONFIGDIR ?= $(CURDIR)/.cache/matplotlib

.PHONY: setup setup-test demo test bench evaluate clean

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

demo: setup
	@$(VT) demo --out demo-out

test: setup-test
	@$(VENV)/bin/lint-imports
	@$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

bench: setup
	@$(VENV)/bin/python scripts/bench.py

evaluate: setup
	@$(VENV)/bin/python scripts/evaluate.py

clean:
	rm -rf $(VENV) .cache demo-out out
