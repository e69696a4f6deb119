"""Development mailbox: an SMTP server (aiosmtpd) that keeps every message, and a web page to
read them. `./marelle run` starts it; identity sends its emails there by default.

    python infra/mailbox/mailbox.py [--smtp-port 1025] [--http-port 8025] [--dir var/mailbox]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import html
import time
from pathlib import Path

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse


class Store:
    """Messages as .eml files, newest first: they survive a restart of the mailbox."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's API)
        name = f"{time.time_ns()}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"

    def messages(self) -> list[tuple[str, email.message.EmailMessage]]:
        files = sorted(self.folder.glob("*.eml"), reverse=True)
        return [(f.stem, email.message_from_bytes(f.read_bytes(), policy=email.policy.default))
                for f in files]


def web(store: Store) -> FastAPI:
    app = FastAPI(title="Marelle — boîte aux lettres de développement", docs_url=None,
                  redoc_url=None)

    def page(title: str, body: str) -> HTMLResponse:
        return HTMLResponse(f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;
padding:0 1em;color:#1d2b2f}}td,th{{text-align:left;padding:.3em .6em;border-bottom:1px solid #ccc}}
pre{{white-space:pre-wrap;background:#f4f4f0;padding:1em}}</style></head><body>
<h1>{html.escape(title)}</h1>{body}</body></html>""")

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        rows = "".join(
            f"<tr><td>{html.escape(str(m['Date'] or ''))}</td><td>{html.escape(str(m['To'] or ''))}</td>"
            f"<td><a href='/messages/{mid}'>{html.escape(str(m['Subject'] or '(sans objet)'))}</a></td></tr>"
            for mid, m in store.messages())
        return page("Messages envoyés par Marelle",
                    "<table><caption>Du plus récent au plus ancien</caption><tr><th scope=col>Date</th>"
                    f"<th scope=col>Destinataire</th><th scope=col>Objet</th></tr>{rows}</table>"
                    if rows else "<p>Aucun message pour l'instant.</p>")

    @app.get("/messages/{mid}", response_class=HTMLResponse)
    async def show(mid: str) -> HTMLResponse:
        for found, message in store.messages():
            if found == mid:
                part = message.get_body(preferencelist=("plain",))
                text = part.get_content() if part else ""
                return page(str(message["Subject"]), f"<p>À : {html.escape(str(message['To']))}</p>"
                            f"<pre>{html.escape(text)}</pre><p><a href='/'>Tous les messages</a></p>")
        raise HTTPException(404)

    @app.get("/api/messages")
    async def api() -> JSONResponse:
        out = []
        for mid, m in store.messages():
            part = m.get_body(preferencelist=("plain",))
            out.append({"id": mid, "to": str(m["To"]), "subject": str(m["Subject"]),
                        "text": part.get_content() if part else ""})
        return JSONResponse(out)

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path("var/mailbox"))
    args = parser.parse_args()
    store = Store(args.dir)
    controller = Controller(store, hostname="127.0.0.1", port=args.smtp_port)
    controller.start()
    try:
        uvicorn.run(web(store), host="127.0.0.1", port=args.http_port, log_level="warning")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
