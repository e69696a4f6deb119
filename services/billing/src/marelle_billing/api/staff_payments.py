"""Payments recorded by staff (cash, cheque, CESU, holiday vouchers), online payments seen, SEPA mandates and pain.008 collections."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
