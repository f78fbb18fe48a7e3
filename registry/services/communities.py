from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr

from registry import errors
from registry.models import Community, CommunityMembership
from registry.permissions import Action

from .audit import audit_record, diff, snapshot
from .common import apply_fields, locked_for, require

COMMUNITY_FIELDS = {
    "slug",
    "name",
    "kind",
    "parent",
    "jurisdiction_code",
    "description",
    "website",
    "public_register_enabled",
}


def _is_staff(actor) -> bool:
    return bool(actor.is_active and (actor.is_staff or actor.is_superuser))


@transaction.atomic
def community_create(*, actor, **data) -> Community:
    require(_is_staff(actor))
    community = Community(path="")
    apply_fields(community, data, COMMUNITY_FIELDS)
    community.full_clean(exclude=["path"])
    community.save()
    community.path = f"{community.parent.path if community.parent else ''}{community.pk}/"
    community.save(update_fields=["path"])
    audit_record(
        actor=actor,
        action="community.created",
        target=community,
        changes=diff({}, snapshot(community, COMMUNITY_FIELDS)),
        community_id=community.pk,
    )
    return community


@transaction.atomic
def community_update(*, community: Community, actor, **data) -> Community:
    community = locked_for(Community.objects, pk=community.pk, actor=actor, action=Action.CHANGE)
    before = snapshot(community, COMMUNITY_FIELDS)
    old_path = community.path
    apply_fields(community, data, COMMUNITY_FIELDS)
    new_parent = community.parent
    if new_parent is not None and new_parent.path.startswith(old_path):
        raise ValidationError({"parent": errors.PARENT_CYCLE})
    community.full_clean(exclude=["path"])
    new_path = f"{new_parent.path if new_parent else ''}{community.pk}/"
    community.save()
    if new_path != old_path:
        # Move the whole subtree in one statement: every descendant's path keeps its tail.
        Community.objects.filter(path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
        )
        community.path = new_path
    changes = diff(before, snapshot(community, COMMUNITY_FIELDS))
    if changes:
        audit_record(
            actor=actor, action="community.updated", target=community, changes=changes, community_id=community.pk
        )
    return community


@transaction.atomic
def community_member_add(*, community: Community, actor, user, role: str) -> tuple[CommunityMembership, bool]:
    community = locked_for(Community.objects, pk=community.pk, actor=actor, action=Action.MANAGE_MEMBERS)
    membership = CommunityMembership(community=community, user=user, role=role)
    membership.full_clean(validate_unique=False, validate_constraints=False)
    membership, created = CommunityMembership.objects.get_or_create(community=community, user=user, role=role)
    if created:
        audit_record(
            actor=actor,
            action="community.member_added",
            target=community,
            changes={"member": [None, {"username": user.username, "role": role}]},
            community_id=community.pk,
        )
    return membership, created


@transaction.atomic
def community_member_remove(*, community: Community, actor, user, role: str | None = None) -> int:
    community = locked_for(Community.objects, pk=community.pk, actor=actor, action=Action.MANAGE_MEMBERS)
    memberships = CommunityMembership.objects.filter(community=community, user=user)
    if role:
        memberships = memberships.filter(role=role)
    roles = sorted(memberships.values_list("role", flat=True))
    deleted, _ = memberships.delete()
    if deleted:
        audit_record(
            actor=actor,
            action="community.member_removed",
            target=community,
            changes={"member": [{"username": user.username, "roles": roles}, None]},
            community_id=community.pk,
        )
    return deleted
