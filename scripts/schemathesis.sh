#!/usr/bin/env bash
# schemathesis against the live example shop: a fresh database, the demo seed, the web
# server, then two runs over the served schema: the shopper endpoints as a signed-in
# shopper (bob) and the merchant endpoints as the staff merchant, each with token auth.
# Fails on any server error or any response that breaks the schema.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
ST=${ST:-$(dirname "$PY")/st}
PORT=${PORT:-8765}
MAX_EXAMPLES=${MAX_EXAMPLES:-50}
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance

WORK=$(mktemp -d)
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The example settings, unthrottled so every generated request reaches the API.
cat >"$WORK/schemathesis_settings.py" <<'PY'
from example_project.settings import *  # noqa: F403

RESTOCK_WAITLIST = {  # noqa: F405
    **RESTOCK_WAITLIST,  # noqa: F405
    "THROTTLE_RATES": dict.fromkeys(RESTOCK_WAITLIST["THROTTLE_RATES"]),  # noqa: F405
    "MAX_PENDING_PER_ADDRESS": None,
}
PY
export EXAMPLE_DB="$WORK/db.sqlite3" PYTHONPATH="$WORK" DJANGO_SETTINGS_MODULE=schemathesis_settings

cd example_project
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py seed_demo >/dev/null
token_for() { "$PY" manage.py drf_create_token "$1" | awk '{print $3}'; }
SHOPPER_TOKEN=$(token_for bob)
MERCHANT_TOKEN=$(token_for merchant)

"$PY" manage.py runserver --noreload "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
SCHEMA="http://127.0.0.1:$PORT/api/schema/"
for _ in $(seq 50); do curl -fs -o /dev/null "$SCHEMA" && break; sleep 0.2; done

run() {
  # From the scratch directory, so schemathesis' own cache stays out of the tree.
  (cd "$WORK" && "$ST" run "$SCHEMA" --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" --mode all \
    --generation-deterministic --report-dir "$WORK/report" "$@")
}
status=0
run --include-path-regex '^/api/waitlist/entries' -H "Authorization: Token $SHOPPER_TOKEN" || status=1
run --include-path-regex '^/api/waitlist/merchant/' -H "Authorization: Token $MERCHANT_TOKEN" || status=1
if [ "$status" -ne 0 ]; then
  echo "--- server log ---"; tail -n 100 "$WORK/server.log"
fi
exit "$status"
