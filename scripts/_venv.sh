# Sourced by the other scripts: create the venv (once) and install the project with the given extras.
# A regular editable install works here: hatchling's editable mode puts the project on sys.path with a
# .pth file, which Hydra's plugin scan can see (setuptools' PEP 660 mode hides `hydra_plugins`).
#   VENV=.venv-hydra14 METTA_AB_PINS="hydra-core==1.4.0rc3 omegaconf==2.4.1rc1" source scripts/_venv.sh dev
# makes a second venv with other versions of the project's requirements (CI tests Hydra 1.4 that way).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV with $PYTHON" >&2
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
# shellcheck disable=SC2086  # METTA_AB_PINS is a list of requirement specifiers
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$1]" ${METTA_AB_PINS:-}
export WANDB_MODE="${WANDB_MODE:-offline}" WANDB_SILENT=true
