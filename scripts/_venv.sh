# Sourced by the other scripts: create .venv (once) and install the project with the given extras.
# A regular editable install works here: hatchling's editable mode puts the project on sys.path with a
# .pth file, which Hydra's plugin scan can see (setuptools' PEP 660 mode hides `hydra_plugins`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $PYTHON" >&2
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$1]"
export WANDB_MODE="${WANDB_MODE:-offline}" WANDB_SILENT=true
