#!/usr/bin/env python3
"""Validate a Compose file without a Docker engine.

    python infra/compose/check_compose.py [docker-compose.yml] [--schema PATH] [--require-schema]
                                          [--env-file FILE]

Structural checks (always): every service has an image or a build whose context, Dockerfile,
COPY sources and build args exist; depends_on targets exist, form no cycle, and the
`service_healthy` ones have a healthcheck; every long-running service has a healthcheck
(one-shot services are those others wait for with `service_completed_successfully`); published host ports are unique; environment keys are valid strings and
values are not YAML booleans; named volumes are declared and bind-mount sources exist.
Variables are interpolated like Compose does (`${VAR}`, `${VAR:-default}`, `$$`) from the
current environment, completed by --env-file (KEY=VALUE lines, like Compose's; the environment
wins). Required variables (`${VAR:?}`, the secrets) must be set: infra/compose/check.env holds
placeholders for this offline check only.

Schema check (when possible): against compose-spec's JSON Schema, taken from --schema, from
$COMPOSE_SPEC_SCHEMA, or from the `check-jsonschema` PyPI package, which ships the file
(`pip install check-jsonschema`; it also brings `jsonschema`). Without it the schema check is
skipped with a note, or fails with --require-schema.

Exit status: 0 valid, 1 invalid, 2 cannot run (missing file, YAML error, missing PyYAML).
Needs PyYAML (`pip install pyyaml`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

ONE_SHOT_CONDITION = "service_completed_successfully"
CONDITIONS = {"service_started", "service_healthy", ONE_SHOT_CONDITION}
TOP_LEVEL_KEYS = {"version", "name", "include", "services", "networks", "volumes", "secrets",
                  "configs", "models"}
ENV_KEY = re.compile(r"^[^=\s]+$")
VAR_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, ${VAR+alt}, $VAR
INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>" + VAR_NAME + r")(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>" + VAR_NAME + r"))"
)


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []

    def error(self, msg: str) -> None:
        self.errors.append(msg)

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


# ------------------------------------------------------------------ interpolation


def interpolate(value: Any, env: dict[str, str], report: Report, where: str = "") -> Any:
    """Return `value` with Compose variable interpolation applied to every string."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, report, f"{where}.{k}" if where else str(k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, report, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def repl(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("plain")
        op, arg = m.group("op"), m.group("arg") or ""
        present = name in env
        val = env.get(name, "")
        if op in (":-", "-"):
            use_default = (not val) if op == ":-" else (not present)
            return arg if use_default else val
        if op in (":?", "?"):
            missing = (not val) if op == ":?" else (not present)
            if missing:
                report.error(f"{where}: required variable {name} is not set ({arg or 'no message'})")
            return val
        if op in (":+", "+"):
            has = bool(val) if op == ":+" else present
            return arg if has else ""
        if not present:
            report.warn(f"{where}: variable {name} is not set; it becomes an empty string")
        return val

    return INTERPOLATION.sub(repl, value)


# ------------------------------------------------------------------ helpers


def as_mapping_env(env: Any, where: str, report: Report) -> dict[str, Any]:
    """Environment as a dict, checking keys and values."""
    result: dict[str, Any] = {}
    if env is None:
        return result
    if isinstance(env, list):
        for item in env:
            if not isinstance(item, str):
                report.error(f"{where}: list entries must be strings KEY=VALUE, got {item!r}")
                continue
            key, _, val = item.partition("=")
            result[key] = val
    elif isinstance(env, dict):
        result = dict(env)
    else:
        report.error(f"{where}: must be a mapping or a list, got {type(env).__name__}")
        return result
    for key, val in result.items():
        # (Non-string keys are reported for the whole file by non_string_keys.)
        if isinstance(key, str) and not ENV_KEY.match(key):
            report.error(f"{where}: invalid key {key!r}")
        if isinstance(val, bool):
            report.error(f"{where}.{key}: YAML boolean {val!r}; quote it (\"true\"/\"false\") so "
                         "the container gets the exact text")
        elif val is not None and not isinstance(val, (str, int, float)):
            report.error(f"{where}.{key}: value must be a string or a number, "
                         f"got {type(val).__name__}")
    return result


