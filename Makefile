# The two commands: `make run` (the whole sync against the twins, on SQLite) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test lint test-postgres test-celery test-browser bench sql reset clean

$(STAMP): requirements.txt requirements-test.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt -c constraints.txt
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) scripts/run_demo.py

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (ruff.toml), mypy (mypy.ini: strict on plugins/atera_qbo), import-linter (.importlinter: the layers, the
# twins apart, no cycles), and the function-length rule over plugins/, sandbox/, dags/, benchmarks/, scripts/.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	PYTHONPATH=plugins:. $(VENV)/bin/lint-imports
	$(PY) scripts/long_functions.py plugins sandbox dags benchmarks scripts

# The staging-store tests (and the rest marked postgres) against the local PostgreSQL, in a throw-away database.
test-postgres: setup
	bash scripts/with_postgres.sh $(PY) -m pytest -m postgres $(PYTEST_ARGS)

# Airflow distributed: api-server, scheduler, dag-processor, two Celery workers; PostgreSQL + Redis (a few minutes).
test-celery: setup
	$(PY) -m pytest -m celery $(PYTEST_ARGS)

# The finance wizard in headless chromium against a real Airflow API server (Debian's chromium: apt-get install
# chromium; .ci/run installs it). Screenshots land in var/browser-artifacts/.
test-browser: setup
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/run_all.py

# The staging schema as SQL per database (include/sql/), from the migrations: after adding one, run this.
sql: setup
	$(PY) scripts/write_sql.py

reset:
	rm -rf var/

clean: reset
	rm -rf $(VENV) .pytest_cache
