"""Demo data that lives across services: the Martin family's calendar (idempotent).

Run by `./marelle run` once every process answers, over the real HTTP APIs (as staff and as the
demo family would): Hugo Martin is registered on the demo holiday period (6-8 ans Rémond) and
validated; the period's calendar gets its units, capacities and options; some days are booked,
one full day puts him on its waiting list, and he takes the shuttle one morning. A newcomer
opening « Mes réservations » sees a lived-in calendar.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from typing import Any

import httpx

FAMILY = ("famille.martin@example.org", "marelle-famille")
ADMIN = ("admin@marelle.local", "marelle-admin")


class Demo:
    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self.http = httpx.Client(timeout=20)

    def token(self, path: str, email: str, password: str) -> dict[str, str]:
        r = self.http.post(f"{self.urls['identity']}{path}", json={"email": email, "password": password})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def call(self, method: str, service: str, path: str, headers: dict[str, str],
             **kwargs: Any) -> httpx.Response:
        r = self.http.request(method, f"{self.urls[service]}{path}", headers=headers, **kwargs)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {service}{path}: {r.status_code} {r.text[:300]}")
        return r

    def eventually(self, fetch: Any, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = fetch()
            if value:
                return value
            time.sleep(0.5)
        raise RuntimeError("the demo data did not propagate in time")

    def run(self) -> str:
        staff = self.token("/auth/staff/token", *ADMIN)
        parent = self.token("/auth/token", *FAMILY)
        family = self._family(parent)
        family_id = family["id"]
        hugo = next(p for p in family["persons"] if p["first_name"] == "Hugo")
        period, group = self._demo_group(staff)
        if self._has_calendar(staff, period["id"]):
            return "déjà chargées"
        registration_id = self._validated_registration(staff, parent, family_id, hugo["id"],
                                                       group["id"])
        self.eventually(lambda: [r for r in self.call(
            "GET", "booking", "/staff/registrations", staff, params={"child_id": hugo["id"]}
        ).json()["items"] if r["registration_id"] == registration_id and r["status"] == "validee"])
        start = date.fromisoformat(period["start_date"])
        days = [start + timedelta(days=i) for i in range(0, 12)
                if (start + timedelta(days=i)).isoweekday() <= 5]
        full_day = days[2]
        self.call("PUT", "booking", f"/staff/calendars/{period['id']}", staff, json={
            "weekdays": [1, 2, 3, 4, 5], "skip_public_holidays": True,
            "booking_deadline": {"days": 1, "working_days": False, "cutoff": "15:00"},
            "cancellation_deadline": {"days": 2, "working_days": True, "cutoff": "12:00"},
            "horizon_days": 120, "families_may_modify": True, "week_only": False,
            "memo": "Réservez au plus tard la veille à 15 h. Annulation possible jusqu'à deux "
                    "jours ouvrés avant, à midi. Le repas est compris dans la journée complète.",
            "units": [
                {"code": "matin", "label": "Accueil du matin", "kind": "accueil"},
                {"code": "soir", "label": "Accueil du soir", "kind": "accueil"},
                {"code": "repas", "label": "Repas", "kind": "supplement"},
                {"code": "journee", "label": "Journée complète", "kind": "journee",
                 "implies": ["repas"]}],
            "capacities": [
                *({"group_id": g["id"], "unit": u, "capacity": 24}
                  for g in period["groups"] for u in ("matin", "soir", "repas", "journee")),
                # A full day, so that the demo shows a waiting list.
                {"group_id": group["id"], "unit": "journee", "capacity": 0,
                 "day": full_day.isoformat()}]})
        base = f"/families/{family_id}/registrations/{registration_id}"
        self.call("POST", "booking", f"{base}/reservations", parent, json={"changes": [
            *({"day": d.isoformat(), "unit": "journee", "action": "reserver"} for d in days[:5]),
            {"day": days[0].isoformat(), "unit": "matin", "action": "reserver"}]})
        line = self.call("POST", "booking", "/staff/shuttle-lines", staff, json={
            "period_id": period["id"], "name": "Ligne 1", "seats": 20, "stops": [
                {"name": "Mairie", "morning_time": "08:05", "evening_time": "17:40"},
                {"name": "École Jules-Ferry", "morning_time": "08:15", "evening_time": "17:30"}]}
        ).json()
        lines = self.call("GET", "booking", f"{base}/shuttle-lines", parent).json()["items"]
        stop = next(s for ln in lines if ln["line_id"] == line["id"] for s in ln["stops"])
        self.call("POST", "booking", f"{base}/shuttles", parent, json={
            "stop_id": stop["stop_id"], "directions": ["aller"], "days": [days[0].isoformat()]})
        return "chargées"

    def _family(self, parent: dict[str, str]) -> dict[str, Any]:
        import base64
        import json

        claims = parent["Authorization"].split()[1].split(".")[1]
        claims += "=" * (-len(claims) % 4)
        family_id = json.loads(base64.urlsafe_b64decode(claims))["family_id"]
        return self.call("GET", "identity", f"/families/{family_id}", parent).json()

    def _demo_group(self, staff: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
        catalogue = self.call("GET", "enrolment", "/staff/catalogue", staff).json()
        for facility in catalogue["facilities"]:
            if facility["name"] != "CENTRE DE LOISIRS ALSH":
                continue
            for activity_type in facility["activity_types"]:
                for activity in activity_type["activities"]:
                    for period in activity["periods"]:
                        for group in period["groups"]:
                            if group["label"] == "6-8 ans Rémond":
                                return period, group
        raise RuntimeError("the demo catalogue has no « 6-8 ans Rémond » group")

    def _has_calendar(self, staff: dict[str, str], period_id: str) -> bool:
        r = self.http.get(f"{self.urls['booking']}/staff/calendars/{period_id}", headers=staff)
        return r.status_code == 200

    def _validated_registration(self, staff: dict[str, str], parent: dict[str, str],
                                family_id: str, child_id: str, group_id: str) -> str:
        mine = self.call("GET", "enrolment", f"/families/{family_id}/registrations", parent,
                         params={"child_id": child_id}).json()["items"]
        current = next((r for r in mine if r["group_id"] == group_id
                        and r["status"] in ("en_attente", "validee")), None)
        if current is None:
            offer = f"/families/{family_id}/children/{child_id}/offer"
            self.eventually(lambda: self.http.get(f"{self.urls['enrolment']}{offer}",
                                                  headers=parent).status_code == 200)
            result = self.call("POST", "enrolment", f"/families/{family_id}/registrations",
                               parent, json={"child_id": child_id, "group_id": group_id,
                                             "typical_week": [{"weekday": d, "units": ["journee"]}
                                                              for d in (1, 2, 4)],
                                             "memo": "Allergie aux arachides."}
                               ).json()["results"][0]
            if not result["ok"]:
                raise RuntimeError(result["detail"])
            current = result["registration"]
        if current["status"] != "validee":
            self.call("POST", "enrolment", "/staff/registrations/decisions", staff, json={
                "decisions": [{"registration_id": current["id"], "decision": "validate"}]})
        return str(current["id"])


def main() -> int:
    urls = {name: f"http://127.0.0.1:{port}" for name, port in
            (arg.split("=", 1) for arg in sys.argv[1:])}
    try:
        print(f"demo calendar: {Demo({k: v for k, v in urls.items()}).run()}", file=sys.stderr)
    except Exception as exc:  # the rest of Marelle works without it: say so, do not stop
        print(f"marelle: the demo calendar could not be loaded: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
