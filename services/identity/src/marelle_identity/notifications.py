"""The families' emails: composed in French (plain text and HTML) and queued in the same
transaction as the change they announce; `mailer.Mailer` sends them."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import insert

from marelle_chassis.uow import UnitOfWork
from marelle_identity.db import email_message
from marelle_identity.usecases.common import now

_env = Environment(loader=PackageLoader("marelle_identity", "templates"),
                   autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)

SUBJECTS = {
    "invitation": "Votre accès au portail famille",
    "reset": "Réinitialisation de votre mot de passe",
    "contact_accepted": "Votre demande de modification de coordonnées a été acceptée",
    "contact_refused": "Votre demande de modification de coordonnées a été refusée",
    "email_changed": "Votre adresse e-mail a été modifiée",
    "signup_confirm": "Confirmez votre adresse e-mail",
    "signup_existing": "Tentative d'inscription avec votre adresse e-mail",
}


def compose(template: str, subject: str | None = None, **context: Any) -> tuple[str, str, str]:
    subject = subject or SUBJECTS[template]
    text = _env.get_template(f"email/{template}.txt").render(subject=subject, **context)
    html = _env.get_template(f"email/{template}.html").render(subject=subject, **context)
    return subject, text, html


async def queue_email(uow: UnitOfWork, to: str, template: str, subject: str | None = None,
                      **context: Any) -> None:
    subject, text, html = compose(template, subject, **context)
    at = now()
    await uow.session.execute(insert(email_message).values(
        to_address=to, subject=subject, text_body=text, html_body=html, created_at=at,
        attempts=0, next_attempt_at=at))
    uow.after_commit(lambda: _wake_mailer(uow))


def _wake_mailer(uow: UnitOfWork) -> None:
    hook = getattr(uow, "wake_mailer", None)
    if hook:
        hook()
