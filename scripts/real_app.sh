#!/usr/bin/env bash
# Try metta-ab on a real third-party Hydra app (from PyPI or a GitHub snapshot), exactly as a new user would:
#   bash scripts/real_app.sh <app>        # <app>: a directory of tests/real_apps/ (hydra_example, jumanji, ...)
# 1. a fresh venv in .real_apps/<app>/venv with the app's pinned release (tests/real_apps/<app>/app.env);
# 2. pip freeze, `pip install <this checkout>[joblib,...]` (not editable), pip freeze: nothing there may change;
# 3. `python -m <app module> -m hydra/sweeper=ab ab.experiment=exp.py hydra.sweep.dir=DIR`, on the basic
#    launcher and on joblib, then scripts/real_app_check.py on each sweep dir.
# An app from a GitHub repository (app.env: APP_REPO=owner/name, APP_COMMIT=sha, APP_SCRIPT=src/train.py) runs
# from a fresh clone at that commit, the launch directory ($WORK), as a user who cloned it does; the clone comes
# from a bare git dir, REAL_APPS_GIT/<owner>+<name>/repo (default: the session's fetched mirrors), and is laid
# anew before each sweep, so that no log of one sweep is found by the next one's check.
# Prints PASS/FAIL per check; exits 1 if any check failed. pip's cache makes reruns fast.
# REAL_APPS_DIR moves the cache (default .real_apps); KEEP_VENV=1 reuses the venv if it exists (faster, but
# then "freeze unchanged" compares against a venv that may already hold metta-ab's requirements).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
APP="${1:?usage: bash scripts/real_app.sh <app> (one of: $(ls tests/real_apps | tr '\n' ' '))}"
SPEC="$REPO/tests/real_apps/$APP"
[ -f "$SPEC/app.env" ] || { echo "no tests/real_apps/$APP/app.env" >&2; exit 2; }
# shellcheck source=/dev/null
APP_PIP_ARGS=()  # extra pip arguments (e.g. -c constraints) an app.env may set
METTA_AB_EXTRAS=joblib  # the extras a user of this app installs (an app.env may add wandb)
EXPECT_EXIT=0  # the sweep's exit status: 0 a verdict; an app that logs no metric sets 4 (no verdict)
APP_REPO=""  # owner/name of a GitHub app (with APP_COMMIT); else the app comes from PyPI
APP_SCRIPT=""  # the app's script, relative to the launch directory (`python src/train.py`); else APP_MODULE
APP_PREPARE=""  # a script of the app's spec dir run in the launch directory before each sweep (e.g. its data)
CACHE="$(mkdir -p "${REAL_APPS_DIR:-.real_apps}/$APP" && cd "${REAL_APPS_DIR:-.real_apps}/$APP" && pwd)"
WORK="$CACHE/work"  # the launch directory (an app.env may install "$WORK" itself: `-e "$WORK"`)
source "$SPEC/app.env"
PY="$CACHE/venv/bin/python"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
export WANDB_MODE=offline WANDB_SILENT=true PIP_DISABLE_PIP_VERSION_CHECK=1  # no HYDRA_FULL_ERROR: what a user sees
fails=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
pip_quiet() { "$PY" -m pip install --quiet "$@" 2>&1 | grep -v "^WARNING: Location 'file:" ; return "${PIPESTATUS[0]}"; }
start=$(date +%s)
# The launch directory, fresh: empty, or the app's repository at its commit.
lay_work() {
  rm -rf "$WORK" && mkdir -p "$WORK" || return 1
  if [ -n "$APP_REPO" ]; then
    git clone -q --no-checkout "${REAL_APPS_GIT:-/work/.mirror}/${APP_REPO/\//+}/repo" "$WORK" \
      && git -C "$WORK" -c advice.detachedHead=false checkout -q "$APP_COMMIT" \
      || { echo "no clone of $APP_REPO at $APP_COMMIT (fetch github:$APP_REPO first)" >&2; return 1; }
  fi
}
if [ -n "$APP_SCRIPT" ]; then APP_ARGV=("$APP_SCRIPT"); else APP_ARGV=(-m "$APP_MODULE"); fi
lay_work || { fail "the app's source"; exit 1; }

echo "== $APP: venv and the app (${APP_REQUIREMENTS[*]})"
if [ "${KEEP_VENV:-0}" != 1 ] || [ ! -x "$PY" ]; then
  rm -rf "$CACHE/venv"
  "$PYTHON" -m venv "$CACHE/venv"
fi
if ! pip_quiet "${APP_PIP_ARGS[@]}" "${APP_REQUIREMENTS[@]}"; then
  fail "the app installs"; exit 1
fi
"$PY" -m pip freeze --exclude-editable | grep -v '^metta-ab' | sort > "$CACHE/before.txt"
echo "   $(wc -l < "$CACHE/before.txt") packages, $(du -sh "$CACHE/venv" | cut -f1), $(($(date +%s) - start)) s"

