"""Demo money (idempotent): billing's set-up and the Martin family's open invoices.

Loaded by `infra/demo_billing.py` (run by `./marelle run` after `demo_booking.py`) over the real
HTTP APIs (as the administrator
would, from the back-office): QF brackets A to D, the « Régie Enfance » (prefix F, the sandbox
bank, partial payments allowed), the tariffs of the demo activities, the Martin family's
financial profile (QF 620, CAF), and the import of the guide's nine open invoices (210 €). A
newcomer opening « Mon compte » sees the guide's « Détail financier par facture ».

Every step checks first or is idempotent itself (PUT, an import recognises its numbers), so it
runs at every start. `load(urls)` is the same for tests (optionally with their own client).
"""

from __future__ import annotations

import base64
import json
import time
from datetime import date
from typing import Any

import httpx

FAMILY = ("famille.martin@example.org", "marelle-famille")
ADMIN = ("admin@marelle.local", "marelle-admin")
REGIE = {"code": "ENFANCE", "name": "Régie Enfance", "invoice_prefix": "F",
         "credit_prefix": "AV", "partial_payment_allowed": True, "due_days": 30,
         "payment_backend": "dummy", "payment_options": {}}
BRACKETS = [
    {"code": "A", "label": "Tranche A — QF jusqu'à 450", "qf_min": 0, "qf_max": 450},
    {"code": "B", "label": "Tranche B — QF de 451 à 700", "qf_min": 451, "qf_max": 700},
    {"code": "C", "label": "Tranche C — QF de 701 à 1000", "qf_min": 701, "qf_max": 1000},
    {"code": "D", "label": "Tranche D — QF au-delà de 1000", "qf_min": 1001, "qf_max": None},
]
# (activity, unit, label, meal, prices for A, B, C, D, and without a known QF)
TARIFFS = [
    ("AUTOMNE", "matin", "Accueil du matin", False, (120, 150, 180, 210, 250)),
    ("AUTOMNE", "soir", "Accueil du soir", False, (150, 190, 230, 270, 300)),
    ("AUTOMNE", "repas", "Repas", True, (250, 320, 380, 420, 450)),
    ("AUTOMNE", "journee", "Journée complète", False, (600, 900, 1200, 1500, 1800)),
    ("CANTINE", "repas", "Repas", True, (250, 320, 380, 420, 450)),
]
VALID_FROM = "2013-01-01"


def guide_invoices(family_id: str) -> str:
    """The guide's « Détail financier par facture »: nine open invoices, 210 € in all."""
    rows = ["famille;numero;date;montant;solde;libelle",
            f"{family_id};F1404000001;09/04/2014;40,00;40,00;Accueil de loisirs — avril 2014"]
    rows += [f"{family_id};F130900000{i};06/09/2013;10,00;10,00;Restauration scolaire — "
             "septembre 2013" for i in range(1, 8)]
    rows.append(f"{family_id};A1302000001;19/02/2013;100,00;100,00;Séjour — février 2013")
    return "\n".join(rows) + "\n"


class Demo:
    def __init__(self, urls: dict[str, str], http: httpx.Client | None = None) -> None:
        self.urls = urls
        self.http = http or httpx.Client(timeout=20)

    def token(self, path: str, email: str, password: str) -> dict[str, str]:
        r = self.http.post(f"{self.urls['identity']}{path}",
                           json={"email": email, "password": password})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def call(self, method: str, path: str, headers: dict[str, str], *, ok: tuple[int, ...] = (),
             **kwargs: Any) -> httpx.Response:
        r = self.http.request(method, f"{self.urls['billing']}{path}", headers=headers, **kwargs)
        if r.status_code >= 400 and r.status_code not in ok:
            raise RuntimeError(f"{method} billing{path}: {r.status_code} {r.text[:300]}")
        return r

    def eventually(self, fetch: Any, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = fetch()
            if value:
                return value
            time.sleep(0.5)
        raise RuntimeError("the demo family did not reach billing in time")

    def run(self) -> str:
        staff = self.token("/auth/staff/token", *ADMIN)
        parent = self.token("/auth/token", *FAMILY)
        family_id = _family_id(parent)
        self.call("PUT", "/staff/brackets", staff, json={"brackets": BRACKETS})
        regies = self.call("GET", "/staff/regies", staff).json()["regies"]
        if not any(r["code"] == REGIE["code"] for r in regies):
            self.call("POST", "/staff/regies", staff, json=REGIE)
        self._tariffs(staff)
        # The family reaches billing through identity's events (Kafka): wait for its copy.
        self.eventually(lambda: self.http.get(f"{self.urls['billing']}/staff/families/{family_id}",
                                              headers=staff).status_code == 200)
        self._profile(staff, family_id)
        result = self.call("POST", "/staff/imports/invoices", staff, json={
            "regie_code": REGIE["code"], "csv": guide_invoices(family_id)}).json()
        if result["errors"]:
            raise RuntimeError(f"import refused: {result['errors']}")
        return "chargées" if result["imported"] else "déjà chargées"

    def _tariffs(self, staff: dict[str, str]) -> None:
        for activity in dict.fromkeys(t[0] for t in TARIFFS):
            have = {t["unit"] for t in self.call(
                "GET", "/staff/tariffs", staff,
                params={"regie": REGIE["code"], "activity": activity}).json()["tariffs"]}
            for name, unit, label, meal, prices in TARIFFS:
                if name != activity or unit in have:
                    continue
                self.call("POST", "/staff/tariffs", staff, json={
                    "regie_code": REGIE["code"], "activity_name": activity, "unit": unit,
                    "label": label, "valid_from": VALID_FROM, "meal": meal,
                    "prices": [*({"bracket_code": b["code"], "price_cents": p}
                                 for b, p in zip(BRACKETS, prices[:4], strict=True)),
                               {"bracket_code": None, "price_cents": prices[4]}]})

    def _profile(self, staff: dict[str, str], family_id: str) -> None:
        path = f"/staff/families/{family_id}/profile"
        current = self.call("GET", path, staff, ok=(404,))
        if current.status_code == 200 and current.json().get("qf") is not None:
            return  # staff may have changed it since: never overwrite
        today = date.today()
        self.call("PUT", path, staff, json={
            "qf": 620, "qf_date": date(today.year, 1, 1).isoformat(), "qf_source": "caf",
            "income_cents": 3_840_000, "income_year": today.year - 1, "dependent_children": 2,
            "resident": True, "reason": "Données de démonstration"})


def _family_id(parent: dict[str, str]) -> str:
    claims = parent["Authorization"].split()[1].split(".")[1]
    claims += "=" * (-len(claims) % 4)
    return json.loads(base64.urlsafe_b64decode(claims))["family_id"]


def load(urls: dict[str, str], http: httpx.Client | None = None) -> str:
    """Load the demo money (idempotent); `urls` maps identity and billing to their base URLs."""
    return Demo(urls, http).run()
