"""Tokens, passwords, invitations and sign-up."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status

from marelle_identity.api import schemas as s
from marelle_chassis.domain_errors import Forbidden, Unauthorized
from marelle_identity.api.deps import Caller, UoW, client_address, verified_claims
from marelle_identity.usecases import accounts, households

router = APIRouter(tags=["auth"])


def _tokens(t: accounts.Tokens) -> s.TokensOut:
    return s.TokensOut(access_token=t.access_token, refresh_token=t.refresh_token,
                       expires_in=t.expires_in)


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> dict[str, Any]:
    return request.app.state.keys.jwks()


@router.post("/auth/token", response_model=s.TokensOut)
async def token(body: s.LoginIn, request: Request, uow: UoW) -> s.TokensOut:
    st = request.app.state
    return _tokens(await accounts.login(uow, st.keys, st.settings, body.email, body.password,
                                        client_address(request)))


@router.post("/auth/refresh", response_model=s.TokensOut)
async def refresh(body: s.RefreshIn, request: Request, uow: UoW) -> s.TokensOut:
    st = request.app.state
    return _tokens(await accounts.refresh(uow, st.keys, st.settings, body.refresh_token))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, uow: UoW, body: s.LogoutIn | None = None) -> Response:
    """Ends the session at once: of the refresh token sent, and/or of the bearer access token
    (the back-office). An unknown, expired or already ended session: nothing to do, 204."""
    claims = None
    if request.headers.get("authorization"):
        try:
            claims = await verified_claims(request)
        except Unauthorized:
            claims = None
    await accounts.logout(uow, body.refresh_token if body else None, claims)
    return Response(status_code=204)


@router.post("/auth/password-reset", status_code=status.HTTP_202_ACCEPTED)
async def password_reset(body: s.EmailIn, request: Request, uow: UoW) -> dict[str, str]:
    await accounts.request_password_reset(uow, request.app.state.settings, body.email,
                                          client_address(request))
    return {}


@router.post("/auth/one-time-token", response_model=s.OneTimeTokenOut)
async def one_time_token(body: s.OneTimeTokenIn, request: Request, uow: UoW) -> Any:
    email = await accounts.check_one_time_token(uow, body.token, body.purpose,
                                                client_address(request))
    return {"email": email, "purpose": body.purpose}


@router.post("/auth/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def password_reset_confirm(body: s.SetPasswordIn, request: Request, uow: UoW) -> Response:
    await accounts.set_password_with_token(uow, body.token, "reset", body.password,
                                           client_address(request))
    return Response(status_code=204)


@router.post("/auth/invitation/accept", status_code=status.HTTP_204_NO_CONTENT)
async def invitation_accept(body: s.SetPasswordIn, request: Request, uow: UoW) -> Response:
    await accounts.set_password_with_token(uow, body.token, "invitation", body.password,
                                           client_address(request))
    return Response(status_code=204)


@router.post("/auth/signup", status_code=status.HTTP_202_ACCEPTED, response_model=s.SignupAccepted,
             summary="Online sign-up: the same answer whether the address is known or not; the "
                     "account is active once the emailed link is opened")
async def signup(body: s.SignupIn, request: Request, uow: UoW) -> Any:
    g = body.guardian
    message = await accounts.signup(uow, request.app.state.settings, body.family_name, body.email,
                                    body.password,
                                    households.NewGuardian(g.first_name, g.last_name,
                                                           g.birth_date, g.sex),
                                    client_address(request))
    return {"message": message}


@router.post("/auth/signup/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def signup_confirm(body: s.SignupConfirmIn, request: Request, uow: UoW) -> Response:
    """The sign-up's emailed link: activates the account (once)."""
    await accounts.confirm_signup(uow, body.token, client_address(request))
    return Response(status_code=204)


@router.post("/auth/staff/token", response_model=s.TokensOut, responses={
    403: {"description": "Compte désactivé, mot de passe à changer ou double authentification "
                         "à configurer"}})
async def staff_token(body: s.StaffLoginIn, request: Request, uow: UoW) -> s.TokensOut:
    """With a second factor enrolled, `totp_code` is required (401, raison `code_totp_requis`).
    An administrator without one, when the city requires it: 403, raison `totp_a_configurer`,
    with `jeton_configuration`, a short token that opens only the /auth/staff/totp routes."""
    st = request.app.state
    return _tokens(await accounts.staff_login(uow, st.keys, st.settings, body.email,
                                              body.password, client_address(request),
                                              body.totp_code))


@router.post("/auth/staff/password", status_code=status.HTTP_204_NO_CONTENT, responses={
    403: {"description": "Compte du personnel désactivé"}})
async def staff_password(body: s.StaffPasswordIn, request: Request, uow: UoW) -> Response:
    """A staff member replaces a one-time password (or any password) without a session."""
    await accounts.staff_change_password(uow, body.email, body.current_password,
                                         body.new_password, client_address(request))
    return Response(status_code=204)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: s.ChangePasswordIn, caller: Caller, uow: UoW) -> Response:
    if caller.kind not in ("parent", "staff"):  # the TOTP enrolment token opens nothing else
        raise Forbidden("Cette action n'est pas permise avec ce jeton.")
    await accounts.change_password(uow, caller.kind, uuid.UUID(caller.subject),
                                   body.current_password, body.new_password)
    return Response(status_code=204)