def parse_port(spec: Any) -> list[tuple[str, str, str]]:
    """Published (host_ip, host_port, protocol) of one `ports` entry; [] when not published."""
    if isinstance(spec, dict):
        published = spec.get("published")
        if published in (None, ""):
            return []
        return [(str(spec.get("host_ip", "")), str(published), str(spec.get("protocol", "tcp")))]
    text = str(spec)
    proto = "tcp"
    if "/" in text:
        text, proto = text.rsplit("/", 1)
    host_ip = ""
    if text.startswith("["):  # [IPv6]:host:container
        host_ip, _, text = text[1:].partition("]")
        text = text.lstrip(":")
    parts = text.split(":")
    if len(parts) == 1:
        return []  # container port only: Docker picks a random host port
    if len(parts) == 3:
        host_ip = parts[0]
    host_port = parts[-2]
    if not host_port:
        return []  # "ip::container": random host port
    ports: list[tuple[str, str, str]] = []
    if "-" in host_port:
        lo, _, hi = host_port.partition("-")
        if lo.isdigit() and hi.isdigit():
            ports = [(host_ip, str(p), proto) for p in range(int(lo), int(hi) + 1)]
    else:
        ports = [(host_ip, host_port, proto)]
    return ports


def dockerfile_info(path: Path) -> tuple[dict[str, str | None], list[list[str]]]:
    """ARG names (with defaults) and COPY/ADD source lists of a Dockerfile."""
    text = path.read_text(encoding="utf-8")
    # Join continuation lines, drop comments.
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not buf and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            logical.append(buf.strip())
        buf = ""
    if buf.strip():
        logical.append(buf.strip())
    args: dict[str, str | None] = {}
    copies: list[list[str]] = []
    for line in logical:
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG":
            for decl in shlex.split(rest):
                name, eq, default = decl.partition("=")
                args.setdefault(name, default if eq else None)
        elif word in ("COPY", "ADD"):
            if rest.lstrip().startswith("["):
                try:
                    tokens = json.loads(rest)
                except json.JSONDecodeError:
                    continue
            else:
                tokens = shlex.split(rest)
            if any(t.startswith("--from") for t in tokens):
                continue  # from another stage or image, not the context
            tokens = [t for t in tokens if not t.startswith("--")]
            if len(tokens) >= 2 and word == "COPY":
                copies.append(tokens[:-1])
    return args, copies


def substitute_args(text: str, values: dict[str, str | None]) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name) or ""
    return re.sub(r"\$\{(" + VAR_NAME + r")\}|\$(" + VAR_NAME + r")", repl, text)


# ------------------------------------------------------------------ checks


def check_build(name: str, build: Any, base: Path, report: Report) -> None:
    where = f"services.{name}.build"
    if isinstance(build, str):
        build = {"context": build}
    if not isinstance(build, dict):
        report.error(f"{where}: must be a path or a mapping")
        return
    context_raw = str(build.get("context", "."))
    if re.match(r"^[a-z]+://|^git@", context_raw):
        return  # remote context: nothing to check offline
    context = (base / context_raw).resolve()
    if not context.is_dir():
        report.error(f"{where}.context: folder {context_raw!r} does not exist ({context})")
        return
    if "dockerfile_inline" in build:
        return
    dockerfile = context / str(build.get("dockerfile", "Dockerfile"))
    if not dockerfile.is_file():
        report.error(f"{where}.dockerfile: {dockerfile} does not exist")
        return

    raw_args = build.get("args") or {}
    given = as_mapping_env(raw_args, f"{where}.args", report)
    declared, copies = dockerfile_info(dockerfile)
    for arg in given:
        if arg not in declared:
            report.error(f"{where}.args.{arg}: not declared by an ARG in {dockerfile.name}")
    values: dict[str, str | None] = {k: (None if v is None else str(v)) for k, v in declared.items()}
    values.update({k: (None if v is None else str(v)) for k, v in given.items()})

    for sources in copies:
        for src in sources:
            resolved = substitute_args(src, values)
            if not resolved or any(ch in resolved for ch in "*?["):
                continue  # unknown arg or a glob: cannot check exactly
            if not (context / resolved).exists():
                report.error(f"{where}: {dockerfile.name} copies {src!r} = {resolved!r}, "
                             f"missing from the build context {context}")

    # Marelle's generic Python image: the package folder and its `python -m` entry point.
    service_dir, module = values.get("SERVICE_DIR"), values.get("MODULE")
    if service_dir and module:
        pkg = context / service_dir
        if not (pkg / "pyproject.toml").is_file():
            report.error(f"{where}.args.SERVICE_DIR: {service_dir}/pyproject.toml does not exist")
        if not any((pkg / sub / module / "__main__.py").is_file() for sub in ("src", ".")):
            report.error(f"{where}.args.MODULE: no {module}/__main__.py under {service_dir} "
                         f"(src/ or flat layout): `python -m {module}` would fail")


