#!/usr/bin/env bash
# Idempotent set-up shared by the README's commands: Debian packages the tests need,
# the project's Python virtual environment (.venv/) from requirements.lock (requirements.txt with
# every transitive package pinned), and the other joblib
# versions the joblib backend is tested against (.cache/joblib-matrix/) from requirements-joblib-matrix.txt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

need_apt=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# the dashboard's test drives Debian's Chromium through playwright-core
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing ${need_apt[*]} (not root or no apt-get); the tests that need them will skip" >&2
  fi
fi

python="${SKYWARD_PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: $python is older than 3.11; set SKYWARD_PYTHON to a CPython 3.11+" >&2
  exit 1
fi
want="$(cat requirements.txt requirements.lock | sha256sum | cut -d' ' -f1)"
have="$(cat .venv/.requirements-sha256 2>/dev/null || true)"
if [ "$want" != "$have" ] || [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv from requirements.lock"
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt -c requirements.lock
  echo "$want" > .venv/.requirements-sha256
fi
# The other joblib versions the joblib backend is tested against, one directory each (joblib is
# pure Python: `pip install --target`); the test puts one first on PYTHONPATH in a subprocess.
for spec in $(grep -Eo '^joblib==[0-9][0-9A-Za-z.]*' requirements-joblib-matrix.txt); do
  dir=".cache/joblib-matrix/${spec#joblib==}"
  if [ ! -f "$dir/.ready" ]; then
    echo "setup: installing $spec into $dir"
    rm -rf "$dir"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --target "$dir" "$spec"
    touch "$dir/.ready"
  fi
done
echo "setup: ready (.venv: $(.venv/bin/python --version); other joblib versions: .cache/joblib-matrix/)"
