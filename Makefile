# fundwatch: the two commands of the README quick start, and what they need.
#   make demo   install, start the local Kafka broker and a worker, stream simulated reports
#   make test   install (Python packages; Chromium and Prometheus from Debian's packages), then
#               lint and run every test (the integration tests start the broker)

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser prometheus demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium and CJK fonts: the console's browser tests and PDF reports need them.
browser:
	bash deploy/browser/install.sh

# Debian's Prometheus and promtool: the alerting rules' unit tests and a scrape of a real worker.
prometheus:
	bash deploy/prometheus/install.sh

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash deploy/demo.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint browser prometheus
	$(BIN)/python -m pytest

clean:
	-PATH="$(CURDIR)/$(BIN):$$PATH" bash deploy/kafka/kafka.sh stop
	rm -rf $(VENV) .fundwatch
