"""CEL rules: validation for authors and evaluation for the checker, against one documented context.

The context (docs/rule-context.md, schema version 1) is built here and nowhere else, so what authors are
told they may use is what rules see. The Rust-backed `cel` package compiles and evaluates but has no type
checker, so validation combines three checks: the compiler for syntax (with line and column), a scan of
dotted references against the schema for unknown fields (it also catches those behind a short-circuit),
and evaluation against typed sample contexts for type errors and a non-boolean result.
"""

import datetime
import re
from dataclasses import dataclass
from functools import lru_cache

import cel
from django.utils.translation import gettext as _

from registry.choices import (
    DataCategory,
    DecisionRole,
    HumanOversight,
    LifecycleStage,
    OperatorRole,
    RegistrationStatus,
    RiskTier,
    Technique,
)

CONTEXT_SCHEMA_VERSION = 1

TEXT_FIELDS = [
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

# field -> (CEL type, allowed values or None, description)
SYSTEM_SCHEMA: dict[str, tuple[str, list | None, str]] = {
    **{name: ("string", None, "free text, empty when blank") for name in TEXT_FIELDS},
    "operator_role": ("string", ["", *OperatorRole.values], "EU AI Act operator role"),
    "techniques": ("list(string)", Technique.values, "techniques used"),
    "data_categories": ("list(string)", DataCategory.values, "categories of data processed"),
    "decision_role": ("string", ["", *DecisionRole.values], "how far the output decides"),
    "human_oversight": ("string", ["", *HumanOversight.values], "kind of human oversight"),
    "lifecycle_stage": ("string", LifecycleStage.values, "lifecycle stage"),
    "start_date": ("string", None, "YYYY-MM-DD or empty"),
    "end_date": ("string", None, "YYYY-MM-DD or empty"),
    "organization": ("string", None, "owning organization's slug"),
}
REGISTRATION_SCHEMA: dict[str, tuple[str, list | None, str]] = {
    "id": ("int", None, "registration id"),
    "status": ("string", RegistrationStatus.values, "workflow status"),
    "risk_tier": ("string", RiskTier.values, "EU AI Act risk tier"),
    "community": ("string", None, "community slug"),
    "communities": ("list(string)", None, "community slugs from the root down"),
    "deployment_context": ("string", None, "where and how it is used here"),
    "deployment_date": ("string", None, "YYYY-MM-DD or empty"),
    "age_days": ("int", None, "days since the registration was created"),
}
ASSESSMENT_SCHEMA: dict[str, tuple[str, list | None, str]] = {
    "instrument": ("string", None, "instrument slug, e.g. canada-aia, eu-ai-act-risk, fria"),
    "version": ("string", None, "instrument version"),
    "status": ("string", ["draft", "submitted", "accepted", "returned"], "assessment status"),
    "tier": ("string", ["", *[t for t in RiskTier.values if t != RiskTier.UNASSESSED]], "EU AI Act tier"),
    "impact_level": ("int", None, "Canada AIA impact level 1-4, else 0"),
    "age_days": ("int", None, "days since submitted"),
    "valid": ("bool", None, "accepted and within its validity"),
}
EVIDENCE_SCHEMA: dict[str, tuple[str, list | None, str]] = {
    "requirement": ("string", None, "requirement code"),
    "framework": ("string", None, "framework URN"),
    "status": ("string", ["submitted", "accepted", "rejected"], "review status"),
    "age_days": ("int", None, "days since submitted"),
    "valid": ("bool", None, "accepted and not expired"),
}
MAPS = {"system": SYSTEM_SCHEMA, "registration": REGISTRATION_SCHEMA}
LISTS = {"assessments": ASSESSMENT_SCHEMA, "evidence": EVIDENCE_SCHEMA}
VARIABLES = ["system", "registration", "assessments", "evidence", "params", "today"]
MACROS = ("all", "exists", "exists_one", "map", "filter")


def context_schema() -> dict:
    """The documented context, as served at /api/v1/rules/context-schema/."""

    def describe(schema):
        return {
            name: {"type": kind, **({"values": values} if values else {}), "description": text}
            for name, (kind, values, text) in schema.items()
        }

    return {
        "version": CONTEXT_SCHEMA_VERSION,
        "language": "CEL (Common Expression Language), https://cel.dev",
        "variables": {
            "system": {"type": "map", "fields": describe(SYSTEM_SCHEMA)},
            "registration": {"type": "map", "fields": describe(REGISTRATION_SCHEMA)},
            "assessments": {"type": "list(map)", "fields": describe(ASSESSMENT_SCHEMA)},
            "evidence": {"type": "list(map)", "fields": describe(EVIDENCE_SCHEMA)},
            "params": {"type": "map", "description": "the requirement's parameters after every tightening"},
            "today": {"type": "timestamp", "description": "the evaluation date, 00:00 UTC"},
        },
        "examples": [
            'registration.risk_tier == "high" && system.operator_role in ["deployer", "provider_and_deployer"]',
            'assessments.exists(a, a.instrument == "fria" && a.valid && a.age_days <= params.max_age_days)',
            "size(system.human_oversight_description) > 0",
        ],
    }


@dataclass(frozen=True)
class RuleProblem:
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self):
        if self.line is not None:
            return _("line %(line)d, column %(column)d: %(message)s") % {
                "line": self.line,
                "column": self.column,
                "message": self.message,
            }
        return self.message


