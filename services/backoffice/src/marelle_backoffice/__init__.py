"""Marelle back-office: the staff web UI, calling the services' staff endpoints (no domain state)."""
