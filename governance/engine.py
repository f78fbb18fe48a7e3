"""The batch evaluator behind compliance runs: many registrations against shared rule sets, cheaply.

Evaluation must not be what makes a sweep slow (issue 5, "Performance"). A rule's outcome depends only on
the values of the context paths it reads, so each rule is compiled once and its outcome is memoized by
those values; a registration's whole rule-based result is memoized by the values of every path its rule
set reads. 100,000 registrations × 100 requirements become a few thousand real CEL evaluations and one
dictionary lookup per registration; evidence and waivers, which differ per registration, are laid over
the memoized result position by position. The outcomes themselves come from `governance.evaluation`, the
same code the impact preview uses.

Data comes in with a few `values_list` queries per chunk, never model instances per registration.
"""

import datetime
import hashlib
import json
import operator
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import TextField
from django.db.models.functions import Cast

from governance.choices import EvidenceStatus, RequirementKind, ResultCode, Severity
from governance.evaluation import LIVE_EXCLUDED, Check, apply_waiver_and_evidence, evidence_code, judge_rules
from governance.models import Evidence, RiskAssessment, RuleSetItem, Waiver
from governance.rules import _DOTTED, _STRING_LITERAL, MAPS, TEXT_FIELDS, compile_rule
from registry.models import Community, Registration

# Days an organization has to fix a failing check, unless the requirement sets `finding_due_days`.
DEFAULT_DUE_DAYS = {Severity.CRITICAL: 14, Severity.HIGH: 30, Severity.MEDIUM: 60, Severity.LOW: 90}
DUE_DAYS_PARAMETER = "finding_due_days"

# Memos are per process and per immutable rule set; past this many entries a memo starts over. Whole-
# registration memos keep every value a rule set reads (long texts included), so they stay smaller.
MEMO_LIMIT = 200_000
REGISTRATION_MEMO_LIMIT = 10_000
LONG_TEXT = 64  # longer texts are memo keys by digest

WHOLE = None  # a path (variable, WHOLE) means the rule reads the whole variable, not named fields


def due_days(severity: str, params: dict) -> int:
    """Remediation period of a finding: the requirement's `finding_due_days` parameter, else by severity."""
    value = params.get(DUE_DAYS_PARAMETER)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return DEFAULT_DUE_DAYS.get(severity, DEFAULT_DUE_DAYS[Severity.MEDIUM])


def rule_reads(source: str) -> frozenset:
    """The context paths a rule reads, as (variable, field) or (variable, WHOLE), found by the scan rules.py
    uses to validate references. A rule that does not compile reads nothing: its outcome is always `X`."""
    try:
        variables = set(compile_rule(source).variables())
    except Exception:
        return frozenset()
    blanked = _STRING_LITERAL.sub(lambda m: " " * len(m.group(0)), source)
    paths = {(variable, name) for variable, name in _DOTTED.findall(blanked) if variable in MAPS}
    for variable in variables & set(MAPS):
        if re.search(rf"(?<![\w.]){variable}(?!\s*\.\s*[A-Za-z_])", blanked):
            paths.add((variable, WHOLE))
    for variable in variables & {"assessments", "evidence", "today"}:
        paths.add((variable, WHOLE))
    return frozenset(paths)


def _freeze(value):
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _digest(text: str) -> tuple:
    """A memo key for a long text (descriptions are often unique): 16 bytes instead of the text itself."""
    return ("blake2b", hashlib.blake2b(text.encode(), digest_size=16).digest())


def _getter(paths: tuple):
    """The memo key of `paths` from a registration's flat values: a C-speed itemgetter."""
    if not paths:
        return lambda flat: ()
    return operator.itemgetter(*paths)


@dataclass
class Item:
    position: int
    framework_id: int
    requirement: object
    code: str
    severity: str
    params: dict
    reads: tuple

    @property
    def kind(self) -> str:
        return self.requirement.kind

    @property
    def due_days(self) -> int:
        return due_days(self.severity, self.params)

    def scoped(self, context: dict) -> dict:
        """Only what the rule reads, plus `params`: converting a small context is what makes CEL fast."""
        scoped = {"params": self.params}
        whole = {variable for variable, name in self.reads if name is WHOLE}
        for variable in whole:
            scoped[variable] = context[variable]
        for variable, name in self.reads:
            if variable not in whole and name in context[variable]:
                scoped.setdefault(variable, {})[name] = context[variable][name]
        for variable in MAPS:
            scoped.setdefault(variable, {})
        return scoped

    def evaluate(self, context: dict) -> Check:
        return judge_rules(self.requirement, self.scoped(context))


