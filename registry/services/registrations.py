from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from registry import errors
from registry.choices import RegistrationStatus as Status
from registry.errors import InvalidTransition
from registry.models import (
    AISystem,
    Community,
    OrganizationMembership,
    Registration,
    RegistrationUserObjectPermission,
    RegistrationVersion,
)
from registry.permissions import Action

from .audit import audit_record, snapshot
from .common import apply_fields, locked_for, require
from .systems import SYSTEM_FIELDS

EDITABLE_FIELDS = {"deployment_context", "deployment_date", "disclosure", "risk_tier"}
EDITABLE_STATES = {Status.DRAFT, Status.CHANGES_REQUESTED}
DEAD_STATES = {Status.RETIRED, Status.REJECTED}  # a system may be filed again once these end a registration
REGISTRATION_FIELDS = ["status", "risk_tier", "deployment_context", "deployment_date", "disclosure", "community"]


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    by_filer: bool
    by_regulator: bool
    comment_required: bool
    verb: str


# The registration workflow, in one table: draft → submitted → approved | changes_requested | rejected,
# changes_requested → submitted, approved → retired.
TRANSITIONS = {
    "submit": Transition(
        frozenset({Status.DRAFT, Status.CHANGES_REQUESTED}), Status.SUBMITTED, True, False, False, "submitted"
    ),
    "approve": Transition(frozenset({Status.SUBMITTED}), Status.APPROVED, False, True, True, "approved"),
    "reject": Transition(frozenset({Status.SUBMITTED}), Status.REJECTED, False, True, True, "rejected"),
    "request_changes": Transition(
        frozenset({Status.SUBMITTED}), Status.CHANGES_REQUESTED, False, True, True, "sent back for changes"
    ),
    "retire": Transition(frozenset({Status.APPROVED}), Status.RETIRED, True, True, True, "retired"),
}


def _audit(registration: Registration, *, actor, action: str, changes: dict, comment: str = ""):
    return audit_record(
        actor=actor,
        action=f"registration.{action}",
        target=registration,
        changes=changes,
        comment=comment,
        registration_id=registration.pk,
        system_id=registration.system_id,
        community_id=registration.community_id,
        organization_id=registration.organization_id,
    )


def _field_changes(before: dict, registration: Registration) -> dict:
    after = snapshot(registration, REGISTRATION_FIELDS)
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}


@transaction.atomic
def registration_create(*, actor, system: AISystem, community: Community, **data) -> Registration:
    require(AISystem.objects.restrict(actor, Action.FILE).filter(pk=system.pk).exists())
    registration = Registration(
        system=system, organization_id=system.organization_id, community=community, created_by=actor
    )
    apply_fields(registration, data, EDITABLE_FIELDS)
    registration.full_clean(validate_constraints=False)
    live = Registration.objects.filter(system=system, community=community).exclude(status__in=DEAD_STATES)
    if live.exists():
        raise ValidationError({"community": errors.ALREADY_REGISTERED})
    try:
        with transaction.atomic():
            registration.save()
    except IntegrityError as error:  # a concurrent filing of the same system won the race
        raise ValidationError({"community": errors.ALREADY_REGISTERED}) from error
    _audit(registration, actor=actor, action="created", changes=_field_changes({}, registration))
    return registration


@transaction.atomic
def registration_update(*, registration: Registration, actor, **data) -> Registration:
    registration = locked_for(Registration.objects, pk=registration.pk, actor=actor, action=Action.FILE)
    if registration.status not in EDITABLE_STATES:
        raise InvalidTransition(errors.NOT_EDITABLE)
    before = snapshot(registration, REGISTRATION_FIELDS)
    apply_fields(registration, data, EDITABLE_FIELDS)
    registration.full_clean(validate_constraints=False)
    registration.save()
    changes = _field_changes(before, registration)
    if changes:
        _audit(registration, actor=actor, action="updated", changes=changes)
    from governance.services.compliance import compliance_check_after_commit  # here: governance imports registry

    compliance_check_after_commit([registration.pk])
    return registration


