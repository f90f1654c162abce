#!/usr/bin/env bash
# Creates bench/.venv from bench/requirements.txt, idempotently: re-installs only when the
# requirements file changed (its hash is stamped into the venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
python="${BENCH_PYTHON:-$(command -v python3.11 || command -v python3)}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
echo "bench: creating $venv from requirements.txt" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off -q -r "$here/requirements.txt" >&2
echo "$want" > "$stamp"