@dataclass
class Group:
    """Items reading the same paths share one memo: one lookup judges them all."""

    indexes: tuple
    key: object
    memo: dict = field(default_factory=dict)


@dataclass(eq=False)
class Base:
    """A rule set's result for one fingerprint of context values, before evidence and waivers."""

    checks: list
    codes: str
    errors: dict
    overlays: dict = field(default_factory=dict)


@dataclass
class CompiledRuleSet:
    id: int
    items: list[Item]
    reads: tuple
    by_key: dict
    memo: dict = field(default_factory=dict)
    # Keyed by the raw database values of the columns behind `reads`, so a registration seen before costs
    # one itemgetter and one lookup (rule sets reading whole variables, age or lists use `memo` only).
    row_memo: dict = field(default_factory=dict)

    def __post_init__(self):
        self.key = _getter(self.reads)
        groups = defaultdict(list)
        for index, item in enumerate(self.items):
            groups[item.reads].append(index)
        self.groups = [Group(tuple(indexes), _getter(reads)) for reads, indexes in groups.items()]

    def base(self, flat: dict, context: dict) -> Base:
        key = self.key(flat)
        base = self.memo.get(key)
        if base is None:
            if len(self.memo) > REGISTRATION_MEMO_LIMIT:
                self.memo.clear()
            checks = [None] * len(self.items)
            items = self.items
            for group in self.groups:
                group_key = group.key(flat)
                found = group.memo.get(group_key)
                if found is None:
                    if len(group.memo) > MEMO_LIMIT:
                        group.memo.clear()
                    found = group.memo[group_key] = tuple(items[i].evaluate(context) for i in group.indexes)
                for index, check in zip(group.indexes, found, strict=True):
                    checks[index] = check
            codes = "".join(c.code for c in checks)
            base = self.memo[key] = Base(checks, codes, _errors(checks, codes))
        return base

    def overlay(self, base: Base, *, waived: set, evidence: dict) -> tuple[str, dict]:
        """(codes, errors) of one registration: the memoized base with its own waivers and evidence laid over."""
        touched = {}
        for key in waived:
            index = self.by_key.get(key)
            if index is not None:
                touched[index] = True
        for key in evidence:
            index = self.by_key.get(key)
            if index is not None and self.items[index].kind == RequirementKind.EVIDENCE:
                touched.setdefault(index, False)
        if not touched:
            return base.codes, base.errors
        # Registrations with the same base and the same waivers and evidence states share the result.
        state = tuple(
            sorted(
                (index, is_waived, evidence.get((self.items[index].framework_id, self.items[index].code)))
                for index, is_waived in touched.items()
            )
        )
        result = base.overlays.get(state)
        if result is None:
            checks = list(base.checks)
            for index, is_waived, code in state:
                checks[index] = apply_waiver_and_evidence(
                    checks[index], self.items[index].kind, waived=is_waived, evidence=code
                )
            codes = "".join(c.code for c in checks)
            result = base.overlays[state] = (codes, _errors(checks, codes))
        return result


def _errors(checks: list[Check], codes: str) -> dict:
    if ResultCode.ERROR not in codes:
        return {}
    return {str(position): c.error for position, c in enumerate(checks, start=1) if c.code == ResultCode.ERROR}


_RULESETS: dict[int, CompiledRuleSet] = {}


def load_ruleset(ruleset_id: int) -> CompiledRuleSet:
    """A rule set compiled once per process: rule sets never change, so neither do their memos."""
    compiled = _RULESETS.get(ruleset_id)
    if compiled is not None:
        return compiled
    items = []
    for row in RuleSetItem.objects.filter(ruleset_id=ruleset_id).select_related("requirement").order_by("position"):
        requirement = row.requirement
        reads = rule_reads(requirement.applies_when or "true")
        if requirement.kind == RequirementKind.RULE:
            reads |= rule_reads(requirement.check_rule)
        items.append(
            Item(
                position=row.position,
                framework_id=row.framework_id,
                requirement=requirement,
                code=row.requirement_code,
                severity=row.severity,
                params=row.params,
                reads=tuple(sorted(reads, key=repr)),
            )
        )
    reads = tuple(sorted({path for item in items for path in item.reads}, key=repr))
    by_key = {(item.framework_id, item.code): index for index, item in enumerate(items)}
    compiled = _RULESETS[ruleset_id] = CompiledRuleSet(ruleset_id, items, reads, by_key)
    return compiled


# Context field -> (column, conversion). The context is the one documented in docs/rule-context.md and
# built for single registrations by governance.evaluation.build_contexts; tests keep the two equal.
def _text(value):
    return value or ""


