"""The registration page: the record with its disclosure, versions, assessments, compliance and history.

Everything is read from the restricting querysets, so a hidden registration answers 404 and each section
shows only what the user may see (a regulator does not see an organization's draft assessments). The
number of queries is fixed: each section is one query, bounded by `SECTION_LIMIT` rows.
"""

import difflib
import json

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from governance.choices import ResultStatus, Severity
from governance.evaluation import result_reason
from governance.instruments import INSTRUMENTS
from governance.models import ComplianceResult, Evidence, Finding, RegistrationCompliance, RiskAssessment
from governance.models.compliance import RESULT_ID_FACTOR
from governance.services.assessments import summary as assessment_summary
from registry.choices import Disclosure, RegistrationStatus
from registry.models import AISystem, Registration
from registry.models.registrations import disclosure_level
from registry.models.systems import DISCLOSABLE_FIELDS
from registry.permissions import FILING_ROLES, Action, user_scope
from registry.selectors import registration_history
from registry.services.registrations import EDITABLE_STATES, version_snapshot
from registry.web.web_forms import (
    MULTI_CHOICE_FIELDS,
    AssessmentDecisionForm,
    EvidenceDecisionForm,
    RegistrationDecisionForm,
)

SECTION_LIMIT = 50
VERSION_LIMIT = 20
STATUS_ORDER = {ResultStatus.ERROR: 0, ResultStatus.FAIL: 1, ResultStatus.WAIVED: 2, ResultStatus.PASS: 3}
SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
SNAPSHOT_MODELS = {"registration": Registration, "system": AISystem}


def display_value(instance, name: str):
    """A field's value as a person reads it: choice labels, not stored codes."""
    field = instance._meta.get_field(name)
    value = getattr(instance, name)
    if name in MULTI_CHOICE_FIELDS:
        labels = dict(MULTI_CHOICE_FIELDS[name].choices)
        return ", ".join(str(labels.get(item, item)) for item in value or [])
    if field.choices:
        return getattr(instance, f"get_{name}_display")() if value else ""
    return value


def disclosure_counts(rows: list[dict]) -> list[tuple[str, str, int]]:
    counts = {}
    for row in rows:
        counts[row["level"]] = counts.get(row["level"], 0) + 1
    return [(level, label, counts[level]) for level, label in Disclosure.choices if level in counts]


def record_rows(registration: Registration) -> list[dict]:
    """Each disclosable field of the system with its value and this registration's disclosure of it."""
    system = registration.system
    levels = dict(Disclosure.choices)
    rows = []
    for name in DISCLOSABLE_FIELDS:
        level = disclosure_level(registration.disclosure, name)
        rows.append(
            {
                "name": name,
                "label": AISystem._meta.get_field(name).verbose_name,
                "value": display_value(system, name),
                "is_url": name.endswith("_url") or name == "website",
                "level": level,
                "level_label": levels[level],
                "reason": (registration.disclosure.get(name) or {}).get("reason", ""),
            }
        )
    return rows


def _flatten(snapshot: dict) -> dict:
    return {(section, name): value for section, values in snapshot.items() for name, value in values.items()}


def _label(section: str, name: str) -> str:
    model = SNAPSHOT_MODELS.get(section)
    try:
        label = str(model._meta.get_field(name).verbose_name) if model else name
    except Exception:  # a field that no longer exists in an old snapshot
        label = name
    return f"{label} ({_('registration') if section == 'registration' else _('system')})"


