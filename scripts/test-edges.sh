#!/usr/bin/env bash
# The supported matrix's oldest and newest corners on SQLite: Python 3.10 with Django 5.2,
# Python 3.13 with Django 6.1 (the whole matrix: tox). Interpreters are looked for on PATH
# and in pyenv; under CI=true a missing one fails the run instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v pyenv >/dev/null 2>&1; then
  for version in "$(pyenv root)"/versions/3.1[03]*; do
    if [ -x "$version/bin/python" ]; then PATH="$version/bin:$PATH"; fi
  done
fi
export PATH
skip=true
[ "${CI:-}" = "true" ] && skip=false
exec "${PY:-.venv/bin/python}" -m tox --skip-missing-interpreters "$skip" \
  -e py310-django52-sqlite,py313-django61-sqlite -- -q -p no:randomly
