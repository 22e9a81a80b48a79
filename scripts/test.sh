#!/usr/bin/env bash
# Set up the venv and run the whole test suite: ruff (lint + format check), then pytest on 2 workers (PYTEST_WORKERS).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k sweeper`. METTA_AB_EXTRAS=dev,ray adds Ray;
# VENV and METTA_AB_PINS choose another venv and versions (see scripts/_venv.sh).
source "$(dirname "$0")/_venv.sh" "${METTA_AB_EXTRAS:-dev}"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/python" -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