def _list(value):
    return json.loads(value) if value else []


def _iso(value):
    return value.isoformat() if value else ""


def _same(value):
    return value


SYSTEM_COLUMNS = {
    **{name: (f"system__{name}", _text) for name in TEXT_FIELDS},
    "operator_role": ("system__operator_role", _text),
    "techniques": (Cast("system__techniques", TextField()), _list),
    "data_categories": (Cast("system__data_categories", TextField()), _list),
    "decision_role": ("system__decision_role", _text),
    "human_oversight": ("system__human_oversight", _text),
    "lifecycle_stage": ("system__lifecycle_stage", _same),
    "start_date": ("system__start_date", _iso),
    "end_date": ("system__end_date", _iso),
    "organization": ("system__organization__slug", _same),
}
REGISTRATION_COLUMNS = {
    "status": ("status", _same),
    "risk_tier": ("risk_tier", _same),
    "deployment_context": ("deployment_context", _text),
    "deployment_date": ("deployment_date", _iso),
    "age_days": ("created_at", None),
}


@dataclass
class ChunkRow:
    """One registration of a chunk, as the writer needs it."""

    id: int
    community_id: int
    organization_id: int
    compliance_status: str
    ruleset_id: int
    codes: str
    errors: dict


def _age_days(moment, today: datetime.date) -> int:
    return max((today - moment.date()).days, 0) if moment else 0


def live_registrations():
    return Registration.objects.exclude(status__in=LIVE_EXCLUDED)


