#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft) without Docker, from Maven Central jars.
#
#   infra/kafka/kafka.sh start  [--port P] [--controller-port C] [--data-dir DIR] [--auth]
#   infra/kafka/kafka.sh stop   [--data-dir DIR]
#   infra/kafka/kafka.sh status [--data-dir DIR]
#   infra/kafka/kafka.sh fetch
#
# start prints exactly one line on stdout, KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT, so a caller
# can do: export "$(infra/kafka/kafka.sh start)". Everything else goes to stderr.
# Defaults: port 9092, controller port = port + 1, data dir <repo>/var/kafka. A relative
# --data-dir is taken from the current directory. A data dir that was started before keeps
# its ports when --port is not given.
# --auth: SASL_PLAINTEXT listener (SCRAM-SHA-512 for clients, PLAIN for the admin only), ACLs
# enforced (StandardAuthorizer: nothing is allowed without an ACL), super user "admin" whose
# password is MARELLE_KAFKA_ADMIN_PASSWORD (required). <data dir>/admin.properties is then the
# admin's client config; infra/kafka/acls.sh creates Marelle's users and ACLs.
#
# Environment (all optional):
#   MARELLE_KAFKA_VERSION    force one kafka_2.13 version (default: first that resolves of
#                            KAFKA_VERSIONS below)
#   MARELLE_KAFKA_LIBS       jar folder (default <repo>/infra/kafka/libs, git-ignored)
#   MARELLE_KAFKA_START_TIMEOUT  seconds to wait for the broker (default 90)
#   MARELLE_KAFKA_STOP_TIMEOUT   seconds to wait for a controlled shutdown (default 20)
#   MARELLE_KAFKA_JAVA_OPTS  extra JVM options, appended
set -euo pipefail

# Newest first; the 4.x line drops old protocol versions (KIP-896) but aiokafka 0.14 copes.
KAFKA_VERSIONS=(4.4.0 4.3.1 4.2.1 4.1.2 4.0.2)

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
POM="$SCRIPT_DIR/pom.xml"
TEMPLATE="$SCRIPT_DIR/server.properties.template"
LOG4J_CONF="$SCRIPT_DIR/log4j2.properties"
LIBS="${MARELLE_KAFKA_LIBS:-$SCRIPT_DIR/libs}"
MARKER_NAME=.marelle-kafka-version
START_TIMEOUT="${MARELLE_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${MARELLE_KAFKA_STOP_TIMEOUT:-20}"

ALTERNATIVES="Alternatives: run 'docker compose up -d kafka' on a Docker host (docker-compose.yml \
at the repo root), or set KAFKA_BOOTSTRAP_SERVERS to an existing broker."

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- prerequisites

require_java() {
    command -v java >/dev/null 2>&1 \
        || die "'java' not found: the local broker needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless). $ALTERNATIVES"
    local version major
    # First line looks like: openjdk version "17.0.15" 2025-04-15  (or "1.8.0_382" for Java 8)
    version=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
    major=${version%%.*}
    [[ "$major" == 1 ]] && major=$(cut -d. -f2 <<<"$version")
    if [[ "$major" =~ ^[0-9]+$ ]] && ((major < 17)); then
        die "Java $version found, Kafka 4 needs Java 17 or newer. $ALTERNATIVES"
    fi
}

require_mvn() {
    command -v mvn >/dev/null 2>&1 \
        || die "'mvn' not found: it fetches the broker's jars from Maven Central once (Debian: apt-get install maven). $ALTERNATIVES"
}

# ---------------------------------------------------------------- fetch

# The cache is valid when the marker names a version whose core jar is present (and, when a
# version is forced, that it is the forced one).
libs_ready() {
    local marker="$LIBS/$MARKER_NAME" have
    [[ -f "$marker" ]] || return 1
    have=$(<"$marker")
    [[ -n "$have" && -f "$LIBS/kafka_2.13-$have.jar" && -f "$LIBS/kafka-tools-$have.jar" ]] || return 1
    [[ -z "${MARELLE_KAFKA_VERSION:-}" || "$MARELLE_KAFKA_VERSION" == "$have" ]]
}

