from django.core.exceptions import ValidationError
from django.db import transaction

from registry import errors
from registry.errors import InvalidTransition
from registry.models import AISystem, Organization, Registration
from registry.permissions import Action

from .audit import audit_record, diff, snapshot
from .common import apply_fields, locked_for, require

SYSTEM_FIELDS = {
    field.name
    for field in AISystem._meta.concrete_fields
    if field.editable and field.name not in {"id", "organization", "created_at", "updated_at"}
}


def _validate(system: AISystem) -> None:
    """Field and model validation without Django's per-constraint queries (PostgreSQL enforces those; the
    date order is checked in AISystem.clean), and the one uniqueness a filer can hit, with a clear message."""
    system.full_clean(exclude=["organization"], validate_constraints=False)
    if system.external_id and (
        AISystem.objects.filter(organization_id=system.organization_id, external_id=system.external_id)
        .exclude(pk=system.pk)
        .exists()
    ):
        raise ValidationError({"external_id": errors.DUPLICATE_EXTERNAL_ID})


@transaction.atomic
def system_create(*, actor, organization: Organization, **data) -> AISystem:
    require(Organization.objects.restrict(actor, Action.FILE).filter(pk=organization.pk).exists())
    system = AISystem(organization=organization)
    apply_fields(system, data, SYSTEM_FIELDS)
    _validate(system)
    system.save()
    audit_record(
        actor=actor,
        action="system.created",
        target=system,
        changes=diff({}, snapshot(system, SYSTEM_FIELDS)),
        system_id=system.pk,
        organization_id=organization.pk,
    )
    return system


@transaction.atomic
def system_update(*, system: AISystem, actor, **data) -> AISystem:
    system = locked_for(AISystem.objects, pk=system.pk, actor=actor, action=Action.FILE)
    before = snapshot(system, SYSTEM_FIELDS)
    apply_fields(system, data, SYSTEM_FIELDS)
    _validate(system)
    system.save()
    changes = diff(before, snapshot(system, SYSTEM_FIELDS))
    if changes:
        audit_record(
            actor=actor,
            action="system.updated",
            target=system,
            changes=changes,
            system_id=system.pk,
            organization_id=system.organization_id,
        )
    from governance.services.compliance import compliance_check_after_commit  # here: governance imports registry

    compliance_check_after_commit(system.registrations.values_list("pk", flat=True))
    return system


@transaction.atomic
def system_delete(*, system: AISystem, actor) -> None:
    system = locked_for(AISystem.objects, pk=system.pk, actor=actor, action=Action.FILE)
    if Registration.objects.filter(system=system, submitted_at__isnull=False).exists():
        raise InvalidTransition(errors.SYSTEM_DELETE_SUBMITTED)
    audit_record(
        actor=actor,
        action="system.deleted",
        target=system,
        changes={name: [value, None] for name, value in snapshot(system, SYSTEM_FIELDS).items()},
        system_id=system.pk,
        organization_id=system.organization_id,
    )
    system.delete()