def evaluate_chunk(
    registrations, *, rulesets: dict[int, int], today: datetime.date, ruleset_for=None
) -> tuple[list[ChunkRow], int]:
    """Judge every registration of `registrations` (a queryset of live ones); returns rows and the count of
    requirement checks made. `rulesets` maps community id to rule set id; `ruleset_for(community_id)`
    supplies a missing one."""
    compiled = {community_id: load_ruleset(ruleset_id) for community_id, ruleset_id in rulesets.items()}
    for community_id in set(registrations.values_list("community_id", flat=True).distinct()) - set(compiled):
        compiled[community_id] = load_ruleset(ruleset_for(community_id))
    # Which context fields any rule reads decides which columns are loaded.
    reads = {path for ruleset in compiled.values() for path in ruleset.reads}
    wants = {variable for variable, _name in reads}
    system_fields = _fields(reads, "system", SYSTEM_COLUMNS)
    registration_fields = _fields(reads, "registration", REGISTRATION_COLUMNS)
    columns = ["id", "community_id", "organization_id", "compliance_status"]
    columns += [SYSTEM_COLUMNS[name][0] for name in system_fields]
    columns += [REGISTRATION_COLUMNS[name][0] for name in registration_fields]
    rows = list(registrations.order_by("id").values_list(*columns))
    if not rows:
        return [], 0
    first_id, last_id = rows[0][0], rows[-1][0]
    in_range = {"registration_id__gte": first_id, "registration_id__lte": last_id}

    waived = defaultdict(set)
    for registration_id, framework_id, code in Waiver.objects.filter(
        **in_range, revoked_at__isnull=True, expires_on__gt=today
    ).values_list("registration_id", "framework_id", "requirement_code"):
        waived[registration_id].add((framework_id, code))
    evidence_entries = defaultdict(lambda: defaultdict(list))
    evidence_lists = defaultdict(list)
    evidence = Evidence.objects.filter(**in_range)
    if "evidence" in wants:  # rules read the list itself: the documented entries, in the documented order
        for registration_id, framework_id, urn, code, status, submitted_at, expires_on in evidence.values_list(
            "registration_id",
            "framework_id",
            "framework__urn",
            "requirement_code",
            "status",
            "submitted_at",
            "expires_on",
        ):
            entry = {
                "requirement": code,
                "framework": urn,
                "status": status,
                "age_days": _age_days(submitted_at, today),
                "valid": status == EvidenceStatus.ACCEPTED and (expires_on is None or today < expires_on),
            }
            evidence_entries[registration_id][(framework_id, code)].append(entry)
            evidence_lists[registration_id].append(entry)
    else:  # only evidence requirements look: their state needs status and validity
        for registration_id, framework_id, code, status, expires_on in evidence.order_by().values_list(
            "registration_id", "framework_id", "requirement_code", "status", "expires_on"
        ):
            valid = status == EvidenceStatus.ACCEPTED and (expires_on is None or today < expires_on)
            evidence_entries[registration_id][(framework_id, code)].append({"status": status, "valid": valid})
    assessment_lists = defaultdict(list)
    if "assessments" in wants:
        for registration_id, instrument, version, status, result, submitted_at, valid_until in (
            RiskAssessment.objects.filter(**in_range)
            .order_by("id")
            .values_list("registration_id", "instrument", "version", "status", "result", "submitted_at", "valid_until")
        ):
            assessment_lists[registration_id].append(
                {
                    "instrument": instrument,
                    "version": version,
                    "status": status,
                    "tier": (result or {}).get("tier", ""),
                    "impact_level": (result or {}).get("impact_level", 0),
                    "age_days": _age_days(submitted_at, today),
                    "valid": status == "accepted" and valid_until is not None and today < valid_until,
                }
            )

    communities = {}
    if "registration" in wants:
        here = list(Community.objects.filter(pk__in={row[1] for row in rows}).only("pk", "path"))
        lineages = {community.pk: [*community.ancestor_ids(), community.pk] for community in here}
        # Only the chunk's communities and their ancestors, not every community's slug.
        wanted = {pk for lineage in lineages.values() for pk in lineage}
        slugs = dict(Community.objects.filter(pk__in=wanted).values_list("pk", "slug"))
        communities = {pk: (slugs[pk], [slugs[i] for i in lineage]) for pk, lineage in lineages.items()}
    midnight = datetime.datetime.combine(today, datetime.time.min, tzinfo=datetime.UTC)

    union = sorted(reads, key=repr)
    system_at = 4
    registration_at = system_at + len(system_fields)
    column_of = {("registration", "id"): 0, ("registration", "community"): 1, ("registration", "communities"): 1}
    column_of.update({("system", name): system_at + n for n, name in enumerate(system_fields)})
    column_of.update(
        {
            ("registration", name): registration_at + n
            for n, name in enumerate(registration_fields)
            if name != "age_days"
        }
    )
    row_keys = {
        ruleset.id: _getter(tuple(column_of[path] for path in ruleset.reads))
        for ruleset in compiled.values()
        if all(path in column_of for path in ruleset.reads)
    }

    def context_of(row) -> dict:
        registration_id, community_id = row[0], row[1]
        system = {name: SYSTEM_COLUMNS[name][1](row[system_at + n]) for n, name in enumerate(system_fields)}
        registration = {}
        for n, name in enumerate(registration_fields):
            value = row[registration_at + n]
            registration[name] = _age_days(value, today) if name == "age_days" else REGISTRATION_COLUMNS[name][1](value)
        registration["id"] = registration_id
        if community_id in communities:
            registration["community"], registration["communities"] = communities[community_id]
        return {
            "system": system,
            "registration": registration,
            "assessments": assessment_lists.get(registration_id, []),
            "evidence": evidence_lists.get(registration_id, []),
            "today": midnight,
        }

    def base_of(ruleset, context):
        flat = {}
        for path in union:
            variable, name = path
            if name is WHOLE:
                flat[path] = _freeze(context[variable])
            else:
                value = context[variable].get(name, KeyError)
                if type(value) is list:
                    value = tuple(value)
                elif type(value) is str and len(value) > LONG_TEXT:
                    value = _digest(value)
                flat[path] = value
        return ruleset.base(flat, context)

    results = []
    evaluations = 0
    for row in rows:
        registration_id, community_id = row[0], row[1]
        ruleset = compiled[community_id]
        row_key = row_keys.get(ruleset.id)
        if row_key is None:
            base = base_of(ruleset, context_of(row))
        else:
            key = row_key(row)
            base = ruleset.row_memo.get(key)
            if base is None:
                if len(ruleset.row_memo) > REGISTRATION_MEMO_LIMIT:
                    ruleset.row_memo.clear()
                base = ruleset.row_memo[key] = base_of(ruleset, context_of(row))
        entries = evidence_entries.get(registration_id)
        waivers = waived.get(registration_id)
        if entries is None and waivers is None:
            codes, errors = base.codes, base.errors
        else:
            evidence = {}
            for key, found in (entries or {}).items():
                code = evidence_code(found)
                if code:
                    evidence[key] = code
            codes, errors = ruleset.overlay(base, waived=waivers or (), evidence=evidence)
        evaluations += len(codes)
        results.append(ChunkRow(registration_id, community_id, row[2], row[3], ruleset.id, codes, errors))
    return results, evaluations


def _fields(reads: set, variable: str, columns: dict) -> list[str]:
    if (variable, WHOLE) in reads:
        return list(columns)
    return sorted({name for v, name in reads if v == variable and name in columns})