cmd_fetch() {
    if libs_ready; then
        log "jars cached in $LIBS (kafka $(<"$LIBS/$MARKER_NAME"))"
        return 0
    fi
    require_mvn
    mkdir -p "$(dirname -- "$LIBS")"
    # Serialise concurrent fetches (parallel test workers, two terminals).
    local lock="$LIBS.lock"
    exec 8>"$lock"
    if command -v flock >/dev/null 2>&1; then flock 8; fi
    if libs_ready; then
        exec 8>&-
        return 0
    fi

    local versions=("${KAFKA_VERSIONS[@]}") v tmp
    [[ -n "${MARELLE_KAFKA_VERSION:-}" ]] && versions=("$MARELLE_KAFKA_VERSION")
    for v in "${versions[@]}"; do
        # Fill a scratch folder, then swap it in: a failed or interrupted download never
        # leaves a mix of versions in the cache.
        tmp="$LIBS.tmp.$$"
        rm -rf -- "$tmp"
        log "fetching kafka_2.13 $v and log4j2 with Maven (once; ~45 MB into ~/.m2 and $LIBS)"
        # (Maven 3.8 prints stray colour resets even with -B -q: strip them.)
        if mvn -q -B -f "$POM" -Dkafka.version="$v" -Dkafka.libs.dir="$tmp" package 2>&1 \
            | sed 's/\x1b\[[0-9;]*m//g' >&2; then
            if [[ -f "$tmp/kafka_2.13-$v.jar" ]]; then
                printf '%s\n' "$v" >"$tmp/$MARKER_NAME"
                rm -rf -- "$LIBS"
                mv -- "$tmp" "$LIBS"
                exec 8>&-
                log "kafka $v jars ready in $LIBS"
                return 0
            fi
        fi
        rm -rf -- "$tmp"
        log "kafka $v could not be fetched; trying the next version"
    done
    exec 8>&-
    die "could not fetch the Kafka jars with Maven (tried: ${versions[*]}). Is Maven Central reachable? $ALTERNATIVES"
}

# ---------------------------------------------------------------- helpers

# Is something accepting TCP connections on 127.0.0.1:$1?
port_open() {
    # shellcheck disable=SC2016  # $1 is expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" >/dev/null 2>&1
}

valid_port() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 65535)); }

# Read key=value from a properties file.
prop() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# Pid of the broker of this data dir, if it is alive and really ours (pids get recycled).
running_pid() {
    local pidfile="$DATA_DIR/kafka.pid" pid
    [[ -f "$pidfile" ]] || return 1
    pid=$(<"$pidfile")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # /proc/PID/cmdline is NUL-separated; match our main class and our config file.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null \
        | grep -F -- "$DATA_DIR/server.properties" | grep -qF 'kafka.Kafka' || return 1
    printf '%s\n' "$pid"
}

