"""By hand, outside the test suite: validate real responses of the Atera twin against Atera's own OpenAPI document.

    .venv/bin/python tests/twins/atera/check_openapi.py [--spec ../shared/specs/atera-openapi-v3.json]

Starts an in-process demo twin, runs the walk of ``atera_exercise.py`` (every implemented operation, with its error
statuses), a full read of every list, and validates each response body against the schema the document gives for
that path, method and status (OpenAPI 3.0 ``nullable`` mapped to JSON Schema). Statuses the document does not list
(e.g. a 404 where it only lists 200/500) are reported, not failed. Skips (exit 0) when the document is absent.
The document is read in place; it is never copied into this repository.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path[:0] = [str(REPO), str(HERE)]

DEFAULT_SPEC = REPO.parent / "shared" / "specs" / "atera-openapi-v3.json"


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema 2020-12 (``nullable``, component ``$ref`` → ``$defs``)."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "xml")}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
    if node.get("nullable"):
        if "$ref" in out or "allOf" in out or "oneOf" in out or "anyOf" in out:
            return {"anyOf": [out, {"type": "null"}]}
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(DEFAULT_SPEC))
    parser.add_argument("--seed", default="demo", choices=["demo", "small", "large"],
                        help="profile to read (the walk of every operation runs on demo only)")
    args = parser.parse_args(argv)
    spec_path = Path(args.spec)
    if not spec_path.exists():
        print(f"SKIP: {spec_path} not found")
        return 0
    import jsonschema
    from atera_exercise import exercise

    from sandbox.atera.server import AteraTwin
    from sandbox.core.http import TwinServer

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    defs = {name: to_json_schema(s) for name, s in spec["components"]["schemas"].items()}

    twin = AteraTwin(seed_profile=args.seed, per_minute=0)
    server = TwinServer(twin.handle).start()
    try:
        results = exercise(server.url) if args.seed == "demo" else []
        results += full_reads(server.url, max_pages=None if args.seed != "large" else 40)
    finally:
        server.stop()

    failures: list[str] = []
    undocumented: set[str] = set()
    checked = 0
    for method, template, status, body in results:
        op = spec["paths"].get(template, {}).get(method.lower())
        if op is None:
            failures.append(f"{method} {template}: not in the document")
            continue
        response = op["responses"].get(str(status))
        if response is None:
            undocumented.add(f"{method} {template} -> {status} (document lists {', '.join(op['responses'])})")
            continue
        content = response.get("content", {}).get("application/json")
        if content is None:
            if body is not None and status != 400:
                undocumented.add(f"{method} {template} -> {status}: the document gives no body schema")
            continue
        schema = {"$defs": defs, **to_json_schema(content["schema"])}
        try:
            jsonschema.Draft202012Validator(schema).validate(body)
            checked += 1
        except jsonschema.ValidationError as exc:
            failures.append(f"{method} {template} -> {status}: {exc.message} at {list(exc.absolute_path)}")

    print(f"validated {checked} responses of {len({(m, t) for m, t, _, _ in results})} operations "
          f"against {spec_path.name}")
    for line in sorted(undocumented):
        print(f"  note: status not documented: {line}")
    for line in failures:
        print(f"  FAIL: {line}")
    failures += compare_models(spec)
    print("OK" if not failures else f"{len(failures)} FAILURES")
    return 1 if failures else 0


def compare_models(spec: dict[str, Any]) -> list[str]:
    """The twin's schema model against the document's components: same field names, same JSON types."""
    from sandbox.atera.schema import SCHEMAS

    components = spec["components"]["schemas"]
    problems: list[str] = []

    def doc_type(prop: dict[str, Any]) -> set[str]:
        if "$ref" in prop:
            target = components[prop["$ref"].split("/")[-1]]
            kind = {target.get("type", "object")}
        else:
            kind = {prop.get("type", "object")}
        return kind | ({"null"} if prop.get("nullable") else set())

    def compare(name: str, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
        their_props = theirs.get("properties", {})
        our_props = ours.get("properties", {})
        if set(our_props) != set(their_props):
            problems.append(f"{name}: fields differ: twin-only {sorted(set(our_props) - set(their_props))}, "
                            f"document-only {sorted(set(their_props) - set(our_props))}")
        for field, prop in their_props.items():
            if field not in our_props:
                continue
            ours_t = our_props[field].get("type", "object")
            ours_t = set(ours_t) if isinstance(ours_t, list) else {ours_t}
            if not doc_type(prop) - {"null"} <= ours_t or ("null" in ours_t) != ("null" in doc_type(prop)):
                problems.append(f"{name}.{field}: twin {sorted(ours_t)} vs document {sorted(doc_type(prop))}")
            ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
            target = components.get(ref.split("/")[-1], {}) if ref else {}
            if target.get("properties"):
                sub = our_props[field]
                sub = sub.get("items", sub) if sub.get("type") in ("array", ["array", "null"]) else sub
                compare(f"{name}.{field}", sub, target)

    for name, ours in SCHEMAS.items():
        base = name.removesuffix("[]")
        if base in components and components[base].get("properties"):
            compare(name, ours.get("items", ours) if name.endswith("[]") else ours, components[base])
    print(f"compared the twin's schema model with {len(SCHEMAS)} document schemas"
          f"{': ' + str(len(problems)) + ' differences' if problems else ': no differences'}")
    return [f"model: {p}" for p in problems]


def full_reads(base_url: str, max_pages: int | None = None) -> list[tuple[str, str, int, Any]]:
    """Every page of every list (up to ``max_pages`` each), to cover all shapes (all contract types)."""
    import requests

    session = requests.Session()
    session.headers["X-API-KEY"] = "twin-atera-key"
    out = []
    for path in ("/customers", "/contacts", "/contracts", "/rates/products", "/rates/expenses", "/billing/invoices",
                 "/tickets", "/workhours?includeRates=true"):
        page = 1
        while True:
            sep = "&" if "?" in path else "?"
            response = session.get(f"{base_url}/api/v3{path}{sep}page={page}&itemsInPage=50", timeout=10)
            body = response.json()
            out.append(("GET", "/api/v3" + path.split("?")[0], response.status_code, body))
            if not body["nextLink"] or (max_pages and page >= max_pages):
                break
            page += 1
    return out


if __name__ == "__main__":
    sys.exit(main())
