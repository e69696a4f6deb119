"""Booking's domain: calendars (opening days, booking weeks) and rules (deadlines, horizon,
implied units, week-only). Pure Python, no framework."""
