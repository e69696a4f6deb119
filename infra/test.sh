#!/usr/bin/env bash
# `./marelle test`: installs everything, starts Kafka and PostgreSQL unless given
# (KAFKA_BOOTSTRAP_SERVERS, MARELLE_PG_URL), and runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { echo "test: $*" >&2; }

bash infra/bootstrap.sh

# The browser tests drive Debian's Chromium (never a downloaded browser).
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    bash infra/browser/install-chromium.sh >&2
  else
    say "Debian's chromium is missing and we are not root: install it with 'apt-get install chromium'"
  fi
fi

# Attestation PDFs are made with WeasyPrint, which needs Pango from the system.
if ! ldconfig -p 2>/dev/null | grep -q "libpango-1.0.so"; then
  if [[ $(id -u) -eq 0 ]]; then
    say "installing Pango for WeasyPrint (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >&2; }
  else
    say "Pango is missing (WeasyPrint): install libpango-1.0-0 libpangoft2-1.0-0"
  fi
fi

# The interoperability test plays another municipal system with kcat (Debian's package), not
# with a Python client.
if ! command -v kcat >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    say "installing kcat (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat >&2; }
  else
    say "kcat is missing: install it with 'apt-get install kcat'"
  fi
fi

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cleanup() {
  local rc=$?
  if [[ -n "${KAFKA_DIR:-}" ]]; then
    bash infra/kafka/kafka.sh stop --data-dir "$KAFKA_DIR" >/dev/null 2>&1 || true
    rm -rf "$KAFKA_DIR"
  fi
  if [[ -n "${PG_DIR:-}" ]]; then
    bash infra/postgres/pg.sh stop --dir "$PG_DIR" --purge >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  port=$(free_port)
  KAFKA_DIR="$ROOT/var/test-kafka-$port"
  say "starting a throwaway Kafka broker on port $port"
  line=$(bash infra/kafka/kafka.sh start --port "$port" --controller-port "$(free_port)" --data-dir "$KAFKA_DIR")
  export "${line?}"
fi
if [[ -z "${MARELLE_PG_URL:-}" ]]; then
  port=$(free_port)
  PG_DIR="/tmp/marelle-test-pg-$port"
  say "starting a throwaway PostgreSQL cluster on port $port"
  line=$(bash infra/postgres/pg.sh start --port "$port" --dir "$PG_DIR" --databases "")
  export "${line?}"
fi
say "Kafka at $KAFKA_BOOTSTRAP_SERVERS, PostgreSQL at $MARELLE_PG_URL"

# Generated files must match the code.
.venv/bin/python -m marelle_contracts.export --check
.venv/bin/python infra/compose/check_compose.py docker-compose.yml --require-schema --env-file infra/compose/check.env

# CI=true turns a missing service into a failure instead of a skip (see tests/support/infra.py).
.venv/bin/python -m pytest --timeout=600 "$@"
