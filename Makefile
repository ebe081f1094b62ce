# civicvoice: `make run` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
export CIVICVOICE_DATA_DIR ?= var
export CIVICVOICE_KEY_FILE ?= .keys/civicvoice-keys.json

.PHONY: help run test bench lint migrate demo assets browser clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $@

assets: $(STAMP) ## Build the GOV.UK Frontend styles and scripts (npm)
	@if [ -f frontend/build.sh ]; then bash frontend/build.sh; fi

migrate: $(STAMP) ## Apply database migrations
	$(BIN)/civicvoice migrate

run: $(STAMP) assets ## Install, migrate, load demo data once and start on http://127.0.0.1:8000
	$(BIN)/civicvoice migrate
	$(BIN)/civicvoice keys init
	$(BIN)/civicvoice demo
	$(BIN)/civicvoice run

browser: ## Install Debian's Chromium for the page tests when missing
	@command -v /usr/bin/chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# One pytest worker per core (TEST_WORKERS=0 runs in one process); worksteal evens out the long tests.
TEST_WORKERS ?= auto
test: $(TEST_STAMP) assets browser ## Install what tests need and run the whole suite
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal

# sentiment_data.py is a module of the sentiment benchmarks; sentiment_train.py retrains cv-sentiment-2 and -3;
# sentiment_vader_words.py writes the VADER word list cv-sentiment-3 ships.
BENCHMARKS := $(filter-out bench/harness.py bench/baseline_app.py bench/sentiment_data.py bench/sentiment_train.py bench/sentiment_vader_words.py,$(wildcard bench/*.py))

bench: $(TEST_STAMP) ## Benchmarks: each prints a ratio against a baseline measured in the same run
	@for b in $(BENCHMARKS); do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(TEST_STAMP) ## Ruff (lint and format), mypy (strict) and the layer order (import-linter) on the packages
	$(BIN)/pip install --quiet ruff mypy
	$(BIN)/ruff check civicvoice surveys feedback privacy exports tests bench
	$(BIN)/ruff format --check civicvoice surveys feedback privacy exports tests bench
	$(BIN)/mypy civicvoice surveys feedback privacy exports
	$(BIN)/lint-imports --no-cache

clean: ## Remove the virtual environment and local data (not the key file)
	rm -rf $(VENV) var
