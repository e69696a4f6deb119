"""The services' HTTP request and response bodies, defined once.

Each service declares them as its request bodies and `response_model`s (its `api/schemas.py`
re-exports this package's module); the gateway and the back-office parse the services' answers
and build their requests with the same classes, and their test fakes are built from them.

Conventions: request bodies refuse unknown fields (`extra="forbid"`) and carry the services'
limits (lengths, ranges); answers ignore unknown fields, so a service may add one (a version only
ever adds optional fields) without breaking its readers.
"""

from marelle_contracts.http import booking, enrolment, identity, platform

__all__ = ["booking", "enrolment", "identity", "platform"]
