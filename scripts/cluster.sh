#!/usr/bin/env bash
# Start / stop the throw-away one-node SLURM cluster (with accounting, so `sacct` works) that the launcher
# tests run on (tests/test_launchers.py). Needs root; installs Debian's slurm/munge/mariadb packages once.
#
#   eval "$(bash scripts/cluster.sh start)"   # start (idempotent); prints `export SLURM_CONF=...` on stdout
#   bash scripts/cluster.sh stop              # stop every daemon it started
#   bash scripts/cluster.sh status|env
#
# It wraps the shared tool `slurm-local.sh`, found at $SLURM_LOCAL_SH or at ../shared/tools/ beside the clone
# (read-only there; it writes only to /etc/slurm, /etc/munge, /run/munge and $SLURM_LOCAL_DIR, default
# /tmp/slurm-local). Ray needs nothing started: each Ray sweep starts and stops its own local instance.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool="${SLURM_LOCAL_SH:-$root/../shared/tools/slurm-local.sh}"
command="${1:-}"

case "$command" in
  start | stop | status | env) ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac

if [[ ! -f "$tool" ]]; then
  echo "scripts/cluster.sh: no SLURM tool at $tool; set SLURM_LOCAL_SH=/path/to/slurm-local.sh." >&2
  echo "scripts/cluster.sh: without a cluster the SLURM tests skip (or fail when METTA_AB_REQUIRE_SLURM=1)." >&2
  # Nothing was started, so there is nothing to stop.
  [[ "$command" == stop ]] && exit 0
  exit 1
fi

exec bash "$tool" "$command"