@transaction.atomic
def registration_delete(*, registration: Registration, actor) -> None:
    registration = locked_for(Registration.objects, pk=registration.pk, actor=actor, action=Action.FILE)
    if registration.status != Status.DRAFT or registration.was_ever_submitted:
        raise InvalidTransition(errors.NOT_ALLOWED_IN_STATE % {"status": registration.status, "action": "deleted"})
    _audit(registration, actor=actor, action="deleted", changes={"status": [registration.status, None]})
    registration.delete()


def _lock_for_transition(registration: Registration, actor, transition: Transition) -> tuple[Registration, Action]:
    """Lock the registration under the first role that allows this transition (filer, then regulator)."""
    queryset = Registration.objects.select_related("system")
    candidates = []
    if transition.by_filer:
        candidates.append(Action.FILE)
    if transition.by_regulator:
        candidates.append(Action.REVIEW)
    for action in candidates:
        try:
            locked = locked_for(queryset, pk=registration.pk, actor=actor, action=action)
        except PermissionDenied:
            continue
        return locked, action
    raise PermissionDenied(errors.NO_PERMISSION_FOR_ACTION)


def version_snapshot(registration: Registration) -> dict:
    return {
        "registration": snapshot(registration, REGISTRATION_FIELDS),
        "system": snapshot(registration.system, [*sorted(SYSTEM_FIELDS), "organization"]),
    }


@transaction.atomic
def registration_transition(*, registration: Registration, actor, action: str, comment: str = "") -> Registration:
    transition = TRANSITIONS[action]
    registration, acting_as = _lock_for_transition(registration, actor, transition)
    comment = (comment or "").strip()
    reviewing_own_filing = (
        acting_as == Action.REVIEW
        and not actor.is_superuser
        and OrganizationMembership.objects.filter(organization_id=registration.organization_id, user=actor).exists()
    )
    if reviewing_own_filing:
        raise PermissionDenied(errors.OWN_FILING_REVIEW)
    if registration.status not in transition.sources:
        raise InvalidTransition(
            errors.NOT_ALLOWED_IN_STATE
            % {"status": registration.get_status_display().lower(), "action": transition.verb}
        )
    if transition.comment_required and not comment:
        raise ValidationError({"comment": errors.COMMENT_REQUIRED})
    now = timezone.now()
    previous = registration.status
    registration.status = transition.target
    update_fields = ["status", "updated_at"]
    if action == "submit":
        registration.version += 1
        registration.submitted_at = now
        registration.reviewer = None
        registration.review_comment = ""
        update_fields += ["version", "submitted_at", "reviewer", "review_comment"]
    elif action == "retire":
        registration.retired_at = now
        update_fields.append("retired_at")
    if acting_as == Action.REVIEW and action != "retire":
        registration.reviewer = actor
        registration.review_comment = comment
        registration.decided_at = now
        update_fields += ["reviewer", "review_comment", "decided_at"]
    registration.save(update_fields=update_fields)
    if action == "submit":
        RegistrationVersion.objects.create(
            registration=registration,
            number=registration.version,
            snapshot=version_snapshot(registration),
            created_by=actor,
        )
    _audit(
        registration, actor=actor, action=action, changes={"status": [previous, registration.status]}, comment=comment
    )
    from governance.services.compliance import compliance_check_after_commit  # here: governance imports registry

    compliance_check_after_commit([registration.pk])
    return registration


def _has_read_grant(registration: Registration, user) -> bool:
    return RegistrationUserObjectPermission.objects.filter(
        content_object=registration, user=user, permission__codename="view_registration"
    ).exists()


@transaction.atomic
def registration_grant_access(*, registration: Registration, actor, user) -> None:
    """Let one outside user (an auditor, say) read one registration, through django-guardian."""
    registration = locked_for(Registration.objects, pk=registration.pk, actor=actor, action=Action.REVIEW)
    if _has_read_grant(registration, user):
        return
    assign_perm("view_registration", user, registration)
    _audit(registration, actor=actor, action="access_granted", changes={"reader": [None, user.username]})


@transaction.atomic
def registration_revoke_access(*, registration: Registration, actor, user) -> None:
    registration = locked_for(Registration.objects, pk=registration.pk, actor=actor, action=Action.REVIEW)
    if not _has_read_grant(registration, user):
        return
    remove_perm("view_registration", user, registration)
    _audit(registration, actor=actor, action="access_revoked", changes={"reader": [user.username, None]})
