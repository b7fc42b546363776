# The two commands of README.rst: `make demo` (run the example shop) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= dev,postgres,redis,openapi

.PHONY: demo test lint checks test-sqlite test-postgres test-schema test-browser docs browser-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	PY="$(abspath $(PY))" scripts/demo.sh

test: lint checks test-sqlite test-postgres test-schema docs test-browser

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

checks: $(STAMP)
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m django check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m django makemigrations --check --dry-run
	cd example_project && ../$(PY) manage.py check --fail-level WARNING
	cd example_project && ../$(PY) manage.py makemigrations --check --dry-run

test-sqlite: $(STAMP)
	$(PY) -m pytest -m "not browser"

# Mandatory under CI=true: the conftest fails the run if PostgreSQL cannot be reached.
test-postgres: $(STAMP)
	DB=postgres $(PY) -m pytest -m "not browser"

# schemathesis against the live example shop's OpenAPI schema, as a shopper and a merchant.
test-schema: $(STAMP)
	PY="$(abspath $(PY))" scripts/schemathesis.sh

test-browser: $(STAMP) browser-deps
	$(PY) -m pytest -m browser -p no:randomly

docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

browser-deps:
	scripts/ensure-chromium.sh

clean:
	rm -rf $(VENV) docs/_build artifacts *.egg-info example_project/db.sqlite3
