#!/usr/bin/env bash
# Throwaway local PostgreSQL cluster for development and CI, from Debian's postgresql package.
#
#   infra/postgres/pg.sh start  [--port P] [--dir DIR] [--databases "identity enrolment booking billing"]
#   infra/postgres/pg.sh stop   [--port P | --dir DIR] [--purge]
#   infra/postgres/pg.sh status [--port P | --dir DIR]
#
# start prints exactly one line on stdout, MARELLE_PG_URL=postgresql://postgres@127.0.0.1:PORT
# (no database name: append /identity etc.), so a caller can do: export "$(infra/postgres/pg.sh start)".
# Everything else goes to stderr. Trust authentication, user postgres, 127.0.0.1 only, no
# durability (fsync, synchronous_commit and full_page_writes off): never keep data you need here.
#
# Port: --port, else the port DIR was last started with, else 55432 when free, else a free one.
# DIR defaults to /tmp/marelle-pg-PORT: under /tmp because the repo may sit under /root, where
# the postgres OS user (which runs the server when we are root) cannot enter.
# stop/status find the cluster from --dir, or from --port (DIR /tmp/marelle-pg-PORT), default 55432.
# Running start again on a running cluster only creates missing databases and prints the URL.
set -euo pipefail

DEFAULT_PORT=55432
DEFAULT_DATABASES="identity enrolment booking billing"
MARKER=.marelle-pg   # marks a DIR created by this script: we never initdb into, or purge, others
PG_USER=postgres     # the OS user that runs the server when we are root (Debian creates it)

log() { printf 'pg.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

valid_port() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 65535)); }

# Is something accepting TCP connections on 127.0.0.1:$1?
port_open() {
    # shellcheck disable=SC2016  # $1 is expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" >/dev/null 2>&1
}

# ---------------------------------------------------------------- binaries

# Newest Debian PostgreSQL server binaries (/usr/lib/postgresql/<major>/bin).
find_bindir() {
    local d best="" best_major=0 major
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] || continue
        major=$(basename -- "$(dirname -- "$d")")
        [[ "$major" =~ ^[0-9]+$ ]] || continue
        if ((major > best_major)); then best_major=$major; best=$d; fi
    done
    [[ -n "$best" ]] || return 1
    printf '%s\n' "$best"
}

ensure_postgres_installed() {
    if BINDIR=$(find_bindir); then return 0; fi
    is_root || die "no PostgreSQL server found under /usr/lib/postgresql/*/bin and we are not root: \
install it (Debian: sudo apt-get install postgresql), or point the services at an existing server \
with their *_DATABASE_URL settings."
    command -v apt-get >/dev/null 2>&1 \
        || die "no PostgreSQL server found and apt-get is not available: install PostgreSQL server binaries"
    log "installing Debian's postgresql package (apt-get update + install)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q postgresql >&2
    BINDIR=$(find_bindir) || die "postgresql was installed but no initdb found under /usr/lib/postgresql/*/bin"
}

