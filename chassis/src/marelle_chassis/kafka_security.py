"""How the Kafka clients authenticate: unprefixed environment variables, like
KAFKA_BOOTSTRAP_SERVERS, shared by the FastStream broker, the admin client and the tools.

    KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default, the development broker), SASL_PLAINTEXT,
                              SASL_SSL or SSL
    KAFKA_SASL_MECHANISM      SCRAM-SHA-512 (default), SCRAM-SHA-256 or PLAIN
    KAFKA_SASL_USERNAME       the service's principal (e.g. billing)
    KAFKA_SASL_PASSWORD       its password
    KAFKA_SSL_CAFILE          CA bundle for SSL / SASL_SSL (default: the system's)

Production (docker-compose.yml) runs SASL with per-service ACLs: see infra/kafka/README.md.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete or invalid."""


def kafka_client_options(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for aiokafka clients (producer, consumer, admin); empty in PLAINTEXT."""
    env = os.environ if env is None else env
    protocol = (env.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").strip().upper()
    if protocol not in PROTOCOLS:
        raise KafkaSecurityError(
            f"KAFKA_SECURITY_PROTOCOL={protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.endswith("SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=env.get("KAFKA_SSL_CAFILE") or None)
    if protocol.startswith("SASL"):
        mechanism = (env.get("KAFKA_SASL_MECHANISM") or "SCRAM-SHA-512").strip().upper()
        if mechanism not in MECHANISMS:
            raise KafkaSecurityError(
                f"KAFKA_SASL_MECHANISM={mechanism!r}: expected one of {', '.join(MECHANISMS)}")
        username, password = env.get("KAFKA_SASL_USERNAME", ""), env.get("KAFKA_SASL_PASSWORD", "")
        if not username or not password:
            raise KafkaSecurityError(
                f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        options.update(sasl_mechanism=mechanism, sasl_plain_username=username,
                       sasl_plain_password=password)
    return options


def production_problems(env: Mapping[str, str] | None = None) -> list[str]:
    """What a production start should refuse about Kafka (empty when fine): a broker reached
    without authentication lets anyone write any service's events."""
    env = os.environ if env is None else env
    try:
        options = kafka_client_options(env)
    except KafkaSecurityError as exc:
        return [str(exc)]
    if not options.get("security_protocol", "").startswith("SASL"):
        return ["Kafka sans authentification : définir KAFKA_SECURITY_PROTOCOL=SASL_SSL (ou "
                "SASL_PLAINTEXT sur un réseau privé), KAFKA_SASL_USERNAME et KAFKA_SASL_PASSWORD"]
    return []


def faststream_security(env: Mapping[str, str] | None = None) -> Any:
    """The same settings as a FastStream security object for `KafkaBroker(security=…)`, or None."""
    from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

    options = kafka_client_options(env)
    if not options:
        return None
    protocol = options["security_protocol"]
    use_ssl = protocol.endswith("SSL")
    context = options.get("ssl_context")
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256,
            "PLAIN": SASLPlaintext}[options["sasl_mechanism"]]
    return kind(username=options["sasl_plain_username"], password=options["sasl_plain_password"],
                ssl_context=context, use_ssl=use_ssl)
