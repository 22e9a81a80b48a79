#!/usr/bin/env bash
# Set up .venv and run the whole test suite: ruff (lint + format check), then pytest on 2 workers.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k sweeper`.
source "$(dirname "$0")/_venv.sh" dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
