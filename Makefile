# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean-demo messages

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "dsar needs Python 3.11: set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Sets up the demo (migrations, the five controllers, demo accounts it prints), then serves web,
# Celery worker and beat together; one Ctrl-C stops all three.
run: $(STAMP)
	$(BIN)/python manage.py setup_demo
	$(BIN)/honcho --procfile Procfile start

# On every core (at most four): the suite's slowest tests wait on subprocesses and a browser.
test: $(STAMP)
	$(BIN)/pytest -n auto --maxprocesses 4 --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .

# Removes the demo's database, broker folder and mail; the next `make run` starts afresh.
clean-demo:
	rm -rf var/

# After changing any translatable string: refresh the Dutch catalogue, translate, then compile.
messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l nl --no-obsolete --no-wrap --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*'
	$(BIN)/python manage.py compilemessages -l nl --ignore '.venv/*' --ignore 'var/*'
