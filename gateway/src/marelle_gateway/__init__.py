"""Marelle parent gateway: the parent web portal and the parent JSON API (no domain state)."""
