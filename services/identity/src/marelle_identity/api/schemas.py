"""Request and response bodies: defined once in `marelle_contracts.http.identity`, re-exported
here for the endpoints (the French field errors come from the chassis handlers)."""

from __future__ import annotations

from marelle_contracts.http.identity import *  # noqa: F403
from marelle_contracts.http.identity import __all__  # noqa: F401



# Identity-only bodies of the endpoints added for issue #11 (sessions and staff accounts).
from typing import Annotated, Literal  # noqa: E402

from pydantic import Field  # noqa: E402

from marelle_contracts.http._base import Answer, Strict  # noqa: E402
from marelle_contracts.http.identity import Email, Password, StaffAccount, Token  # noqa: E402


class LogoutIn(Strict):
    """The portal and the apps send their refresh token; the back-office its access token
    (Authorization header) and no body."""

    refresh_token: Token | None = None


class StaffPasswordIn(Strict):
    """A staff member's password change without a session (one-time password at first login)."""

    email: Email
    current_password: Password
    new_password: Password


class StaffRolesIn(Strict):
    roles: Annotated[list[Literal["administrator", "manager"]], Field(min_length=1, max_length=2)]


class StaffAccountOut(StaffAccount):
    disabled: bool = False
    must_change_password: bool = False


class StaffAccountsOut(Answer):
    items: list[StaffAccountOut]


# The sign-up (issue #11): one answer whatever the address, and its confirmation link.
class SignupAccepted(Answer):
    message: str


class SignupConfirmIn(Strict):
    token: Token


# The staff's second factor (issue #11).
TotpCode = Annotated[str, Field(min_length=6, max_length=8, pattern=r"^[0-9 ]+$")]


class StaffLoginIn(Strict):
    """A staff login: the code of the authenticator application once TOTP is enrolled."""

    email: Email
    password: Password
    totp_code: TotpCode | None = None


class TotpCodeIn(Strict):
    code: TotpCode


class TotpSetupOut(Answer):
    secret: str
    otpauth_uri: str


class TotpStatusOut(Answer):
    enabled: bool
    pending: bool
    required: bool