def _as_text(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """[(equal | delete | insert, words)] from difflib, word by word, for <del>/<ins> markup."""
    old, new = before.split(), after.split()
    segments = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            segments.append(("equal", " ".join(old[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("delete", " ".join(old[i1:i2])))
        if j2 > j1:
            segments.append(("insert", " ".join(new[j1:j2])))
    return segments


def snapshot_diff(before: dict, after: dict) -> list[dict]:
    """Field-by-field differences between two version snapshots, with a word diff of each change."""
    old, new = _flatten(before), _flatten(after)
    changes = []
    for key in sorted(set(old) | set(new), key=lambda k: (k[0] != "registration", k[1])):
        if old.get(key) == new.get(key):
            continue
        old_text, new_text = _as_text(old.get(key)), _as_text(new.get(key))
        changes.append(
            {
                "field": _label(*key),
                "before": old_text,
                "after": new_text,
                "segments": word_diff(old_text, new_text),
            }
        )
    return changes


def version_rows(registration: Registration) -> tuple[list[dict], list[dict] | None]:
    """The latest versions, newest first, each with its diff against the one before; and the changes not yet
    submitted (None unless the filer is editing a registration that has been submitted before)."""
    versions = list(registration.versions.select_related("created_by").order_by("-number")[: VERSION_LIMIT + 1])
    rows = []
    for index, version in enumerate(versions[:VERSION_LIMIT]):
        previous = versions[index + 1] if index + 1 < len(versions) else None
        rows.append(
            {
                "version": version,
                "previous": previous,
                "changes": snapshot_diff(previous.snapshot, version.snapshot) if previous else None,
            }
        )
    pending = None
    if versions and registration.status in EDITABLE_STATES:
        pending = snapshot_diff(versions[0].snapshot, version_snapshot(registration))
    return rows, pending


def compliance_rows(user, registration: Registration, scope) -> tuple[list[dict], object]:
    """Each requirement's current result with its reason and the community whose framework set it."""
    state = (
        RegistrationCompliance.objects.restrict(user, Action.VIEW, scope=scope)
        .filter(registration=registration)
        .only("errors", "checked_at", "registration_id")
        .first()
    )
    if state is None:
        return [], None
    results = (
        ComplianceResult.objects.restrict(user, Action.VIEW, scope=scope)
        .filter(registration=registration)
        .select_related("framework__community", "requirement")
        .order_by("id")
    )
    rows = []
    for result in results:
        position = result.id - registration.pk * RESULT_ID_FACTOR
        # The API's wording (governance.evaluation.result_reason): the failing rule, the evidence asked for.
        reason = result_reason(result.code, result.requirement, state.errors.get(str(position), ""))
        rows.append({"result": result, "reason": reason, "community": result.framework.community})
    rows.sort(
        key=lambda row: (STATUS_ORDER.get(row["result"].status, 4), SEVERITY_ORDER.get(row["result"].severity, 4))
    )
    return rows, state


def compliance_groups(rows: list[dict]) -> tuple[list[dict], list[tuple[str, str, int]]]:
    """Results grouped by framework, the frameworks with the most failures first, and overall counts.

    A registration is checked against a hundred requirements or more; grouping lets a regulator see at a
    glance which body of rules fails and open only that one.
    """
    labels = dict(ResultStatus.choices)
    groups: dict[int, dict] = {}
    totals: dict[str, int] = {}
    for row in rows:
        result = row["result"]
        group = groups.setdefault(
            result.framework_id,
            {"framework": result.framework, "community": row["community"], "rows": [], "counts": {}},
        )
        group["rows"].append(row)
        group["counts"][result.status] = group["counts"].get(result.status, 0) + 1
        totals[result.status] = totals.get(result.status, 0) + 1
    ordered = []
    for group in groups.values():
        group["failing"] = group["counts"].get(ResultStatus.FAIL, 0) + group["counts"].get(ResultStatus.ERROR, 0)
        group["count_list"] = [
            (status, labels[status], group["counts"][status])
            for status in ResultStatus.values
            if status in group["counts"]
        ]
        ordered.append(group)
    ordered.sort(key=lambda group: (-group["failing"], str(group["framework"].name)))
    summary = [(status, labels[status], totals[status]) for status in ResultStatus.values if status in totals]
    return ordered, summary


def assessment_rows(assessments) -> list[dict]:
    language = (get_language() or "en")[:2]
    rows = []
    for assessment in assessments:
        instrument = INSTRUMENTS.get(assessment.instrument)
        name = (instrument.name.get(language) or instrument.name.get("en")) if instrument else assessment.instrument
        headline = assessment_summary(assessment.instrument, assessment.result or {})
        rows.append({"assessment": assessment, "name": name, "summary": headline})
    return rows


def history_rows(events) -> list[dict]:
    return [
        {
            "event": event,
            "changes": [
                {"field": name, "before": _as_text(values[0]), "after": _as_text(values[1])}
                if isinstance(values, list | tuple) and len(values) == 2
                else {"field": name, "before": "", "after": _as_text(values)}
                for name, values in (event.changes or {}).items()
            ],
        }
        for event in events
    ]


def may_review(user, registration: Registration, scope) -> bool:
    """Whether the decision forms are shown: the user reviews this community and did not file it."""
    if not Registration.objects.restrict(user, Action.REVIEW, scope=scope).filter(pk=registration.pk).exists():
        return False
    return user.is_superuser or registration.organization_id not in scope.organizations(*FILING_ROLES)


def may_file(user, registration: Registration, scope) -> bool:
    """Whether the filer's buttons are shown; the services check again when they are used."""
    return user.is_superuser or registration.organization_id in scope.organizations(*FILING_ROLES)


def detail_context(request, registration: Registration, scope) -> dict:
    user = request.user
    can_review = may_review(user, registration, scope)
    can_file = may_file(user, registration, scope)
    versions, pending_changes = version_rows(registration)
    results, compliance_state = compliance_rows(user, registration, scope)
    groups, summary = compliance_groups(results)
    record = record_rows(registration)
    restricted = {"scope": scope}
    assessments = (
        RiskAssessment.objects.restrict(user, Action.VIEW, **restricted)
        .filter(registration=registration)
        .select_related("assessor", "reviewer")
        .order_by("-id")[:SECTION_LIMIT]
    )
    evidence = (
        Evidence.objects.restrict(user, Action.VIEW, **restricted)
        .filter(registration=registration)
        .select_related("framework", "submitted_by", "reviewer")
        .order_by("-id")[:SECTION_LIMIT]
    )
    findings = (
        Finding.objects.restrict(user, Action.VIEW, **restricted)
        .filter(registration=registration)
        .select_related("framework__community")
        .order_by("-status", "due_on", "id")
    )
    context = {
        "registration": registration,
        "system": registration.system,
        "record": record,
        "disclosure_counts": disclosure_counts(record),
        "versions": versions,
        "pending_changes": pending_changes,
        "compliance_groups": groups,
        "compliance_summary": summary,
        "compliance_state": compliance_state,
        "assessments": assessment_rows(assessments),
        "evidence_list": list(evidence),
        "findings": list(findings[:SECTION_LIMIT]),
        "findings_count": findings.count(),
        "history": history_rows(registration_history(registration=registration)[:SECTION_LIMIT]),
        "can_review": can_review,
        "can_file": can_file,
        "can_edit": can_file and registration.status in EDITABLE_STATES,
        "can_retire": registration.status == RegistrationStatus.APPROVED and (can_file or can_review),
        "layout": "detail",
        "decision_form": RegistrationDecisionForm() if can_review else None,
        "evidence_form": EvidenceDecisionForm() if can_review else None,
        "assessment_form": AssessmentDecisionForm() if can_review else None,
    }
    from registry.web.review import waiver_section_context  # review imports this module

    context.update(waiver_section_context(user, registration, scope, can_review=can_review))
    return context


@login_required
@require_GET
def registration_detail(request, pk: int):
    scope = user_scope(request.user)
    registration = get_object_or_404(
        Registration.objects.restrict(request.user, Action.VIEW, scope=scope).select_related(
            "system", "organization", "community", "reviewer", "created_by"
        ),
        pk=pk,
    )
    return render(request, "dashboard/detail/registration.html", detail_context(request, registration, scope))
