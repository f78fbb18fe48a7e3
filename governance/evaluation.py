"""Evaluate registrations against their effective requirements.

One evaluator for everything that judges compliance: the impact preview before publishing and the
compliance workers use the same functions, so a preview's numbers are what the workers will find.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.utils.translation import gettext as _

from governance.choices import RESULT_CODE_STATUS, EvidenceStatus, RequirementKind, ResultCode, ResultStatus
from governance.models import Evidence, FrameworkVersion, RiskAssessment, Waiver
from governance.rules import TEXT_FIELDS, RuleError, evaluate
from governance.selectors import EffectiveRequirement, effective_requirements
from registry.choices import RegistrationStatus
from registry.models import Community, Registration

# Drafts are not in any register yet, and rejected or retired ones have left it: none is judged.
LIVE_EXCLUDED = [RegistrationStatus.DRAFT, RegistrationStatus.RETIRED, RegistrationStatus.REJECTED]


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str


def _date(value) -> str:
    return value.isoformat() if value else ""


def _age_days(moment, today: datetime.date) -> int:
    return max((today - moment.date()).days, 0) if moment else 0


def system_facts(system) -> dict:
    facts = {name: getattr(system, name) or "" for name in TEXT_FIELDS}
    facts.update(
        operator_role=system.operator_role or "",
        techniques=list(system.techniques or []),
        data_categories=list(system.data_categories or []),
        decision_role=system.decision_role or "",
        human_oversight=system.human_oversight or "",
        lifecycle_stage=system.lifecycle_stage,
        start_date=_date(system.start_date),
        end_date=_date(system.end_date),
        organization=system.organization.slug,
    )
    return facts


def build_contexts(registrations: list[Registration], *, on: datetime.date) -> dict[int, dict]:
    """Rule contexts (without `params`) for many registrations, in a constant number of queries."""
    ids = [r.pk for r in registrations]
    slugs = dict(Community.objects.values_list("pk", "slug"))
    evidence_by_registration = defaultdict(list)
    for item in Evidence.objects.filter(registration_id__in=ids).select_related("framework"):
        evidence_by_registration[item.registration_id].append(
            {
                "requirement": item.requirement_code,
                "framework": item.framework.urn,
                "status": item.status,
                "age_days": _age_days(item.submitted_at, on),
                "valid": item.is_valid_on(on),
            }
        )
    assessments_by_registration = defaultdict(list)
    for item in RiskAssessment.objects.filter(registration_id__in=ids).order_by("id"):
        assessments_by_registration[item.registration_id].append(
            {
                "instrument": item.instrument,
                "version": item.version,
                "status": item.status,
                "tier": item.result.get("tier", ""),
                "impact_level": item.result.get("impact_level", 0),
                "age_days": _age_days(item.submitted_at, on),
                "valid": item.is_valid_on(on),
            }
        )
    today = datetime.datetime.combine(on, datetime.time.min, tzinfo=datetime.UTC)
    contexts = {}
    for registration in registrations:
        community = registration.community
        contexts[registration.pk] = {
            "system": system_facts(registration.system),
            "registration": {
                "id": registration.pk,
                "status": registration.status,
                "risk_tier": registration.risk_tier,
                "community": community.slug,
                "communities": [slugs[pk] for pk in [*community.ancestor_ids(), community.pk]],
                "deployment_context": registration.deployment_context or "",
                "deployment_date": _date(registration.deployment_date),
                "age_days": _age_days(registration.created_at, on),
            },
            "assessments": assessments_by_registration[registration.pk],
            "evidence": evidence_by_registration[registration.pk],
            "today": today,
        }
    return contexts


def valid_waivers(registration_ids, *, on: datetime.date) -> set[tuple[int, int, str]]:
    rows = Waiver.objects.filter(registration_id__in=registration_ids, revoked_at__isnull=True, expires_on__gt=on)
    return set(rows.values_list("registration_id", "framework_id", "requirement_code"))


@dataclass(frozen=True)
class Check:
    """A check's `ResultCode`, the evaluation error behind an `X`, and whether the requirement applied.

    `applies` is False for `N` and for an `X` from `applies_when`: waivers and evidence cannot change those.
    """

    code: str
    error: str = ""
    applies: bool = True


def result_reason(code: str, requirement=None, error: str = "") -> str:
    """The human-readable reason of a result code, in the reader's language (one wording for every reader)."""
    if code == ResultCode.ERROR:
        return error or str(ResultCode.ERROR.label)
    if requirement is not None:
        if code == ResultCode.NOT_APPLICABLE:
            return _("Does not apply: %(rule)s is false.") % {"rule": requirement.applies_when}
        if code == ResultCode.FAILED:
            return _("Check failed: %(rule)s") % {"rule": requirement.check_rule}
        if code == ResultCode.EVIDENCE_NEEDED:
            return _("Evidence needed: %(what)s") % {"what": requirement.evidence}
    return str(ResultCode(code).label)


def outcome_of(check: Check, requirement) -> Outcome:
    return Outcome(RESULT_CODE_STATUS[ResultCode(check.code)], result_reason(check.code, requirement, check.error))


def evidence_code(entries) -> str | None:
    """`V` if any matching evidence is valid, `R` if some awaits review, else None (evidence needed)."""
    if any(e["valid"] for e in entries):
        return ResultCode.EVIDENCE_ACCEPTED
    if any(e["status"] == EvidenceStatus.SUBMITTED for e in entries):
        return ResultCode.EVIDENCE_IN_REVIEW
    return None


