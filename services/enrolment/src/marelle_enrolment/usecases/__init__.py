"""Enrolment's use cases: plain async functions taking a unit of work."""
