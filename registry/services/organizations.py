from django.core.exceptions import ValidationError
from django.db import transaction

from registry import errors
from registry.choices import OrganizationRole
from registry.models import Organization, OrganizationMembership
from registry.permissions import Action

from .audit import audit_record, diff, snapshot
from .common import apply_fields, locked_for, require

ORGANIZATION_FIELDS = {
    "slug",
    "name",
    "country",
    "registration_number",
    "lei",
    "website",
    "contact_name",
    "contact_email",
    "description",
}


@transaction.atomic
def organization_create(*, actor, **data) -> Organization:
    require(bool(actor.is_active and (actor.is_staff or actor.is_superuser)))
    organization = Organization()
    apply_fields(organization, data, ORGANIZATION_FIELDS)
    organization.full_clean()
    organization.save()
    audit_record(
        actor=actor,
        action="organization.created",
        target=organization,
        changes=diff({}, snapshot(organization, ORGANIZATION_FIELDS)),
        organization_id=organization.pk,
    )
    return organization


@transaction.atomic
def organization_update(*, organization: Organization, actor, **data) -> Organization:
    organization = locked_for(Organization.objects, pk=organization.pk, actor=actor, action=Action.CHANGE)
    before = snapshot(organization, ORGANIZATION_FIELDS)
    apply_fields(organization, data, ORGANIZATION_FIELDS)
    organization.full_clean()
    organization.save()
    changes = diff(before, snapshot(organization, ORGANIZATION_FIELDS))
    if changes:
        audit_record(
            actor=actor,
            action="organization.updated",
            target=organization,
            changes=changes,
            organization_id=organization.pk,
        )
    return organization


def _ensure_an_admin_remains(organization: Organization) -> None:
    if not OrganizationMembership.objects.filter(organization=organization, role=OrganizationRole.ADMIN).exists():
        raise ValidationError({"role": errors.LAST_ADMIN})


@transaction.atomic
def organization_member_set(
    *, organization: Organization, actor, user, role: str
) -> tuple[OrganizationMembership, bool]:
    """Give `user` exactly one role in the organization, adding or changing their membership."""
    organization = locked_for(Organization.objects, pk=organization.pk, actor=actor, action=Action.MANAGE_MEMBERS)
    OrganizationMembership(organization=organization, user=user, role=role).full_clean(
        validate_unique=False, validate_constraints=False
    )
    membership = OrganizationMembership.objects.filter(organization=organization, user=user).first()
    before = membership.role if membership else None
    if membership is None:
        membership = OrganizationMembership.objects.create(organization=organization, user=user, role=role)
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
        if before == OrganizationRole.ADMIN:
            _ensure_an_admin_remains(organization)
    if before != role:
        audit_record(
            actor=actor,
            action="organization.member_set",
            target=organization,
            changes={
                "member": [
                    {"username": user.username, "role": before} if before else None,
                    {"username": user.username, "role": role},
                ]
            },
            organization_id=organization.pk,
        )
    return membership, before is None


@transaction.atomic
def organization_member_remove(*, organization: Organization, actor, user) -> int:
    organization = locked_for(Organization.objects, pk=organization.pk, actor=actor, action=Action.MANAGE_MEMBERS)
    membership = OrganizationMembership.objects.filter(organization=organization, user=user).first()
    if membership is None:
        return 0
    membership.delete()
    if membership.role == OrganizationRole.ADMIN:
        _ensure_an_admin_remains(organization)
    audit_record(
        actor=actor,
        action="organization.member_removed",
        target=organization,
        changes={"member": [{"username": user.username, "role": membership.role}, None]},
        organization_id=organization.pk,
    )
    return 1
