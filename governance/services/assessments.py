"""Risk assessments: filers answer an instrument for a registration; its regulators accept or return it.

Workflow: draft → submitted → accepted | returned; a returned assessment is edited and submitted again.
Every result is computed here from the answers by the instrument (governance/instruments), never taken
from the caller. Accepting an EU AI Act classification sets the registration's risk tier and records the
change in the registration's history.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from governance.instruments import INSTRUMENTS, Instrument, canada_aia, eu_ai_act
from governance.models import AssessmentStatus, RiskAssessment
from governance.selectors import effective_requirements
from registry.errors import InvalidTransition
from registry.models import OrganizationMembership, Registration
from registry.permissions import Action
from registry.services.audit import audit_record
from registry.services.common import locked_for

from .compliance import compliance_check_after_commit

UNKNOWN_INSTRUMENT = _("Unknown instrument; choose one of %(instruments)s.")
UNKNOWN_VERSION = _("%(instrument)s has no version %(version)s; choose one of %(versions)s.")
ANSWERS_NOT_OBJECT = _("Give the answers as an object mapping question names to answers.")
NOT_EDITABLE = _("An assessment can only be changed while it is a draft or returned for changes.")
NOT_IN_STATE = _("An assessment that is %(status)s cannot be %(action)s.")
INCOMPLETE = _("The assessment cannot be submitted until these are answered.")
COMMENT_REQUIRED = _("A comment is required to return an assessment.")
OWN_ASSESSMENT = _("You cannot review an assessment filed by an organization you belong to.")
TIER_SET_BY = _("Set by accepted EU AI Act classification #%(id)d.")
EDITABLE = {AssessmentStatus.DRAFT, AssessmentStatus.RETURNED}


def _audit(assessment: RiskAssessment, registration: Registration, *, actor, action: str, changes: dict, comment=""):
    audit_record(
        actor=actor,
        action=f"assessment.{action}",
        target=assessment,
        changes=changes,
        comment=comment,
        registration_id=registration.pk,
        system_id=registration.system_id,
        community_id=registration.community_id,
        organization_id=registration.organization_id,
    )


def summary(instrument: str, result: dict) -> dict:
    """The headline of a result, for the audit trail (a risk register's rows would bloat it)."""
    if instrument == canada_aia.SLUG:
        keys = ("raw_score", "mitigation_score", "current_score", "impact_level")
    elif instrument == eu_ai_act.SLUG:
        keys = ("tier",)
    else:
        keys = ("open_risks", "highest_inherent_level", "highest_residual_level")
    return {key: result.get(key) for key in keys if key in result}


def resolve_instrument(slug: str, version: str | None) -> tuple[Instrument, str]:
    instrument = INSTRUMENTS.get(slug)
    if instrument is None:
        raise ValidationError({"instrument": UNKNOWN_INSTRUMENT % {"instruments": ", ".join(INSTRUMENTS)}})
    version = version or instrument.latest
    if version not in instrument.versions:
        raise ValidationError(
            {
                "version": UNKNOWN_VERSION
                % {"instrument": slug, "version": version, "versions": ", ".join(instrument.versions)}
            }
        )
    return instrument, version


def _evaluate(instrument: Instrument, version: str, answers, *, save_file: bool = False):
    if not isinstance(answers, dict):
        raise ValidationError({"answers": ANSWERS_NOT_OBJECT})
    evaluation = instrument.evaluate(version, answers, save_file=save_file)
    if evaluation.errors:
        raise ValidationError({"answers": [str(message) for message in evaluation.errors]})
    return evaluation


def _store(assessment: RiskAssessment, evaluation) -> None:
    assessment.answers = evaluation.answers
    assessment.result = evaluation.result
    assessment.warnings = evaluation.warnings


@transaction.atomic
def assessment_create(
    *, actor, registration: Registration, instrument: str, version: str | None = None, answers=None
) -> RiskAssessment:
    registration = locked_for(Registration.objects, pk=registration.pk, actor=actor, action=Action.FILE)
    found, version = resolve_instrument(instrument, version)
    evaluation = _evaluate(found, version, {} if answers is None else answers)
    assessment = RiskAssessment(registration=registration, instrument=found.slug, version=version, assessor=actor)
    _store(assessment, evaluation)
    assessment.save()
    _audit(
        assessment,
        registration,
        actor=actor,
        action="created",
        changes={"assessment": [None, {"instrument": found.slug, "version": version}]}
        | {"result": [None, summary(found.slug, assessment.result)]},
    )
    compliance_check_after_commit([assessment.registration_id])
    return assessment


@transaction.atomic
def assessment_import_aia(*, actor, registration: Registration, file) -> RiskAssessment:
    """Import a save file of Canada's official AIA tool, `{"version": ..., "data": {...}}`, as the tool reads
    it: keys that are not questions of its version are ignored and listed as warnings."""
    registration = locked_for(Registration.objects, pk=registration.pk, actor=actor, action=Action.FILE)
    try:
        version, data = canada_aia.read_save_file(file)
    except ValueError as error:
        raise ValidationError({"file": str(error)}) from error
    instrument = INSTRUMENTS[canada_aia.SLUG]
    evaluation = _evaluate(instrument, version, data, save_file=True)
    assessment = RiskAssessment(registration=registration, instrument=instrument.slug, version=version, assessor=actor)
    _store(assessment, evaluation)
    assessment.save()
    _audit(
        assessment,
        registration,
        actor=actor,
        action="imported",
        changes={"assessment": [None, {"instrument": instrument.slug, "version": version}]}
        | {"result": [None, summary(instrument.slug, assessment.result)]},
        comment=f"{len(assessment.warnings)} warning(s)" if assessment.warnings else "",
    )
    compliance_check_after_commit([assessment.registration_id])
    return assessment


def _locked(assessment: RiskAssessment, actor, action: Action) -> RiskAssessment:
    return locked_for(
        RiskAssessment.objects.select_related("registration"), pk=assessment.pk, actor=actor, action=action
    )


@transaction.atomic
def assessment_update(*, assessment: RiskAssessment, actor, answers) -> RiskAssessment:
    """Replace the answers of a draft (or returned) assessment and score them again."""
    assessment = _locked(assessment, actor, Action.FILE)
    if assessment.status not in EDITABLE:
        raise InvalidTransition(NOT_EDITABLE)
    instrument, version = resolve_instrument(assessment.instrument, assessment.version)
    evaluation = _evaluate(instrument, version, answers)
    before, answered = summary(instrument.slug, assessment.result), len(assessment.answers)
    _store(assessment, evaluation)
    assessment.save(update_fields=["answers", "result", "warnings", "updated_at"])
    after = summary(instrument.slug, assessment.result)
    _audit(
        assessment,
        assessment.registration,
        actor=actor,
        action="updated",
        changes={"answered": [answered, len(assessment.answers)]}
        | ({"result": [before, after]} if before != after else {}),
    )
    compliance_check_after_commit([assessment.registration_id])
    return assessment


@transaction.atomic
def assessment_submit(*, assessment: RiskAssessment, actor) -> RiskAssessment:
    assessment = _locked(assessment, actor, Action.FILE)
    if assessment.status not in EDITABLE:
        raise InvalidTransition(
            NOT_IN_STATE % {"status": assessment.get_status_display().lower(), "action": "submitted"}
        )
    instrument, version = resolve_instrument(assessment.instrument, assessment.version)
    # Score again from the stored answers, so a result is never older than the scoring code.
    evaluation = _evaluate(instrument, version, assessment.answers)
    if evaluation.incomplete:
        raise ValidationError({"answers": [str(INCOMPLETE), *(str(m) for m in evaluation.incomplete)]})
    previous = assessment.status
    assessment.result = evaluation.result
    assessment.status = AssessmentStatus.SUBMITTED
    assessment.submitted_at = timezone.now()
    assessment.reviewer = None
    assessment.review_comment = ""
    assessment.decided_at = None
    assessment.save(
        update_fields=["result", "status", "submitted_at", "reviewer", "review_comment", "decided_at", "updated_at"]
    )
    _audit(
        assessment,
        assessment.registration,
        actor=actor,
        action="submitted",
        changes={"status": [previous, "submitted"]},
    )
    compliance_check_after_commit([assessment.registration_id])
    return assessment


def validity_days(instrument: Instrument, version: str, registration: Registration, on: datetime.date) -> int:
    """The instrument's validity period, shortened by any framework parameter binding the community."""
    days = instrument.versions[version]
    for item in effective_requirements(registration.community, on=on):
        value = item.params.get(instrument.validity_parameter)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < days:
            days = value
    return days


def _lock_for_review(assessment: RiskAssessment, actor) -> RiskAssessment:
    assessment = _locked(assessment, actor, Action.REVIEW)
    if assessment.status != AssessmentStatus.SUBMITTED:
        raise InvalidTransition(
            NOT_IN_STATE % {"status": assessment.get_status_display().lower(), "action": "reviewed"}
        )
    registration = assessment.registration
    own = OrganizationMembership.objects.filter(organization_id=registration.organization_id, user=actor).exists()
    if not actor.is_superuser and (own or assessment.assessor_id == actor.pk):
        raise PermissionDenied(OWN_ASSESSMENT)
    return assessment


def _set_risk_tier(assessment: RiskAssessment, actor) -> None:
    tier = assessment.result.get("tier")
    registration = Registration.objects.select_for_update().get(pk=assessment.registration_id)
    if not tier or registration.risk_tier == tier:
        return
    previous = registration.risk_tier
    registration.risk_tier = tier
    registration.save(update_fields=["risk_tier", "updated_at"])
    audit_record(
        actor=actor,
        action="registration.risk_tier_changed",
        target=registration,
        changes={"risk_tier": [previous, tier]},
        comment=str(TIER_SET_BY % {"id": assessment.pk}),
        registration_id=registration.pk,
        system_id=registration.system_id,
        community_id=registration.community_id,
        organization_id=registration.organization_id,
    )


@transaction.atomic
def assessment_accept(*, assessment: RiskAssessment, actor, comment: str = "") -> RiskAssessment:
    assessment = _lock_for_review(assessment, actor)
    instrument, version = resolve_instrument(assessment.instrument, assessment.version)
    today = timezone.localdate()
    assessment.status = AssessmentStatus.ACCEPTED
    assessment.reviewer = actor
    assessment.review_comment = (comment or "").strip()
    assessment.decided_at = timezone.now()
    assessment.valid_until = today + datetime.timedelta(
        days=validity_days(instrument, version, assessment.registration, today)
    )
    assessment.save(update_fields=["status", "reviewer", "review_comment", "decided_at", "valid_until", "updated_at"])
    _audit(
        assessment,
        assessment.registration,
        actor=actor,
        action="accepted",
        changes={"status": ["submitted", "accepted"], "valid_until": [None, assessment.valid_until.isoformat()]},
        comment=assessment.review_comment,
    )
    if instrument.slug == eu_ai_act.SLUG:
        _set_risk_tier(assessment, actor)
    compliance_check_after_commit([assessment.registration_id])
    return assessment


@transaction.atomic
def assessment_return(*, assessment: RiskAssessment, actor, comment: str) -> RiskAssessment:
    assessment = _lock_for_review(assessment, actor)
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": COMMENT_REQUIRED})
    assessment.status = AssessmentStatus.RETURNED
    assessment.reviewer = actor
    assessment.review_comment = comment
    assessment.decided_at = timezone.now()
    assessment.save(update_fields=["status", "reviewer", "review_comment", "decided_at", "updated_at"])
    _audit(
        assessment,
        assessment.registration,
        actor=actor,
        action="returned",
        changes={"status": ["submitted", "returned"]},
        comment=comment,
    )
    compliance_check_after_commit([assessment.registration_id])
    return assessment