class RuleError(Exception):
    """A rule failed to evaluate on real data (recorded as an `error` result, never a crash)."""


@lru_cache(maxsize=4096)
def compile_rule(source: str):
    return cel.compile(source)


_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")
_STRING_LITERAL = re.compile(r"(?:r|R)?(\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*')")
_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\.([A-Za-z_]\w*)(?!\s*\()")
_BOUND = re.compile(r"\.(?:{})\(\s*([A-Za-z_]\w*)\s*,".format("|".join(MACROS)))


def _position_of(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _syntax_problem(error: Exception) -> RuleProblem:
    match = _POSITION.search(str(error))
    if match:
        detail = re.sub(r"^Syntax error:\s*", "", match.group(3))
        return RuleProblem(_("syntax error: %(detail)s") % {"detail": detail}, int(match.group(1)), int(match.group(2)))
    return RuleProblem(_("syntax error: %(detail)s") % {"detail": str(error).splitlines()[0]})


def _reference_problems(source: str, parameter_names: set[str]) -> list[RuleProblem]:
    """Unknown variables and unknown fields, found without evaluating (so short-circuits hide nothing)."""
    blanked = _STRING_LITERAL.sub(lambda m: " " * len(m.group(0)), source)
    bound = set(_BOUND.findall(blanked))
    problems = []
    for identifier in set(compile_rule(source).variables()) - set(VARIABLES) - bound:
        offset = re.search(rf"(?<![\w.]){re.escape(identifier)}(?!\w)", blanked)
        line, column = _position_of(source, offset.start()) if offset else (None, None)
        problems.append(
            RuleProblem(
                _("unknown variable '%(name)s'; rules can use %(known)s")
                % {"name": identifier, "known": ", ".join(VARIABLES)},
                line,
                column,
            )
        )
    for match in _DOTTED.finditer(blanked):
        variable, field = match.groups()
        if variable in MAPS:
            known = MAPS[variable]
        elif variable == "params":
            known = parameter_names
        else:
            continue
        if field not in known:
            line, column = _position_of(source, match.start(2))
            problems.append(
                RuleProblem(
                    _("'%(variable)s' has no field '%(field)s'%(hint)s")
                    % {
                        "variable": variable,
                        "field": field,
                        "hint": (
                            _("; declare it as a parameter") if variable == "params" else _("; see the context schema")
                        ),
                    },
                    line,
                    column,
                )
            )
    return problems


def _sample_value(kind: str, values: list | None, full: bool):
    if kind == "int":
        return 30 if full else 0
    if kind == "bool":
        return full
    if kind == "list(string)":
        return list(values[:2]) if full and values else (["sample"] if full else [])
    if values:
        return values[-1] if full else values[0]
    return "sample text" if full else ""


def sample_contexts(params: dict) -> list[dict]:
    """An 'empty' and a 'full' context with every documented field, for type-checking rules."""
    contexts = []
    for full in (False, True):

        def build(schema, full=full):
            return {name: _sample_value(kind, values, full) for name, (kind, values, _text) in schema.items()}

        contexts.append(
            {
                "system": build(SYSTEM_SCHEMA),
                "registration": build(REGISTRATION_SCHEMA),
                "assessments": [build(ASSESSMENT_SCHEMA)] if full else [],
                "evidence": [build(EVIDENCE_SCHEMA)] if full else [],
                "params": params,
                "today": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
            }
        )
    return contexts


def validate_rule(source: str, *, parameters: dict | None = None) -> list[RuleProblem]:
    """Everything wrong with a rule, for the author: syntax, unknown names, type errors, non-boolean result."""
    source = source or ""
    if not source.strip():
        return [RuleProblem(_("the rule is empty; write a CEL expression that is true or false"))]
    parameters = parameters or {}
    try:
        program = compile_rule(source)
    except Exception as error:  # the binding raises ValueError for parse errors
        return [_syntax_problem(error)]
    problems = _reference_problems(source, set(parameters))
    if problems:
        return problems
    for context in sample_contexts(parameters):
        try:
            result = program.execute(context)
        except Exception as error:
            message = str(error).split(". ")[0]
            if isinstance(error, KeyError):
                message = _("no such field %(field)s") % {"field": error}
            return [RuleProblem(_("type error: %(detail)s") % {"detail": message})]
        if not isinstance(result, bool):
            return [
                RuleProblem(_("the rule must be true or false, but gives a %(type)s") % {"type": type(result).__name__})
            ]
    return []


def evaluate(source: str, context) -> bool:
    """Evaluate a validated rule on real data; failures become RuleError with a readable message."""
    try:
        result = compile_rule(source).execute(context)
    except Exception as error:
        raise RuleError(str(error).splitlines()[0][:500]) from error
    if not isinstance(result, bool):
        raise RuleError(_("the rule gave %(type)s, not true or false") % {"type": type(result).__name__})
    return result
