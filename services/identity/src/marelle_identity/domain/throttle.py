"""Attempt throttling policy: slow the guesser down, never lock the owner out.

Each limit counts attempts per key in a fixed window (the counter's row restarts with the first
attempt after the window); past `attempts`, the key is refused until its window ends (429 with
Retry-After). Logins are counted per account *and address* and per address, never per account
alone: an attacker who guesses a family's password from their address slows down that address,
while the family, from its own address, still logs in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Limit:
    attempts: int  # allowed in one window
    window: timedelta


WINDOW = timedelta(minutes=15)
# Logins: failures of one account from one address, and from one address whatever the account
# (a town hall's shared connection logs many families in: successes are taken back).
LOGIN_ACCOUNT_ADDRESS = Limit(attempts=5, window=WINDOW)
LOGIN_ADDRESS = Limit(attempts=30, window=WINDOW)
# Password change with the current password (the caller is logged in): per account.
PASSWORD_CHANGE = Limit(attempts=5, window=WINDOW)
# Reset requests: each one sends an email; per address and address-and-email.
RESET_REQUEST_EMAIL = Limit(attempts=3, window=WINDOW)
RESET_REQUEST_ADDRESS = Limit(attempts=10, window=WINDOW)
# Sign-up: per address (each one creates a household and hashes a password).
SIGNUP_ADDRESS = Limit(attempts=10, window=timedelta(hours=1))
# ... and per email address: each sign-up sends an email there (known or not), so nobody can
# flood a mailbox through the sign-up form.
SIGNUP_EMAIL = Limit(attempts=3, window=timedelta(hours=1))
# Link checks and uses (reset, invitation, sign-up confirmation): guessing a link from one address.
LINK_ADDRESS = Limit(attempts=20, window=WINDOW)


def over(failures: int, limit: Limit) -> bool:
    return failures > limit.attempts


def wait_left(window_started_at: datetime, limit: Limit, now: datetime) -> timedelta:
    return max(window_started_at + limit.window - now, timedelta(seconds=1))


def refusal(what: str, wait: timedelta) -> tuple[str, int]:
    """The French message and the Retry-After seconds of a refused attempt."""
    seconds = math.ceil(wait.total_seconds())
    minutes = max(1, math.ceil(seconds / 60))
    return (f"Trop de tentatives {what} : réessayez dans {minutes} minute"
            f"{'s' if minutes > 1 else ''}.", seconds)
