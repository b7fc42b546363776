#!/usr/bin/env bash
# Run the example shop: migrate, seed, a django-q2 cluster (ORM broker) and the web server.
set -euo pipefail
cd "$(dirname "$0")/../example_project"
PY=${PY:-python}
# The links in the demo's mail point at the port it serves.
export SITE_URL="${SITE_URL:-http://127.0.0.1:${PORT:-8000}}"
"$PY" manage.py migrate --noinput
"$PY" manage.py seed_demo
if "$PY" manage.py help restock_waitlist_schedules >/dev/null 2>&1; then
  "$PY" manage.py restock_waitlist_schedules
fi
"$PY" manage.py qcluster &
QCLUSTER=$!
trap 'kill $QCLUSTER 2>/dev/null; wait $QCLUSTER 2>/dev/null' EXIT INT TERM
echo "Shop: http://127.0.0.1:${PORT:-8000}/  admin: /admin/ (merchant / demo)"
"$PY" manage.py runserver "127.0.0.1:${PORT:-8000}"
