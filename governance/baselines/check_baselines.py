"""Validate the baseline framework files in this folder (commons-registry/framework-version@1).

Checks the file structure, codes, the requirement tree, severities, kinds, dates and parameters; compiles
every `applies_when` and `check` with CEL; checks that every field they use is in the rule context
(docs/rule-context.md, schema version 1); and evaluates every expression on two sample contexts, an
empty one and a full one, requiring a boolean result.

    python governance/baselines/check_baselines.py [-v] [FILE ...]

Exits 1 and lists the problems if any file is invalid.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path

import cel

HERE = Path(__file__).resolve().parent
FORMAT = "commons-registry/framework-version@1"

TOP_KEYS = {
    "format",
    "urn",
    "name",
    "short_name",
    "version",
    "description",
    "source_url",
    "licence_notice",
    "binding",
    "requirements",
}
REQ_KEYS = {
    "code",
    "parent",
    "order",
    "title",
    "text",
    "citation",
    "citation_url",
    "severity",
    "effective_from",
    "effective_until",
    "kind",
    "applies_when",
    "check",
    "evidence",
    "parameters",
}
PARAM_KEYS = {"name", "type", "default", "direction", "description"}
BINDINGS = {"mandatory", "informative"}
SEVERITIES = {"low", "medium", "high", "critical"}
KINDS = {"rule", "evidence", "informative"}
PARAM_TYPES = {"int": int, "bool": bool, "string": str}
DIRECTIONS = {
    "int": {"lower_is_stricter", "higher_is_stricter"},
    "bool": {"true_is_stricter"},
    "string": set(),
}
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9.-]*$")
URN_RE = re.compile(r"^urn:commons:baseline:[a-z0-9][a-z0-9-]*$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

# The rule context, schema version 1 (docs/rule-context.md).
SYSTEM_TEXT = [
    "name",
    "purpose",
    "intended_use",
    "benefits",
    "technical_description",
    "inputs",
    "training_data",
    "outputs",
    "human_oversight_description",
    "affected_persons",
    "risks",
    "proportionality",
    "legal_basis",
    "topic",
    "vendor",
    "model_name",
    "website",
    "documentation_url",
    "source_code_url",
    "privacy_assessment_url",
    "contact_name",
    "contact_email",
    "tags",
]
SYSTEM_FIELDS = {
    *SYSTEM_TEXT,
    "operator_role",
    "techniques",
    "data_categories",
    "decision_role",
    "human_oversight",
    "lifecycle_stage",
    "start_date",
    "end_date",
    "organization",
}
REGISTRATION_FIELDS = {
    "id",
    "status",
    "risk_tier",
    "community",
    "communities",
    "deployment_context",
    "deployment_date",
    "age_days",
}
ASSESSMENT_FIELDS = {"instrument", "version", "status", "tier", "impact_level", "age_days", "valid"}
EVIDENCE_FIELDS = {"requirement", "framework", "status", "age_days", "valid"}
ROOTS = {"system", "registration", "assessments", "evidence", "params", "today"}
MACROS = "all|exists|exists_one|filter|map"


def sample_contexts() -> dict[str, dict]:
    today = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    empty_system = {name: "" for name in SYSTEM_TEXT}
    empty_system.update(
        operator_role="",
        techniques=[],
        data_categories=[],
        decision_role="",
        human_oversight="",
        lifecycle_stage="planned",
        start_date="",
        end_date="",
        organization="",
    )
    empty = {
        "system": empty_system,
        "registration": {
            "id": 1,
            "status": "draft",
            "risk_tier": "unassessed",
            "community": "",
            "communities": [],
            "deployment_context": "",
            "deployment_date": "",
            "age_days": 0,
        },
        "assessments": [],
        "evidence": [],
        "today": today,
    }
    full_system = {name: f"sample {name}" for name in SYSTEM_TEXT}
    full_system.update(
        contact_email="ai@example.org",
        operator_role="provider_and_deployer",
        techniques=["large_language_model"],
        data_categories=["personal"],
        decision_role="decision_support",
        human_oversight="human_in_the_loop",
        lifecycle_stage="production",
        start_date="2025-01-01",
        end_date="",
        organization="example-org",
    )
    full = {
        "system": full_system,
        "registration": {
            "id": 2,
            "status": "submitted",
            "risk_tier": "high",
            "community": "example-city",
            "communities": ["example-nation", "example-city"],
            "deployment_context": "Benefit claims triage in the city social services office",
            "deployment_date": "2025-03-01",
            "age_days": 100,
        },
        "assessments": [
            {
                "instrument": "fria",
                "version": "1",
                "status": "accepted",
                "tier": "high",
                "impact_level": 2,
                "age_days": 10,
                "valid": True,
            }
        ],
        "evidence": [
            {
                "requirement": "EUAIA-ART9",
                "framework": "urn:commons:baseline:eu-ai-act",
                "status": "accepted",
                "age_days": 5,
                "valid": True,
            }
        ],
        "today": today,
    }
    return {"empty": empty, "full": full}


def field_problems(expr: str, params: set[str]) -> list[str]:
    """Fields the expression uses that are not in the rule context."""
    problems = []
    allowed = {"system": SYSTEM_FIELDS, "registration": REGISTRATION_FIELDS, "params": params}
    for root, field in re.findall(r"(?<![\w.])(system|registration|params)\.(\w+)", expr):
        if field not in allowed[root]:
            problems.append(f"unknown field {root}.{field}")
    for root, var in re.findall(rf"(?<![\w.])(assessments|evidence)\.(?:{MACROS})\(\s*(\w+)\s*,", expr):
        fields = ASSESSMENT_FIELDS if root == "assessments" else EVIDENCE_FIELDS
        for field in re.findall(rf"(?<![\w.]){var}\.(\w+)", expr):
            if field not in fields:
                problems.append(f"unknown field {field} of {root}[]")
    return problems


def check_parameters(where: str, params: list, problems: list[str]) -> dict:
    defaults = {}
    if not isinstance(params, list):
        problems.append(f"{where}: parameters must be a list")
        return defaults
    for p in params:
        if not isinstance(p, dict) or set(p) != PARAM_KEYS:
            problems.append(f"{where}: parameter must have exactly the keys {sorted(PARAM_KEYS)}")
            continue
        name, ptype = p["name"], p["type"]
        if not NAME_RE.match(str(name)) or name in defaults:
            problems.append(f"{where}: bad or duplicate parameter name {name!r}")
        if ptype not in PARAM_TYPES:
            problems.append(f"{where}: parameter {name}: bad type {ptype!r}")
            continue
        default = p["default"]
        if type(default) is not PARAM_TYPES[ptype]:
            problems.append(f"{where}: parameter {name}: default {default!r} is not {ptype}")
        if p["direction"] not in DIRECTIONS[ptype]:
            problems.append(f"{where}: parameter {name}: direction {p['direction']!r} not valid for {ptype}")
        if not p["description"]:
            problems.append(f"{where}: parameter {name}: missing description")
        defaults[name] = default
    return defaults


def validate(path: Path, verbose: bool = False) -> tuple[list[str], dict]:
    problems: list[str] = []
    stats: dict[str, int] = {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if set(data) != TOP_KEYS:
        problems.append(f"top-level keys differ: missing {TOP_KEYS - set(data)}, extra {set(data) - TOP_KEYS}")
    if data.get("format") != FORMAT:
        problems.append(f"format must be {FORMAT}")
    if not URN_RE.match(data.get("urn", "")):
        problems.append(f"bad urn {data.get('urn')!r}")
    if data.get("binding") not in BINDINGS:
        problems.append(f"bad binding {data.get('binding')!r}")
    for key in ("name", "short_name", "version", "description", "source_url", "licence_notice"):
        if not data.get(key):
            problems.append(f"empty {key}")

    requirements = data.get("requirements", [])
    codes = [r.get("code") for r in requirements]
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            problems.append(f"duplicate code {code}")
        seen.add(code)
    parents = {r.get("code"): r.get("parent") for r in requirements}
    contexts = sample_contexts()
    results = []

    for r in requirements:
        code = r.get("code")
        where = f"{code}"
        if set(r) != REQ_KEYS:
            problems.append(f"{where}: keys differ: missing {REQ_KEYS - set(r)}, extra {set(r) - REQ_KEYS}")
            continue
        stats[r["kind"]] = stats.get(r["kind"], 0) + 1
        if not isinstance(code, str) or not CODE_RE.match(code):
            problems.append(f"{where}: bad code")
        parent = r["parent"]
        if parent is not None and parent not in parents:
            problems.append(f"{where}: parent {parent} does not exist")
        # walk up to detect cycles
        node, hops = parent, 0
        while node is not None and hops <= len(requirements):
            node, hops = parents.get(node), hops + 1
        if hops > len(requirements):
            problems.append(f"{where}: parent cycle")
        if not isinstance(r["order"], int) or isinstance(r["order"], bool):
            problems.append(f"{where}: order must be an int")
        for key in ("title", "citation", "citation_url"):
            if not r[key]:
                problems.append(f"{where}: empty {key}")
        if not str(r["citation_url"]).startswith("https://"):
            problems.append(f"{where}: citation_url must be https")
        if r["severity"] not in SEVERITIES:
            problems.append(f"{where}: bad severity {r['severity']!r}")
        if r["kind"] not in KINDS:
            problems.append(f"{where}: bad kind {r['kind']!r}")
        for key in ("effective_from", "effective_until"):
            value = r[key]
            if value is None and key == "effective_until":
                continue
            try:
                if not DATE_RE.match(value):
                    raise ValueError
                dt.date.fromisoformat(value)
            except (TypeError, ValueError):
                problems.append(f"{where}: bad {key} {value!r}")
        if r["kind"] == "rule" and (not r["check"] or r["evidence"]):
            problems.append(f"{where}: a rule needs a check and no evidence text")
        if r["kind"] == "evidence" and (not r["evidence"] or r["check"]):
            problems.append(f"{where}: an evidence requirement needs evidence text and no check")
        if r["kind"] == "informative" and (r["check"] or r["evidence"]):
            problems.append(f"{where}: an informative requirement has neither check nor evidence")
        defaults = check_parameters(where, r["parameters"], problems)

        expressions = [("applies_when", r["applies_when"])]
        if r["check"]:
            expressions.append(("check", r["check"]))
        row = [code]
        for label, expr in expressions:
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"{where}: empty {label}")
                continue
            try:
                program = cel.compile(expr)
            except Exception as exc:
                problems.append(f"{where}: {label} does not compile: {exc}")
                continue
            unknown_roots = set(program.references()["variables"]) - ROOTS
            macro_vars = set(re.findall(rf"\.(?:{MACROS})\(\s*(\w+)\s*,", expr))
            if unknown_roots - macro_vars:
                problems.append(f"{where}: {label} uses unknown variables {sorted(unknown_roots - macro_vars)}")
            problems.extend(f"{where}: {label}: {p}" for p in field_problems(expr, set(defaults)))
            for name, context in contexts.items():
                try:
                    value = program.execute({**context, "params": dict(defaults)})
                except Exception as exc:
                    problems.append(f"{where}: {label} fails on the {name} context: {exc}")
                    continue
                if not isinstance(value, bool):
                    problems.append(f"{where}: {label} gives {type(value).__name__}, not bool, on {name}")
                row.append(f"{label}[{name}]={value}")
        results.append(row)
    if verbose:
        for row in results:
            if len(row) > 3:  # rules only
                print("   ", "  ".join(row))
    return problems, {"requirements": len(requirements), **stats}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true", help="print each rule's results")
    args = parser.parse_args()
    files = args.files or sorted(HERE.glob("*.json"))
    failed = False
    for path in files:
        problems, stats = validate(path, args.verbose)
        status = "OK" if not problems else f"{len(problems)} problem(s)"
        print(f"{path.name}: {status} {stats}")
        for problem in problems:
            print(f"  - {problem}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