def check_healthcheck(name: str, hc: Any, report: Report) -> bool:
    """True when the service has an enabled healthcheck."""
    if hc is None:
        return False
    where = f"services.{name}.healthcheck"
    if not isinstance(hc, dict):
        report.error(f"{where}: must be a mapping")
        return False
    if hc.get("disable") is True:
        return False
    test = hc.get("test")
    if test is None:
        report.error(f"{where}.test: missing")
        return False
    if isinstance(test, list):
        if not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            report.error(f"{where}.test: a list must start with CMD, CMD-SHELL or NONE")
            return False
        if test[0] == "NONE":
            return False
        if len(test) < 2:
            report.error(f"{where}.test: {test[0]} needs a command")
            return False
    elif not isinstance(test, str) or not test.strip():
        report.error(f"{where}.test: must be a list or a non-empty string")
        return False
    return True


def depends_on_map(name: str, deps: Any, report: Report) -> dict[str, str]:
    where = f"services.{name}.depends_on"
    if deps is None:
        return {}
    if isinstance(deps, list):
        return {str(d): "service_started" for d in deps}
    if isinstance(deps, dict):
        result = {}
        for target, spec in deps.items():
            cond = "service_started"
            if isinstance(spec, dict):
                cond = spec.get("condition", "service_started")
            elif spec is not None:
                report.error(f"{where}.{target}: must be a mapping")
            if cond not in CONDITIONS:
                report.error(f"{where}.{target}.condition: {cond!r} is not one of "
                             f"{', '.join(sorted(CONDITIONS))}")
            result[str(target)] = cond
        return result
    report.error(f"{where}: must be a list or a mapping")
    return {}


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None and nxt in graph:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def structural_checks(doc: dict[str, Any], base: Path, report: Report) -> None:
    for key in doc:
        if not isinstance(key, str):
            report.error(f"top-level key {key!r} is not a string")
        elif key not in TOP_LEVEL_KEYS and not key.startswith("x-"):
            report.error(f"unknown top-level key {key!r}")
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        report.error("services: missing or empty")
        return
    declared_volumes = set((doc.get("volumes") or {}).keys())
    declared_networks = set((doc.get("networks") or {}).keys()) | {"default"}

    deps: dict[str, dict[str, str]] = {}
    for name, svc in services.items():
        if not isinstance(svc, dict):
            report.error(f"services.{name}: must be a mapping")
            continue
        deps[name] = depends_on_map(name, svc.get("depends_on"), report)

    one_shot = {t for d in deps.values() for t, c in d.items() if c == ONE_SHOT_CONDITION}
    healthy: dict[str, bool] = {}
    published: dict[tuple[str, str], str] = {}
    container_names: dict[str, str] = {}

    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        where = f"services.{name}"
        if not re.match(r"^[a-zA-Z0-9._-]+$", str(name)):
            report.error(f"{where}: invalid service name")
        if "image" not in svc and "build" not in svc:
            report.error(f"{where}: needs `image` or `build`")
        if "build" in svc:
            check_build(name, svc["build"], base, report)
        healthy[name] = check_healthcheck(name, svc.get("healthcheck"), report)
        if name not in one_shot and not healthy[name]:
            report.error(f"{where}: long-running service without a healthcheck")
        as_mapping_env(svc.get("environment"), f"{where}.environment", report)

        for spec in svc.get("ports") or []:
            for host_ip, port, proto in parse_port(spec):
                if not port.isdigit() or not 0 < int(port) < 65536:
                    report.error(f"{where}.ports: invalid host port {port!r} in {spec!r}")
                    continue
                key = (port, proto)
                if key in published:
                    report.error(f"{where}.ports: host port {port}/{proto} already published by "
                                 f"{published[key]}")
                published[key] = name
        cname = svc.get("container_name")
        if cname:
            if cname in container_names:
                report.error(f"{where}.container_name: {cname!r} also used by "
                             f"{container_names[cname]}")
            container_names[cname] = name

        for vol in svc.get("volumes") or []:
            source, vtype = None, None
            if isinstance(vol, dict):
                source, vtype = vol.get("source"), vol.get("type")
            elif isinstance(vol, str):
                source = vol.split(":", 1)[0] if ":" in vol else None
            if not source:
                continue
            if vtype == "bind" or source.startswith((".", "/", "~")):
                path = Path(os.path.expanduser(source))
                path = path if path.is_absolute() else base / path
                if not path.exists():
                    report.error(f"{where}.volumes: bind source {source!r} does not exist ({path})")
            elif vtype in (None, "volume") and source not in declared_volumes:
                report.error(f"{where}.volumes: named volume {source!r} is not declared under "
                             "top-level `volumes`")
        nets = svc.get("networks")
        for net in (nets.keys() if isinstance(nets, dict) else nets or []):
            if net not in declared_networks:
                report.error(f"{where}.networks: {net!r} is not declared under top-level `networks`")

    for name, targets in deps.items():
        for target, cond in targets.items():
            where = f"services.{name}.depends_on.{target}"
            if target == name:
                report.error(f"{where}: a service cannot depend on itself")
            elif target not in services:
                report.error(f"{where}: no such service")
            elif cond == "service_healthy" and not healthy.get(target):
                report.error(f"{where}: condition service_healthy but {target} has no healthcheck")
    cycle = find_cycle({n: list(t) for n, t in deps.items()})
    if cycle:
        report.error("depends_on cycle: " + " -> ".join(cycle))


