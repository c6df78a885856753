#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the test suite (which runs on SQLite and PostgreSQL).
# Installs it from Debian's packages when missing, starts it when stopped, and lets the postgres user in over
# loopback without a password (a test-only setting). Point OPENCALLER_TEST_POSTGRES_URL elsewhere to skip this.
set -euo pipefail

if [ -n "${OPENCALLER_TEST_POSTGRES_URL:-}" ]; then
  exit 0
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "installing PostgreSQL (Debian packages)..." >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba="/etc/postgresql/${version}/main/pg_hba.conf"
if ! $SUDO grep -q "opencaller-tests" "$hba"; then
  # Prepend so these lines win over the distribution's defaults.
  $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust # opencaller-tests\nhost all postgres ::1/128 trust # opencaller-tests' "$hba"
fi
$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || $SUDO pg_ctlcluster "$version" main reload
for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1 -p 5432; then exit 0; fi
  sleep 1
done
echo "PostgreSQL did not start" >&2
exit 1