# Run a server binary as the cluster owner: the postgres OS user when we are root (the
# server refuses to run as root), ourselves otherwise.
# Runs from / since the current directory may be closed to that user (e.g. /root); all
# paths given are absolute.
as_owner() {
    if is_root; then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# ---------------------------------------------------------------- cluster location

# Sets PG_DIR (absolute) from --dir or the port.
resolve_dir() {
    local dir="$1" port="$2"
    [[ -n "$dir" ]] || dir="/tmp/marelle-pg-$port"
    [[ "$dir" == /* ]] || dir="$PWD/$dir"
    PG_DIR="$dir"
}

# Port of a running cluster in PG_DIR (4th line of postmaster.pid), if it runs.
running_port() {
    local pidfile="$PG_DIR/data/postmaster.pid" pid port
    [[ -r "$pidfile" ]] || return 1
    pid=$(sed -n 1p "$pidfile")
    port=$(sed -n 4p "$pidfile")
    [[ "$pid" =~ ^[0-9]+$ && "$port" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$port"
}

# Without --port/--dir: a cluster of ours already running near the default port wins (so a
# second start does not start a second cluster); else the first free port whose default DIR
# is absent or ours. With an explicit DIR ($1 = free-only), only a free port is looked for.
pick_port() {
    local p
    if [[ "${1:-}" != free-only ]]; then
        for ((p = DEFAULT_PORT; p < DEFAULT_PORT + 100; p++)); do
            resolve_dir "" "$p"
            if running_port >/dev/null; then
                printf '%s\n' "$p"
                return 0
            fi
        done
    fi
    for ((p = DEFAULT_PORT; p < DEFAULT_PORT + 100; p++)); do
        resolve_dir "" "$p"
        if ! port_open "$p" && { [[ ! -e "$PG_DIR" ]] || [[ -f "$PG_DIR/$MARKER" ]]; }; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------- start

init_cluster() {
    if [[ -e "$PG_DIR" && ! -f "$PG_DIR/$MARKER" ]] && [[ -n "$(ls -A -- "$PG_DIR" 2>/dev/null)" ]]; then
        die "$PG_DIR exists, is not empty and was not made by pg.sh: choose another --dir"
    fi
    if is_root; then
        id "$PG_USER" >/dev/null 2>&1 || die "OS user '$PG_USER' is missing (Debian's postgresql package creates it)"
    fi
    local created=0
    [[ -d "$PG_DIR" ]] || created=1
    mkdir -p -- "$PG_DIR"
    touch -- "$PG_DIR/$MARKER"
    if is_root; then
        chown "$PG_USER:" -- "$PG_DIR"
        if ! runuser -u "$PG_USER" -- test -w "$PG_DIR"; then
            # Leave nothing behind.
            rm -f -- "$PG_DIR/$MARKER"
            if ((created)); then rmdir -- "$PG_DIR" 2>/dev/null || true; fi
            die "the '$PG_USER' OS user cannot write $PG_DIR (a parent folder is closed to it, e.g. /root): use a --dir under /tmp"
        fi
    fi
    chmod 700 -- "$PG_DIR"

    # C.UTF-8 gives Unicode-aware upper()/lower() without depending on generated locales.
    local locale_opts=(--no-locale)
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale_opts=(--locale=C.UTF-8); fi
    log "initialising a PostgreSQL $(basename -- "$(dirname -- "$BINDIR")") cluster in $PG_DIR/data"
    as_owner "$BINDIR/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 "${locale_opts[@]}" \
        --nosync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }

    # Throwaway cluster: speed over durability. Appended last, so these values win.
    as_owner tee -a "$PG_DIR/data/postgresql.conf" >/dev/null <<EOF

# --- added by infra/postgres/pg.sh (throwaway cluster: no durability) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

ensure_databases() {
    local port="$1" db psql="$BINDIR/psql" exists
    for db in $2; do
        # Names go into SQL unquoted: keep them plain identifiers.
        [[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]] || die "invalid database name '$db' (use lower-case letters, digits, _)"
        exists=$("$psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc \
            "SELECT 1 FROM pg_database WHERE datname = '$db'")
        if [[ "$exists" == 1 ]]; then
            log "database $db exists"
        else
            "$psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db" >&2
            log "database $db created"
        fi
    done
}

cmd_start() {
    local port="" dir="" dbs="$DEFAULT_DATABASES"
    while (($#)); do
        case "$1" in
            --port) port="${2:?--port needs a value}"; shift 2 ;;
            --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
            --databases) dbs="${2?--databases needs a value}"; shift 2 ;;
            *) log "unknown option: $1"; usage ;;
        esac
    done
    [[ -z "$port" ]] || valid_port "$port" || die "invalid port: $port"

    ensure_postgres_installed

    # Choose the port (and so the default DIR) without starting a second cluster when one of
    # ours already runs there.
    if [[ -z "$port" && -n "$dir" ]]; then
        # A DIR keeps the port it was last started with.
        resolve_dir "$dir" 0
        if [[ -f "$PG_DIR/port" ]]; then
            port=$(<"$PG_DIR/port")
        else
            port=$(pick_port free-only) || die "no free port found in $DEFAULT_PORT-$((DEFAULT_PORT + 99)): use --port"
        fi
    fi
    if [[ -z "$port" ]]; then
        port=$(pick_port) || die "no free port found in $DEFAULT_PORT-$((DEFAULT_PORT + 99)): use --port"
        [[ "$port" == "$DEFAULT_PORT" ]] || log "port $DEFAULT_PORT is taken; using $port"
    fi
    resolve_dir "$dir" "$port"

    local running
    if running=$(running_port); then
        log "already running on port $running (dir $PG_DIR)"
        [[ "$running" == "$port" ]] || log "note: it runs on $running, not $port; stop it first to change ports"
        port=$running
    else
        if port_open "$port"; then
            die "port $port on 127.0.0.1 is taken by another process: use --port"
        fi
        [[ -f "$PG_DIR/data/PG_VERSION" ]] || init_cluster
        printf '%s\n' "$port" >"$PG_DIR/port"
        log "starting PostgreSQL on 127.0.0.1:$port (dir $PG_DIR)"
        local started=$SECONDS
        # The log lives in PG_DIR, which the owner can write.
        as_owner "$BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
            -o "-p $port" -w -t 60 start >&2 \
            || { tail -n 20 "$PG_DIR/postgres.log" >&2 2>/dev/null; die "pg_ctl start failed (log: $PG_DIR/postgres.log)"; }
        local where="--port $port"
        [[ -z "$dir" ]] || where="--dir $PG_DIR"
        log "ready in $((SECONDS - started))s; stop with: infra/postgres/pg.sh stop $where"
    fi

    ensure_databases "$port" "$dbs"
    printf 'MARELLE_PG_URL=postgresql://postgres@127.0.0.1:%s\n' "$port"
}

# ---------------------------------------------------------------- stop / status

parse_locator() {
    local port="" dir=""
    PURGE=0
    while (($#)); do
        case "$1" in
            --port) port="${2:?--port needs a value}"; shift 2 ;;
            --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
            --purge) PURGE=1; shift ;;
            *) log "unknown option: $1"; usage ;;
        esac
    done
    [[ -z "$port" ]] || valid_port "$port" || die "invalid port: $port"
    resolve_dir "$dir" "${port:-$DEFAULT_PORT}"
}

cmd_stop() {
    parse_locator "$@"
    if running_port >/dev/null; then
        BINDIR=$(find_bindir) || die "no pg_ctl found under /usr/lib/postgresql/*/bin"
        log "stopping PostgreSQL in $PG_DIR"
        as_owner "$BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >&2
    else
        log "not running (dir $PG_DIR)"
    fi
    if ((PURGE)) && [[ -e "$PG_DIR" ]]; then
        [[ -f "$PG_DIR/$MARKER" ]] || die "$PG_DIR was not made by pg.sh; not deleting it"
        rm -rf -- "$PG_DIR"
        log "deleted $PG_DIR"
    fi
}

cmd_status() {
    parse_locator "$@"
    ((PURGE == 0)) || usage
    local port
    if port=$(running_port); then
        log "running on port $port (dir $PG_DIR)"
        printf 'MARELLE_PG_URL=postgresql://postgres@127.0.0.1:%s\n' "$port"
        return 0
    fi
    log "not running (dir $PG_DIR)"
    return 3
}

# ---------------------------------------------------------------- main

(($#)) || usage
command="$1"
shift
case "$command" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) usage ;;
    *) log "unknown command: $command"; usage ;;
esac