# ------------------------------------------------------------------ schema


def load_schema(explicit: str | None, report: Report) -> tuple[dict[str, Any] | None, str]:
    path: Path | None = None
    origin = ""
    if explicit or os.environ.get("COMPOSE_SPEC_SCHEMA"):
        path = Path(explicit or os.environ["COMPOSE_SPEC_SCHEMA"])
        origin = str(path)
    else:
        try:
            from importlib import metadata, resources

            vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
            candidate = vendor / "compose-spec.json"
            if candidate.is_file():
                version = metadata.version("check-jsonschema")
                return json.loads(candidate.read_text(encoding="utf-8")), \
                    f"compose-spec.json from check-jsonschema {version}"
        except (ImportError, ModuleNotFoundError, FileNotFoundError):
            pass
        return None, ""
    if not path.is_file():
        report.error(f"schema file {path} does not exist")
        return None, origin
    return json.loads(path.read_text(encoding="utf-8")), origin


def non_string_keys(value: Any, where: str = "") -> list[str]:
    """Paths of mapping keys that YAML parsed as something else than a string (e.g. 5, true)."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{where}.{k}" if where else str(k)
            if not isinstance(k, str):
                found.append(path)
            found += non_string_keys(v, path)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += non_string_keys(v, f"{where}[{i}]")
    return found


def schema_check(doc: dict[str, Any], schema: dict[str, Any], report: Report) -> None:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    for err in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        report.error(f"schema: {where}: {err.message}")


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", default="docker-compose.yml")
    parser.add_argument("--schema", help="compose-spec JSON Schema file to validate against")
    parser.add_argument("--require-schema", action="store_true",
                        help="fail when no compose-spec schema (or jsonschema) is available")
    parser.add_argument("--env-file", help="KEY=VALUE file completing the environment")
    args = parser.parse_args(argv)

    try:
        import yaml
    except ImportError:
        print("check_compose: PyYAML is missing: pip install pyyaml", file=sys.stderr)
        return 2
    path = Path(args.file)
    if not path.is_file():
        print(f"check_compose: {path}: no such file", file=sys.stderr)
        return 2
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        print(f"check_compose: {path}: invalid YAML: {exc}", file=sys.stderr)
        return 2
    if not isinstance(raw, dict):
        print(f"check_compose: {path}: the top level must be a mapping", file=sys.stderr)
        return 1

    report = Report()
    env: dict[str, str] = {}
    if args.env_file:
        for line in Path(args.env_file).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip()
    env.update(os.environ)
    doc = interpolate(raw, env, report)
    structural_checks(doc, path.resolve().parent, report)
    bad_keys = non_string_keys(doc)
    for where in bad_keys:
        report.error(f"{where}: key is not a string (quote it)")

    schema, origin = load_schema(args.schema, report)
    if schema is not None and bad_keys:
        report.notes.append("schema: skipped (fix the non-string keys first)")
    elif schema is not None:
        try:
            schema_check(doc, schema, report)
            report.notes.append(f"schema: valid against {origin}")
        except ImportError:
            msg = "schema: jsonschema is not installed (pip install check-jsonschema)"
            (report.error if args.require_schema else report.notes.append)(msg)
    else:
        msg = ("schema: no compose-spec schema available (pip install check-jsonschema, or "
               "--schema PATH); structural checks only")
        (report.error if args.require_schema else report.notes.append)(msg)

    for w in report.warnings:
        print(f"check_compose: warning: {w}", file=sys.stderr)
    for n in report.notes:
        print(f"check_compose: {n}", file=sys.stderr)
    if report.errors:
        for e in report.errors:
            print(f"check_compose: error: {e}", file=sys.stderr)
        print(f"check_compose: {path}: INVALID ({len(report.errors)} error(s))", file=sys.stderr)
        return 1
    services = doc.get("services") or {}
    print(f"check_compose: {path}: OK ({len(services)} services)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
