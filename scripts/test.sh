#!/usr/bin/env bash
# Set up .venv and run the whole test suite: ruff (lint + format check), then pytest on 2 workers.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k sweeper`. METTA_AB_EXTRAS=dev,ray adds Ray.
source "$(dirname "$0")/_venv.sh" "${METTA_AB_EXTRAS:-dev}"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