set_data_dir() {
    local dir="$1"
    [[ "$dir" == /* ]] || dir="$PWD/$dir"
    mkdir -p -- "$dir"
    DATA_DIR=$(cd -- "$dir" && pwd -P)
    # log.dirs is a comma-separated list and properties files treat backslashes as escapes.
    [[ "$DATA_DIR" != *[,\\]* ]] || die "data dir must not contain ',' or '\\': $DATA_DIR"
}

# Wait until the broker started from this data dir logs that it is up and accepts
# connections; fail early if the JVM dies. With $3 = port-only, only the port counts (a broker
# that runs since long may have rotated that log line away).
wait_ready() {
    local pid="$1" port="$2" mode="${3:-}" deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "the broker exited during start-up; last log lines:"
            tail -n 30 "$DATA_DIR/logs/server.log" "$DATA_DIR/logs/stdout.log" >&2 2>/dev/null || true
            return 1
        fi
        if { [[ "$mode" == port-only ]] \
            || grep -qs 'Kafka Server started' "$DATA_DIR/logs/server.log" "$DATA_DIR/logs/stdout.log"; } \
            && port_open "$port"; then
            return 0
        fi
        sleep 0.5
    done
    log "the broker did not come up within ${START_TIMEOUT}s; last log lines:"
    tail -n 30 "$DATA_DIR/logs/server.log" "$DATA_DIR/logs/stdout.log" >&2 2>/dev/null || true
    return 1
}

# Kafka cluster ids are 16 random bytes in URL-safe base64 without padding; like Kafka's
# Uuid.randomUuid, avoid a leading '-' (it would read as an option).
new_cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ "$id" != -* && "$id" != AAAAAAAAAAAAAAAAAAAAA* ]] && break
    done
    printf '%s\n' "$id"
}

java_opts() {
    JAVA_OPTS=(
        -Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
        "-Dkafka.logs.dir=$DATA_DIR/logs"
        "-Dlog4j2.configurationFile=$LOG4J_CONF"
    )
    if [[ -n "${MARELLE_KAFKA_JAVA_OPTS:-}" ]]; then
        local extra
        read -r -a extra <<<"$MARELLE_KAFKA_JAVA_OPTS"
        JAVA_OPTS+=("${extra[@]}")
    fi
}

# ---------------------------------------------------------------- start

# The authenticated mode's additions to server.properties (later keys win in a properties file).
# The controller listener and the inter-broker link use PLAIN with the admin's static credentials
# (SCRAM credentials live in the metadata log, which the controller must read first); clients
# use SCRAM-SHA-512. PLAIN on the client listener knows the admin only.
auth_properties() {
    local port="$1" cport="$2" pw="$3" plain
    plain="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"$pw\" user_admin=\"$pw\";"
    cat <<PROPS

# ---- --auth (added by kafka.sh)
listeners=SASL_PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=$plain
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=$plain
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
auto.create.topics.enable=false
PROPS
}

admin_password() {
    local pw="${MARELLE_KAFKA_ADMIN_PASSWORD:-}"
    [[ -n "$pw" ]] || die "--auth needs MARELLE_KAFKA_ADMIN_PASSWORD (the broker's super user password; there is no default)"
    # It goes inside a JAAS string and a properties file: characters both take as they are.
    [[ "$pw" =~ ^[A-Za-z0-9._~+/=-]{12,}$ ]] \
        || die "MARELLE_KAFKA_ADMIN_PASSWORD must be 12+ characters among A-Z a-z 0-9 . _ ~ + / = -"
    printf '%s\n' "$pw"
}

cmd_start() {
    local port="" cport="" data="$REPO_ROOT/var/kafka" auth=""
    while (($#)); do
        case "$1" in
            --auth) auth=1; shift ;;
            --port) port="${2:?--port needs a value}"; shift 2 ;;
            --controller-port) cport="${2:?--controller-port needs a value}"; shift 2 ;;
            --data-dir) data="${2:?--data-dir needs a value}"; shift 2 ;;
            *) log "unknown option: $1"; usage ;;
        esac
    done
    set_data_dir "$data"
    local conf="$DATA_DIR/server.properties"

    # One start at a time per data dir.
    exec 9>"$DATA_DIR/.start.lock"
    if command -v flock >/dev/null 2>&1; then flock 9; fi

    local pid pw="" running_auth=""
    [[ -n "$auth" ]] && pw=$(admin_password)
    if pid=$(running_pid); then
        # A running broker keeps its mode: refuse rather than hand out the other kind.
        [[ -n "$(prop "$conf" authorizer.class.name)" ]] && running_auth=1
        [[ "$running_auth" == "$auth" ]] \
            || die "the broker of $DATA_DIR runs in the other mode (with/without --auth); stop it first"
        port=$(prop "$conf" advertised.listeners | sed 's/.*://')
        log "already running (pid $pid, data dir $DATA_DIR)"
        wait_ready "$pid" "$port" port-only || die "the running broker (pid $pid) is not answering on port $port"
        printf 'KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:%s\n' "$port"
        return 0
    fi

    # A data dir keeps the ports it was first started with unless told otherwise.
    if [[ -z "$port" && -f "$conf" ]]; then
        port=$(prop "$conf" advertised.listeners | sed 's/.*://')
        [[ -z "$cport" ]] && cport=$(prop "$conf" controller.quorum.voters | sed 's/.*://')
    fi
    port="${port:-9092}"
    valid_port "$port" || die "invalid port: $port"
    cport="${cport:-$((port + 1))}"
    valid_port "$cport" || die "invalid controller port: $cport"
    [[ "$port" != "$cport" ]] || die "--port and --controller-port must differ"

    require_java
    cmd_fetch

    local p
    for p in "$port" "$cport"; do
        if port_open "$p"; then
            die "port $p on 127.0.0.1 is already taken by another process (not the broker of $DATA_DIR). Stop it, or choose --port/--controller-port, or set KAFKA_BOOTSTRAP_SERVERS to that broker if it is one."
        fi
    done

    mkdir -p -- "$DATA_DIR/data" "$DATA_DIR/logs"
    local tpl
    tpl=$(<"$TEMPLATE")
    tpl=${tpl//@PORT@/"$port"}
    tpl=${tpl//@CONTROLLER_PORT@/"$cport"}
    tpl=${tpl//@LOG_DIRS@/"$DATA_DIR/data"}
    rm -f -- "$conf.tmp"
    # With --auth it holds the admin's password: owner only.
    (umask 077 && printf '%s\n' "$tpl" >"$conf.tmp")
    if [[ -n "$auth" ]]; then
        auth_properties "$port" "$cport" "$pw" >>"$conf.tmp"
        rm -f -- "$DATA_DIR/admin.properties"
        (umask 077 && printf '%s\n' "security.protocol=SASL_PLAINTEXT" "sasl.mechanism=PLAIN" \
            "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"$pw\";" \
            >"$DATA_DIR/admin.properties")
    else
        rm -f -- "$DATA_DIR/admin.properties"
    fi
    mv -- "$conf.tmp" "$conf"

    java_opts
    local cp="$LIBS/*"
    # Keep the previous run's log aside: the readiness check greps a fresh server.log.
    [[ -f "$DATA_DIR/logs/server.log" ]] && mv -f -- "$DATA_DIR/logs/server.log" "$DATA_DIR/logs/server.log.previous"
    : >"$DATA_DIR/logs/stdout.log"
    if [[ -f "$DATA_DIR/data/meta.properties" ]]; then
        log "data dir already formatted (cluster $(prop "$DATA_DIR/data/meta.properties" cluster.id)); keeping its data"
    else
        local cid
        cid=$(new_cluster_id)
        log "formatting $DATA_DIR/data (cluster $cid)"
        java "${JAVA_OPTS[@]}" -cp "$cp" kafka.tools.StorageTool format \
            -t "$cid" -c "$conf" >"$DATA_DIR/logs/format.log" 2>&1 \
            || { cat "$DATA_DIR/logs/format.log" >&2; die "storage format failed"; }
    fi

    log "starting the broker on 127.0.0.1:$port (controller $cport), data dir $DATA_DIR"
    local started=$SECONDS
    # setsid: its own session, so the caller's Ctrl-C or terminal hang-up does not reach it.
    # The inner shell writes its own pid, then becomes the JVM (exec keeps the pid).
    # 9>&-: the JVM must not inherit the start lock, or the next start would wait forever.
    rm -f -- "$DATA_DIR/kafka.pid"   # a stale one (crash, reboot) would be read as the new pid
    local launcher=()
    command -v setsid >/dev/null 2>&1 && launcher=(setsid)
    # shellcheck disable=SC2016  # $$ and $1 are the inner shell's
    "${launcher[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$DATA_DIR/kafka.pid" \
        java "${JAVA_OPTS[@]}" -cp "$cp" kafka.Kafka "$conf" \
        </dev/null >>"$DATA_DIR/logs/stdout.log" 2>&1 9>&- &
    # Wait for the pid file written by the launcher.
    local tries=50
    until [[ -s "$DATA_DIR/kafka.pid" ]] || ((--tries == 0)); do
        sleep 0.1
    done
    [[ -s "$DATA_DIR/kafka.pid" ]] || die "the broker process did not start (see $DATA_DIR/logs/stdout.log)"
    pid=$(<"$DATA_DIR/kafka.pid")

    if ! wait_ready "$pid" "$port"; then
        kill -KILL "$pid" 2>/dev/null || true
        rm -f -- "$DATA_DIR/kafka.pid"
        die "broker start failed (logs in $DATA_DIR/logs)"
    fi
    log "broker ready in $((SECONDS - started))s (pid $pid)"
    printf 'KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:%s\n' "$port"
}

# ---------------------------------------------------------------- stop / status

parse_data_dir_only() {
    local data="$REPO_ROOT/var/kafka"
    while (($#)); do
        case "$1" in
            --data-dir) data="${2:?--data-dir needs a value}"; shift 2 ;;
            *) log "unknown option: $1"; usage ;;
        esac
    done
    # Do not create a data dir just to say that nothing runs there.
    [[ "$data" == /* ]] || data="$PWD/$data"
    if [[ -d "$data" ]]; then
        DATA_DIR=$(cd -- "$data" && pwd -P)
    else
        DATA_DIR="$data"
    fi
}

cmd_stop() {
    parse_data_dir_only "$@"
    local pid
    if ! pid=$(running_pid); then
        rm -f -- "$DATA_DIR/kafka.pid"
        log "not running (data dir $DATA_DIR)"
        return 0
    fi
    log "stopping the broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "no controlled shutdown within ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f -- "$DATA_DIR/kafka.pid"
    log "stopped"
}

cmd_status() {
    parse_data_dir_only "$@"
    local pid port
    if pid=$(running_pid); then
        port=$(prop "$DATA_DIR/server.properties" advertised.listeners | sed 's/.*://')
        if port_open "$port"; then
            log "running (pid $pid, data dir $DATA_DIR)"
        else
            log "process running (pid $pid) but port $port not answering yet"
        fi
        printf 'KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:%s\n' "$port"
        return 0
    fi
    log "not running (data dir $DATA_DIR)"
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
    fetch)
        (($# == 0)) || usage
        cmd_fetch
        ;;
    -h | --help | help) usage ;;
    *) log "unknown command: $command"; usage ;;
esac
