# Two entry points: `make run` (the product, with a demo) and `make test` (the whole suite).
# Each installs what it needs itself.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# PostgreSQL for the tests (trust auth, user postgres), as on CI.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/commons

.PHONY: install run test lint format migrate bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# With no settings: DEBUG on, an SQLite file in var/ and in-process tasks. DATABASE_URL and
# CELERY_BROKER_URL switch to PostgreSQL and Redis; with a broker, a Celery worker with beat runs beside the server.
run: export DEBUG ?= 1
run: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_baselines
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py declare_schedules
	@if [ -n "$$CELERY_BROKER_URL" ]; then \
		echo "Celery worker and beat (log: var/celery.log)"; \
		$(BIN)/celery -A config worker --beat --loglevel=INFO --logfile=var/celery.log & \
		trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
		$(BIN)/python manage.py runserver $(HOST):$(PORT); \
	else \
		$(BIN)/python manage.py runserver $(HOST):$(PORT); \
	fi

test: export DJANGO_SETTINGS_MODULE = config.settings_test
test: export DATABASE_URL ?= $(TEST_DATABASE_URL)
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks need PostgreSQL; they print their figures and are not part of `make test` or CI.
bench: install
	$(BIN)/python bench/api_list.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/import.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
