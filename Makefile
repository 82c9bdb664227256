# Two entry points (see README): `make demo` and `make test`.
# Both create the project's virtual environment .venv if missing and install
# the locked dependencies; nothing here needs a GPU or downloads model data.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint clean fuzz

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps spikingjelly==2.0.0
	$(PY) -m pip install -q --disable-pip-version-check --no-deps neurobench==2.3.0
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/prosparsity demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/bench_kernel.py
	$(PY) bench/bench_startup.py
	$(PY) bench/bench_scale.py
	$(PY) bench/bench_commands.py
	$(PY) bench/bench_counting.py
	$(PY) bench/bench_traces.py
	$(PY) bench/bench_capture.py
	$(PY) bench/bench_sweep.py
	$(PY) bench/bench_energy.py
	$(PY) bench/bench_frontdoor.py
	$(PY) bench/bench_plugins.py --quick

# Longer reader fuzz: 5,000 mutants per trace, half of them re-sealed with a valid digest
# so that they reach HDF5's own parsing; prints how many runs fell in each category
# (see tests/traces/test_fuzz.py). Then 400 hypothesis examples each of .npz dumps, .pt
# files and sweep specs through the CLI (tests/traces/test_fuzz_inputs.py).
fuzz: $(STAMP)
	PROSPARSITY_FUZZ_RUNS=5000 PROSPARSITY_FUZZ_RESEAL=1 $(PY) -m pytest -q -s tests/traces/test_fuzz.py
	PROSPARSITY_FUZZ_INPUTS=400 $(PY) -m pytest -q -s tests/traces/test_fuzz_inputs.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m tests.lint_imports

clean:
	rm -rf $(VENV) build *.egg-info
