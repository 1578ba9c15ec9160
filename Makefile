# Every target installs what it needs first; see README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BASE_STAMP := $(VENV)/.base-$(shell cat requirements/base.lock | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.dev-$(shell cat requirements/dev.lock | cksum | cut -d' ' -f1)

.PHONY: install install-dev run test lint format emulator bench bench-scale soak lock help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else "Python 3.12 is required (found %s); see .python-version" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(BASE_STAMP): requirements/base.lock | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/base.lock
	rm -f $(VENV)/.base-* && touch $@

$(DEV_STAMP): requirements/dev.lock | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	rm -f $(VENV)/.dev-* $(VENV)/.base-* && touch $@ $(BASE_STAMP)

install: $(BASE_STAMP)  ## create .venv with the locked runtime dependencies

install-dev: $(DEV_STAMP)  ## add the locked test and lint tools

run: install  ## run the service: embedded PostgreSQL + emulator unless configured, worker, web
	scripts/ensure_system_packages.sh pdf
	$(BIN)/python scripts/run_local.py

test: install-dev  ## run the whole test suite against a real PostgreSQL
	scripts/ensure_system_packages.sh pdf browser
	DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python scripts/test_database_url.py)}" \
	SECRET_KEY="$${SECRET_KEY:-test-secret-key-not-for-production}" \
	SUBJECT_HASH_KEY="$${SUBJECT_HASH_KEY:-test-subject-hash-key-not-for-production}" \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev  ## ruff lint and format check, mypy, and the import contract (the settings only parse the URL here)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	DEBUG=true DATABASE_URL=postgres://typecheck@localhost/typecheck $(BIN)/mypy
	DEBUG=true DATABASE_URL=postgres://typecheck@localhost/typecheck $(BIN)/lint-imports

format: install-dev  ## apply ruff formatting and safe fixes
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

emulator: install  ## run the namespace API emulator alone on 127.0.0.1:8765
	DEBUG=true $(BIN)/python manage.py namespace_emulator --port 8765

bench: install-dev  ## all benchmarks (client calls, execution, webhooks, mappings, exports, scans, audit log); figures go in issue notes
	$(BIN)/python -m bench.client_calls
	DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python scripts/test_database_url.py)}" \
	$(BIN)/python -m bench.execution --repeat 3
	DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python scripts/test_database_url.py)}" $(BIN)/python -m bench.webhooks
	DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python scripts/test_database_url.py)}" $(BIN)/python -m bench.mappings
	DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python scripts/test_database_url.py)}" $(BIN)/python -m bench.exports
	DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python scripts/test_database_url.py)}" $(BIN)/python -m bench.scans
	DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python scripts/test_database_url.py)}" \
	SECRET_KEY="$${SECRET_KEY:-bench}" SUBJECT_HASH_KEY="$${SUBJECT_HASH_KEY:-bench-subject-hash-key}" \
	$(BIN)/python -m bench.audit_log

bench-scale: install-dev  ## how cost grows: the registry by decades to 10,000,000 mappings, a 1,000,000-item tenant erased at each (about 20 minutes; docs/scaling.md)
	DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python scripts/test_database_url.py)}" $(BIN)/python -m bench.scale

soak: install-dev  ## the mixed-fault soak at 50,000 items per namespace (outside CI)
	ERASURE_SOAK_ITEMS=50000 DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python scripts/test_database_url.py)}" \
	SECRET_KEY="$${SECRET_KEY:-test-secret-key-not-for-production}" \
	SUBJECT_HASH_KEY="$${SUBJECT_HASH_KEY:-test-subject-hash-key-not-for-production}" \
	$(BIN)/python -m pytest tests/services/execution/test_concurrency.py -k soak -q

lock:  ## re-resolve requirements/*.lock from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --extra dev --python-version 3.12 --generate-hashes -o requirements/dev.lock
	uv pip compile pyproject.toml --python-version 3.12 --generate-hashes -c requirements/dev.lock -o requirements/base.lock
	# WeasyPrint asks for fonttools[woff]: pinned with its extra, or pip's hash-checking mode
	# resolves the extra to a newer fonttools than the lock's and refuses it as unpinned.
	sed -i 's/^fonttools==/fonttools[woff]==/' requirements/dev.lock requirements/base.lock
