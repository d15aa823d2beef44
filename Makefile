# The two commands a user needs: `make run` (the service, embedded, no external services) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# yente's response models, for the tests of the OpenSanctions-compatible API: without its pinned dependencies (see
# pyproject.toml, dev extra), which would downgrade fastapi, uvicorn, httpx and rigour.
YENTE_MODELS := yente==5.5.0

.PHONY: install run test test-fast lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps '$(YENTE_MODELS)'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kyc serve

test: $(STAMP)
	bash scripts/services.sh
	bash scripts/browser.sh
	$(BIN)/ruff check kyc lists workers api cli tests bench
	$(BIN)/mypy kyc lists workers api cli tests bench
	KYC_TEST_POSTGRES_URL=$${KYC_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test} \
	KYC_TEST_REDIS_URL=$${KYC_TEST_REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(BIN)/pytest -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check kyc lists workers api cli tests bench
	$(BIN)/mypy kyc lists workers api cli tests bench

# The engine's benchmarks beside logic-v2 (a quiet machine; each prints its figures, `--write` records them).
bench: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m bench.matching
	$(BIN)/python -m bench.nearmiss
	$(BIN)/python -m bench.index

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