echo "== pip install $REPO[$METTA_AB_EXTRAS]"
if pip_quiet "$REPO[$METTA_AB_EXTRAS]"; then pass "metta-ab installs into the app's venv"; else fail "metta-ab installs into the app's venv"; fi
"$PY" -m pip freeze | sort > "$CACHE/after.txt"
changed="$(comm -23 "$CACHE/before.txt" "$CACHE/after.txt")"
added="$(comm -13 "$CACHE/before.txt" "$CACHE/after.txt" | sed 's/==.*//' | tr '\n' ' ')"
echo "INFO added: $added"
if [ -z "$changed" ]; then
  pass "pip install changed no package that was there"
else
  fail "pip install changed packages that were there:"
  while read -r line; do
    name="${line%%==*}"
    echo "       $line -> $(grep -i "^${name}==" "$CACHE/after.txt" | sed 's/.*==//' || echo removed)"
  done <<< "$changed"
fi
"$PY" -m pip check > "$CACHE/pip_check.txt" 2>&1 && pass "pip check" || { fail "pip check"; sed 's/^/       /' "$CACHE/pip_check.txt"; }

# The app's own config, as the check's reference for keys the sweeper adds; and: does the app still start?
rm -rf "$CACHE/sweeps"
lay_work
if (cd "$WORK" && "$PY" "${APP_ARGV[@]}" "${APP_OVERRIDES[@]}" --cfg job > "$CACHE/app_config.yaml" 2> "$CACHE/app_config.err"); then
  pass "the app still starts (--cfg job)"
else
  fail "the app still starts (--cfg job):"
  grep -vE "^\s*$" "$CACHE/app_config.err" | tail -4 | sed 's/^/       /'
  : > "$CACHE/app_config.yaml"
fi

for launcher in basic joblib; do
  sweep_dir="$CACHE/sweeps/$launcher"
  lay_work
  if [ -n "$APP_PREPARE" ] && ! (cd "$WORK" && "$PY" "$SPEC/$APP_PREPARE") > "$CACHE/prepare.log" 2>&1; then
    fail "$launcher: $APP_PREPARE (see $CACHE/prepare.log)"; continue
  fi
  args=(-m hydra/sweeper=ab "ab.experiment=$SPEC/exp.py" "hydra.sweep.dir=$sweep_dir" "${APP_OVERRIDES[@]}")
  [ "$launcher" = joblib ] && args+=(hydra/launcher=joblib hydra.launcher.n_jobs=2)
  echo "== $launcher: (cd $WORK && python ${APP_ARGV[*]} ${args[*]})"
  t0=$(date +%s)
  (cd "$WORK" && timeout "${SWEEP_TIMEOUT:-900}" "$PY" "${APP_ARGV[@]}" "${args[@]}") > "$CACHE/sweep_$launcher.log" 2>&1
  code=$?
  echo "   exit $code after $(($(date +%s) - t0)) s; output in $CACHE/sweep_$launcher.log"
  if [ "$code" = "$EXPECT_EXIT" ]; then
    pass "$launcher: the sweep exits $EXPECT_EXIT"
  else
    fail "$launcher: the sweep exits $EXPECT_EXIT (exit $code):"
    grep -vE "^\s*$" "$CACHE/sweep_$launcher.log" | tail -8 | sed 's/^/       /'
  fi
  if [ "$EXPECT_EXIT" = 4 ]; then  # no verdict: the last line and summary.txt's second line say why
    last="$(grep -vE "^\s*$" "$CACHE/sweep_$launcher.log" | tail -1)"
    [[ "$last" == "[ab] no verdict: "* ]] && pass "$launcher: the last line says there is no verdict and why" \
      || fail "$launcher: the last line says there is no verdict and why (it is: $last)"
    [[ "$(sed -n 2p "$sweep_dir/summary.txt" 2>/dev/null)" == "NO VERDICT: "* ]] && pass "$launcher: summary.txt opens with NO VERDICT" \
      || fail "$launcher: summary.txt opens with NO VERDICT"
  fi
  "$PY" "$REPO/scripts/real_app_check.py" --experiment "$SPEC/exp.py" --sweep-dir "$sweep_dir" \
    --app-config "$CACHE/app_config.yaml" --seed-key "$SEED_KEY" --log-glob "$APP_LOG_GLOB" \
    --metric "$APP_METRIC" --search-root "$WORK" 2>&1 | sed "s/^\(PASS\|FAIL\) /\1 $launcher: /" | tee "$CACHE/check_$launcher.txt"
  fails=$((fails + $(grep -c '^FAIL' "$CACHE/check_$launcher.txt")))
done

"$PY" -m pip freeze | sort > "$CACHE/after_sweeps.txt"
if cmp -s "$CACHE/after.txt" "$CACHE/after_sweeps.txt"; then pass "the sweeps installed nothing"; else fail "the sweeps changed pip freeze"; fi

echo "== $APP: $fails check(s) failed, $(($(date +%s) - start)) s in all (files in $CACHE)"
[ "$fails" = 0 ]
