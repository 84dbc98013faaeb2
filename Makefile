# Set-up is part of every entry point: `make demo` and `make test` create/refresh .venv first.
PY := .venv/bin/python
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test bench lint clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m mimic_cli demo --out runs/demo

test: setup
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: setup
	$(PY) perf/run.py --out runs/bench

lint: setup
	.venv/bin/ruff check .

clean:
	rm -rf runs .cache
