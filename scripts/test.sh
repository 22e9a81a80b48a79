#!/usr/bin/env bash
# Set up the venv and run the whole test suite: ruff (lint + format check), then pytest on 4 workers (PYTEST_WORKERS).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k sweeper`. METTA_AB_EXTRAS=dev,ray adds Ray;
# VENV and METTA_AB_PINS choose another venv and versions (see scripts/_venv.sh).
source "$(dirname "$0")/_venv.sh" "${METTA_AB_EXTRAS:-dev}"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# Four workers on two cores: most tests wait on app processes, Ray and SLURM rather than compute (CI's whole
# run used 148% of two cores at four workers, 11.5 min), and the tests hold on a loaded machine (the suite
# ran with a CPU hog beside it).
"$VENV/bin/python" -m pytest -n "${PYTEST_WORKERS:-4}" "$@"
