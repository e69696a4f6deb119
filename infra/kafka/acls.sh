#!/usr/bin/env bash
# Marelle's Kafka principals: SCRAM credentials and ACLs, the one definition used by
# docker-compose.yml (kafka-init) and by the test on a local broker started with --auth.
#
#   infra/kafka/acls.sh [--topics] [--users "identity billing …"]
#
# Each principal may write only its own topic (and the DLQs of the topics it consumes), read only
# what it consumes, with consumer groups named "<user>.…". A staff replay of a dead letter goes to
# the consumer's own retry topic "<topic>.retry.<user>" (marelle_chassis.dead_letters), which only
# <user> writes and reads: replaying never needs the right to write another service's topic.
# --topics first creates the event topics, their DLQs and the consumers' retry topics
# (3 partitions). --users limits the work to some users (default: all below).
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS         the broker (e.g. kafka:9092)
#   KAFKA_ADMIN_CONFIG              client properties of the super user (e.g. <data dir>/admin.properties)
#   MARELLE_KAFKA_<USER>_PASSWORD   each user's password (USER upper-cased), required, no default
#   KAFKA_BIN                       folder of kafka-acls.sh, kafka-configs.sh, kafka-topics.sh (the
#                                   Docker image: /opt/kafka/bin); unset: the jars of
#                                   infra/kafka/libs (see kafka.sh fetch) are run with java
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
LIBS="${MARELLE_KAFKA_LIBS:-$SCRIPT_DIR/libs}"

IDENTITY=marelle.identity.v1
ENROLMENT=marelle.enrolment.v1
BOOKING=marelle.booking.v1
BILLING=marelle.billing.v1
QUOTIENT=marelle.inbound.quotient.v1
SCHOOLS=marelle.inbound.schools.v1
ALL_TOPICS=("$IDENTITY" "$ENROLMENT" "$BOOKING" "$BILLING" "$QUOTIENT" "$SCHOOLS")
ALL_USERS=(identity enrolment booking billing caf schools gateway backoffice)

# What each principal writes (its own topic) and reads (what its consumers subscribe to; keep in
# step with the services' main.py).
declare -A WRITES=(
    [identity]="$IDENTITY" [enrolment]="$ENROLMENT" [booking]="$BOOKING" [billing]="$BILLING"
    # Other municipal systems: the CAF/MSA data connector and the schools' system.
    [caf]="$QUOTIENT" [schools]="$SCHOOLS"
    # The portal and the back-office write nothing; they read ended sessions.
    [gateway]="" [backoffice]=""
)
declare -A READS=(
    [identity]="$ENROLMENT $BOOKING $BILLING"
    [enrolment]="$IDENTITY $SCHOOLS $BILLING"
    [booking]="$IDENTITY $ENROLMENT"
    [billing]="$IDENTITY $ENROLMENT $BOOKING $QUOTIENT"
    [caf]=""
    [schools]=""
    [gateway]="$IDENTITY"
    [backoffice]="$IDENTITY"
)

log() { printf 'acls.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

: "${KAFKA_BOOTSTRAP_SERVERS:?KAFKA_BOOTSTRAP_SERVERS must name the broker}"
: "${KAFKA_ADMIN_CONFIG:?KAFKA_ADMIN_CONFIG must be the super user client properties file}"
[[ -r "$KAFKA_ADMIN_CONFIG" ]] || die "cannot read $KAFKA_ADMIN_CONFIG"

# tool acls|configs|topics ARGS…
tool() {
    local name="$1"
    shift
    if [[ -n "${KAFKA_BIN:-}" ]]; then
        "$KAFKA_BIN/kafka-$name.sh" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" \
            --command-config "$KAFKA_ADMIN_CONFIG" "$@"
    else
        local class
        case "$name" in
            acls) class=org.apache.kafka.tools.AclCommand ;;
            configs) class=org.apache.kafka.tools.ConfigCommand ;;
            topics) class=org.apache.kafka.tools.TopicCommand ;;
        esac
        java -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
            "-Dlog4j2.configurationFile=$SCRIPT_DIR/log4j2.properties" -Dkafka.logs.dir=/tmp \
            -cp "$LIBS/*" "$class" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" \
            --command-config "$KAFKA_ADMIN_CONFIG" "$@"
    fi
}

users=("${ALL_USERS[@]}")
topics=""
while (($#)); do
    case "$1" in
        --topics) topics=1; shift ;;
        --users) read -r -a users <<<"${2:?--users needs a value}"; shift 2 ;;
        *) die "unknown option: $1" ;;
    esac
done

# retry_topics USER: the retry topics of what USER's consumers read (none for the portal and the
# back-office, which only follow ended sessions, without a consumer group).
retry_topics() {
    local user="$1" topic
    [[ -n "${WRITES[$user]}" ]] || return 0
    for topic in ${READS[$user]}; do
        printf '%s\n' "$topic.retry.$user"
    done
}

if [[ -n "$topics" ]]; then
    names=()
    for topic in "${ALL_TOPICS[@]}"; do
        names+=("$topic" "$topic.dlq")
    done
    for user in "${ALL_USERS[@]}"; do
        mapfile -t -O "${#names[@]}" names < <(retry_topics "$user")
    done
    for name in "${names[@]}"; do
        tool topics --create --if-not-exists --topic "$name" --partitions 3 --replication-factor 1
    done
fi

for user in "${users[@]}"; do
    [[ -v "WRITES[$user]" ]] || die "unknown user: $user"
    var="MARELLE_KAFKA_${user^^}_PASSWORD"
    password="${!var:-}"
    [[ -n "$password" ]] || die "$var is not set (each Kafka user needs its own password)"
    [[ "$password" =~ ^[A-Za-z0-9._~+/=-]{12,}$ ]] \
        || die "$var must be 12+ characters among A-Z a-z 0-9 . _ ~ + / = -"

    log "user $user: SCRAM-SHA-512 credentials"
    tool configs --alter --entity-type users --entity-name "$user" \
        --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]"

    # Topic names only (metadata), so that a service's start-up sees every topic exists.
    tool acls --add --allow-principal "User:$user" --operation Describe \
        --resource-pattern-type prefixed --topic marelle.

    read -r -a reads <<<"${READS[$user]}"
    if [[ -n "${WRITES[$user]}" ]]; then
        writes=(--topic "${WRITES[$user]}")
        for topic in "${reads[@]}"; do
            # A consumer parks what it cannot process in <topic>.dlq, and lists it for the staff.
            writes+=(--topic "$topic.dlq")
        done
        # Replays of the dead letters its consumers parked (read back by the same consumers).
        mapfile -t retries < <(retry_topics "$user")
        for topic in "${retries[@]}"; do
            writes+=(--topic "$topic")
        done
        log "user $user writes: ${writes[*]}"
        tool acls --add --allow-principal "User:$user" --operation Write --operation Describe \
            "${writes[@]}"
    fi

    if ((${#reads[@]})); then
        read_args=()
        for topic in "${reads[@]}"; do
            read_args+=(--topic "$topic" --topic "$topic.dlq")
        done
        mapfile -t retries < <(retry_topics "$user")
        for topic in "${retries[@]}"; do
            read_args+=(--topic "$topic")
        done
        log "user $user reads: ${read_args[*]}"
        tool acls --add --allow-principal "User:$user" --operation Read --operation Describe \
            "${read_args[@]}"
        # Its consumer groups, all named "<user>.…" (e.g. billing.identity-events).
        tool acls --add --allow-principal "User:$user" --operation Read --operation Describe \
            --resource-pattern-type prefixed --group "$user."
    fi
done
log "done"
