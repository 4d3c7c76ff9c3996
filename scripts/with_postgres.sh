#!/usr/bin/env bash
# Run a command with ATERA_QBO_TEST_PG_URL pointing at a throw-away database on the local PostgreSQL
# (127.0.0.1:5432, trust auth); starts the cluster if it is down; drops the database afterwards.
set -euo pipefail
PGHOST=127.0.0.1
PGPORT=5432
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  echo "PostgreSQL is down: starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
fi
DB="atera_qbo_test_$(date +%s)_$$"
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "CREATE DATABASE $DB" postgres
trap 'psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres' EXIT
export ATERA_QBO_TEST_PG_URL="postgresql+psycopg2://postgres@$PGHOST:$PGPORT/$DB"
"$@"
