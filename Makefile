# Two commands for a fresh machine with only Python (>= 3.11) and make:
#   make test        set up .venv, install the project with its test extras, run the tests
#   make reproduce   set up .venv, run the default campaign and regenerate paper_tables/
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test reproduce reproduce-quick instances bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests benchmarks --benchmark-disable

instances: $(STAMP)
	$(BIN)/dnnsplit generate --default-set all --out instances/default

reproduce: $(STAMP)
	$(BIN)/python -m dnnsplit.reproduce

reproduce-quick: $(STAMP)
	$(BIN)/python -m dnnsplit.reproduce --quick

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