def apply_waiver_and_evidence(check: Check, kind: str, *, waived: bool, evidence: str | None) -> Check:
    """What a valid waiver or the evidence on file makes of a check that applies."""
    if not check.applies:
        return check
    if waived:
        return Check(ResultCode.WAIVED)
    if kind == RequirementKind.EVIDENCE and evidence:
        return Check(evidence)
    return check


def judge_rules(requirement, scoped: dict) -> Check | None:
    """The part of a check that depends only on the rule context: `N`, `X`, `P`, `F` or `E` (no evidence yet).

    None for informative requirements, which are not checked.
    """
    if requirement.kind == RequirementKind.INFORMATIVE:
        return None
    try:
        applies = evaluate(requirement.applies_when or "true", scoped)
    except RuleError as error:
        message = _("applies_when could not be evaluated: %(error)s") % {"error": error}
        return Check(ResultCode.ERROR, message, applies=False)
    if not applies:
        return Check(ResultCode.NOT_APPLICABLE, applies=False)
    if requirement.kind == RequirementKind.RULE:
        try:
            met = evaluate(requirement.check_rule, scoped)
        except RuleError as error:
            return Check(ResultCode.ERROR, _("The check could not be evaluated: %(error)s") % {"error": error})
        return Check(ResultCode.PASSED if met else ResultCode.FAILED)
    return Check(ResultCode.EVIDENCE_NEEDED)


def judge(item: EffectiveRequirement, context: dict, *, waived: bool) -> Check | None:
    """One requirement's check for one registration; None for informative requirements."""
    requirement = item.requirement
    check = judge_rules(requirement, {**context, "params": item.params})
    if check is None:
        return None
    matching = [
        e for e in context["evidence"] if e["requirement"] == requirement.code and e["framework"] == item.framework.urn
    ]
    return apply_waiver_and_evidence(check, requirement.kind, waived=waived, evidence=evidence_code(matching))


def evaluate_requirement(item: EffectiveRequirement, context: dict, *, waived: bool) -> Outcome | None:
    """The outcome of one requirement for one registration; None for informative requirements."""
    check = judge(item, context, waived=waived)
    return None if check is None else outcome_of(check, item.requirement)


def evaluate_registrations(
    registrations, *, on: datetime.date | None = None, draft: FrameworkVersion | None = None
) -> dict[int, dict[tuple[str, str], tuple[EffectiveRequirement, Outcome]]]:
    """Every checked requirement's outcome for each registration, keyed by (framework URN, code)."""
    on = on or datetime.date.today()
    registrations = list(registrations.select_related("system__organization", "community"))
    contexts = build_contexts(registrations, on=on)
    waived = valid_waivers([r.pk for r in registrations], on=on)
    rule_sets: dict[int, list[EffectiveRequirement]] = {}
    results = {}
    for registration in registrations:
        community = registration.community
        if community.pk not in rule_sets:
            rule_sets[community.pk] = effective_requirements(community, on=on, draft=draft)
        outcomes = {}
        for item in rule_sets[community.pk]:
            is_waived = (registration.pk, item.framework.pk, item.requirement.code) in waived
            outcome = evaluate_requirement(item, contexts[registration.pk], waived=is_waived)
            if outcome is not None:
                outcomes[item.key] = (item, outcome)
        results[registration.pk] = outcomes
    return results


def impact_preview(version: FrameworkVersion, *, on: datetime.date | None = None, limit: int = 100) -> dict:
    """What publishing a draft would do: per new or changed requirement, the registrations it newly fails.

    Compares the community's (and its descendants') live registrations evaluated under the rules in force
    with the same registrations evaluated as if the draft were published.
    """
    framework = version.framework
    registrations = Registration.objects.exclude(status__in=LIVE_EXCLUDED)
    if framework.community_id is not None:
        registrations = registrations.filter(community__path__startswith=framework.community.path)
    before = evaluate_registrations(registrations, on=on)
    after = evaluate_registrations(registrations, on=on, draft=version)
    newly_failing: dict[tuple[str, str], list[int]] = defaultdict(list)
    requirements: dict[tuple[str, str], EffectiveRequirement] = {}
    for registration_id, outcomes in after.items():
        for key, (item, outcome) in outcomes.items():
            previous = before.get(registration_id, {}).get(key)
            changed = previous is None or previous[0].params != item.params or _rule_changed(previous[0], item)
            if not changed:
                continue
            requirements[key] = item
            if outcome.status == ResultStatus.FAIL and (previous is None or previous[1].status != ResultStatus.FAIL):
                newly_failing[key].append(registration_id)
    rows = []
    for key, item in sorted(requirements.items()):
        failing = newly_failing.get(key, [])
        rows.append(
            {
                "framework": key[0],
                "code": key[1],
                "title": item.requirement.title,
                "params": item.params,
                "newly_failing": len(failing),
                "registrations": failing[:limit],
            }
        )
    return {
        "version": version.pk,
        "evaluated_registrations": len(after),
        "requirements": rows,
        "newly_failing_registrations": len({rid for ids in newly_failing.values() for rid in ids}),
    }


def _rule_changed(old: EffectiveRequirement, new: EffectiveRequirement) -> bool:
    a, b = old.requirement, new.requirement
    return (a.applies_when, a.check_rule, a.kind, a.evidence) != (b.applies_when, b.check_rule, b.kind, b.evidence)
