"""Every audit action code written anywhere in Marelle has a French label in the back-office's
journal (`audit.action.<code>` in `locales/fr.audit.json`), found by reading the code base: a
new `audit(...)` call with a new code fails here until its label is written.

The codes are read from the calls of the audit writers (`marelle_chassis.audit.audit`,
`audit_with_connection`, `audit_with_engine`, identity's `audit`, `auth_event`,
`auth_event_alone`) and of any function passing one of its own parameters on as the action
(billing's and enrolment's `_audit`, identity's `_verified_staff(what=…)`): a literal, a
conditional between literals, a literal prefix plus those, or a local variable assigned so."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

from .conftest import sign_in

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [ROOT / "chassis" / "src", ROOT / "gateway" / "src",
           *(p / "src" for p in sorted((ROOT / "services").iterdir())
             if p.name != "backoffice" and (p / "src").is_dir())]
LABELS = (ROOT / "services" / "backoffice" / "src" / "marelle_backoffice" / "locales"
          / "fr.audit.json")
# The writers and the position of their `action` parameter.
WRITERS = {"audit": "action", "audit_with_connection": "action", "audit_with_engine": "action",
           "auth_event": "action", "auth_event_alone": "action"}
CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class Unresolved(Exception):
    pass


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else None)


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]]


def _values(node: ast.expr, fn: ast.AST | None) -> set[str]:
    """The strings `node` may be, inside the function `fn`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _values(node.body, fn) | _values(node.orelse, fn)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return {a + b for a in _values(node.left, fn) for b in _values(node.right, fn)}
    if isinstance(node, ast.Name) and fn is not None:
        assigned = [n.value for n in ast.walk(fn) if isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)]
        if assigned:
            return set().union(*(_values(v, fn) for v in assigned))
    raise Unresolved(ast.unparse(node))


def _argument(call: ast.Call, name: str, params: list[str]) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    index = params.index(name) if name in params else None
    if index is not None and index < len(call.args):
        return call.args[index]
    return None


def action_codes() -> dict[str, set[str]]:
    """code -> the files writing it."""
    modules = list(_modules())
    defs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    calls: list[tuple[Path, ast.Call, ast.AST | None]] = []
    for path, module in modules:
        for fn in [n for n in ast.walk(module)
                   if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            defs.setdefault(fn.name, []).append(fn)
        enclosing: dict[ast.AST, ast.AST] = {}
        for fn in ast.walk(module):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(fn):
                    enclosing[inner] = fn  # innermost wins: walk visits outer first
        calls += [(path, n, enclosing.get(n)) for n in ast.walk(module) if isinstance(n, ast.Call)]

    codes: dict[str, set[str]] = {}
    unresolved: list[str] = []
    sinks = dict(WRITERS)
    done: set[tuple[str, str]] = set()
    while todo := [(f, p) for f, p in sinks.items() if (f, p) not in done]:
        for function, param in todo:
            done.add((function, param))
            for fn in defs.get(function, []):
                # A default value is a code too (e.g. `what: str = "connexion.echouee"`).
                params = _params(fn)
                if param in params:
                    defaults = fn.args.defaults
                    index = params.index(param) - (len(params) - len(defaults))
                    if index >= 0 and isinstance(defaults[index], ast.Constant):
                        codes.setdefault(defaults[index].value, set()).add(f"{function}()")
            param_lists = [_params(fn) for fn in defs.get(function, []) if param in _params(fn)]
            for path, call, fn in calls:
                if _name(call) != function or not param_lists:
                    continue
                node = _argument(call, param, param_lists[0])
                if node is None:
                    continue
                if isinstance(node, ast.Name) and isinstance(
                        fn, ast.FunctionDef | ast.AsyncFunctionDef) and node.id in _params(fn):
                    sinks[fn.name] = node.id  # a wrapper: its own callers give the codes
                    continue
                try:
                    found = _values(node, fn)
                except Unresolved as exc:
                    unresolved.append(f"{path.relative_to(ROOT)}:{call.lineno}: {exc}")
                    continue
                for code in found:
                    codes.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    assert unresolved == [], ("action codes this test cannot read; write them as literals:\n"
                              + "\n".join(unresolved))
    return codes


def test_the_code_base_writes_the_known_kinds_of_codes():
    codes = action_codes()
    # One of each writer, so that a broken reader cannot pass by finding nothing.
    for code in ("inscription.validee", "message.rejoue", "outbox.relance", "connexion.echouee",
                 "mot_de_passe.echec", "catalogue.periode_fermee", "catalogue.groupe_rouvert",
                 "tarif.cree", "agent.totp_active"):
        assert code in codes
    assert all(CODE.match(code) for code in codes), sorted(c for c in codes if not CODE.match(c))


def test_every_action_code_has_a_french_label():
    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    missing = sorted(f"{code} ({', '.join(sorted(where))})"
                     for code, where in action_codes().items()
                     if not labels.get(f"audit.action.{code}", "").strip())
    assert missing == [], "audit.action.<code> manquant dans fr.audit.json :\n" + "\n".join(missing)
    assert all(key.startswith("audit.action.") for key in labels)


async def test_the_journal_shows_the_label_and_falls_back_to_the_code(backoffice, fake):
    lines = [{"id": n, "at": "2026-11-02T09:00:00+00:00", "service": "booking",
              "staff_id": "4f0d3b52-6a57-4bd6-9b54-0cbd3c3a4c11", "staff_email": "a@ville.test",
              "action": action, "target": "x", "before": None, "after": None}
             for n, action in enumerate(("message.rejoue", "code.inconnu"), 1)]
    fake.on("GET", "identity", "/staff/audit", {"items": []})
    for service in ("enrolment", "booking", "billing"):
        fake.on("GET", service, "/staff/audit", {"items": lines if service == "booking" else []})
    async with backoffice(fake) as client:
        sign_in(client, roles=("administrator",))
        page = await client.get("/journal")
        filtered = await client.get("/journal", params={"action": "rejoué"})
    assert page.status_code == 200, page.text
    assert "Message en échec rejoué" in page.text
    assert "<td>code.inconnu</td>" in page.text
    assert "Message en échec rejoué" in filtered.text and "code.inconnu" not in filtered.text
