# Two commands for a fresh machine with only Python (>= 3.11) and make:
#   make test        set up .venv, install the project with its test extras, run the tests
#   make reproduce   set up .venv, run the default campaign and regenerate paper_tables/
#                    (WORKERS=N: N solves at once; RESUME=1: continue an interrupted run)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test reproduce reproduce-quick instances bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,cluster]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests benchmarks --benchmark-disable

instances: $(STAMP)
	$(BIN)/dnnsplit generate --default-set all --out instances/default

# make reproduce [WORKERS=N] [RESUME=1 [KEEP_VERSIONS=1]]: WORKERS=N runs N solves at once on a
# local Dask cluster (default 1: one at a time, the timing reference); RESUME=1 continues the
# results file of an interrupted run instead of starting it again; KEEP_VERSIONS=1 counts records
# of another code version as done (else they are refused).
WORKERS ?= 1
REPRODUCE_FLAGS = --workers $(WORKERS) $(if $(filter 1 yes true,$(RESUME)),--resume) \
	$(if $(filter 1 yes true,$(KEEP_VERSIONS)),--keep-other-versions)

reproduce: $(STAMP)
	$(BIN)/python -m dnnsplit.reproduce $(REPRODUCE_FLAGS)

reproduce-quick: $(STAMP)
	$(BIN)/python -m dnnsplit.reproduce --quick $(REPRODUCE_FLAGS)

# pytest-benchmark over every registered pair on the sets in BENCH_SETS (default: small),
# then its tables: results/pytest-benchmark.json -> results/bench-tables/
BENCH_SETS ?= small
bench: $(STAMP)
	mkdir -p results
	DNNSPLIT_BENCH_SETS="$(BENCH_SETS)" $(BIN)/python -m pytest -q -p no:cacheprovider benchmarks \
		--benchmark-json=results/pytest-benchmark.json
	$(BIN)/dnnsplit tables results/pytest-benchmark.json --out results/bench-tables

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
