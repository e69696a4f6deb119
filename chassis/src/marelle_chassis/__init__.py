"""Shared runtime of Marelle's services: one copy of each piece, used by all."""
