"""Enrolment: the catalogue, registration requests and their statuses, waiting lists, attestation requests."""
