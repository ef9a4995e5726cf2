#!/usr/bin/env bash
# Starts Debian's PostgreSQL 15 for the store's PostgreSQL tests (as root, without systemd),
# installing it if missing, and makes a role and a database for them. Prints the URL to use as
# BPFREE_TEST_POSTGRES. Used by .ci/run; harmless to run again.
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if ! command -v pg_ctlcluster >/dev/null || ! dpkg -s postgresql-15 >/dev/null 2>&1; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15 >&2
fi
if ! pg_lsclusters -h | grep -q '^15 *main'; then $SUDO pg_createcluster 15 main >&2; fi
pg_lsclusters -h | grep -q '^15 *main .*online' || $SUDO pg_ctlcluster 15 main start >&2
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
psql_admin() { $SUDO su postgres -c "psql -qtAX -c \"$1\""; }
[ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'bpfree_test'")" = 1 ] \
  || psql_admin "CREATE ROLE bpfree_test LOGIN PASSWORD 'bpfree_test'" >&2
[ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'bpfree_test'")" = 1 ] \
  || $SUDO su postgres -c "createdb -O bpfree_test bpfree_test" >&2
echo "postgresql://bpfree_test:bpfree_test@127.0.0.1:5432/bpfree_test"
