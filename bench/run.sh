#!/usr/bin/env bash
# `pnpm bench`: sets up bench/.venv (idempotent), then runs every case for every backend.
#   bash bench/run.sh [--reps N] [--quick] [--only B1,B2] [--backends skyward,loky,...]
# Expects the workspace to be built (the root "bench" script builds it first).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/setup-env.sh"
export RAY_USAGE_STATS_ENABLED=0
cd "$here"
exec "$here/.venv/bin/python" "$here/harness.py" "$@"
