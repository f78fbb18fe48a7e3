"""Who may do what: the one place where role scoping is decided.

Deny by default. Each model's queryset has `restrict(user, action)`, built from the user's memberships
(community roles reach down the community tree; organization roles cover the organization's filings) and,
for registrations, django-guardian grants for one-off exceptions such as an outside auditor. Every API view,
dashboard page, count and export starts from it, so a rule changed here changes everywhere.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from functools import reduce
from operator import or_

from django.db.models import Q, Value

from registry.choices import CommunityRole, OrganizationRole


class Action(StrEnum):
    VIEW = "view"
    FILE = "file"  # create and edit systems and registrations, submit them
    CHANGE = "change"  # edit the object itself (an organization's profile, a community)
    REVIEW = "review"  # approve, reject, request changes, grant auditors
    MANAGE_MEMBERS = "manage_members"
    AUTHOR = "author"  # write a community's frameworks (draft versions, publishing)


OVERSIGHT_ROLES = (CommunityRole.REGULATOR, CommunityRole.POLICY_AUTHOR, CommunityRole.VIEWER)
FILING_ROLES = (OrganizationRole.ADMIN, OrganizationRole.FILER)


@dataclass(frozen=True)
class UserScope:
    """A user's memberships, read in one query: community paths per role, organization ids per role."""

    community_paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    organization_ids: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def paths(self, *roles: str) -> list[str]:
        return sorted({path for role in roles for path in self.community_paths.get(role, ())})

    def organizations(self, *roles: str) -> list[int]:
        return sorted({org for role in roles for org in self.organization_ids.get(role, ())})


def user_scope(user) -> UserScope:
    from registry.models import CommunityMembership, OrganizationMembership

    community_rows = (
        CommunityMembership.objects.filter(user_id=user.pk)
        .order_by()
        .values_list(Value("c"), "role", "community__path", "community_id")
    )
    organization_rows = (
        OrganizationMembership.objects.filter(user_id=user.pk)
        .order_by()
        .values_list(Value("o"), "role", Value(""), "organization_id")
    )
    paths: dict[str, set[str]] = {}
    organizations: dict[str, set[int]] = {}
    for kind, role, path, object_id in community_rows.union(organization_rows, all=True):
        if kind == "c":
            paths.setdefault(role, set()).add(path)
        else:
            organizations.setdefault(role, set()).add(object_id)
    return UserScope(
        community_paths={role: tuple(values) for role, values in paths.items()},
        organization_ids={role: tuple(values) for role, values in organizations.items()},
    )


NOTHING = Q(pk__in=[])


def subtree_q(paths: list[str], prefix: str = "") -> Q:
    """Communities at or below any of `paths`; `prefix` reaches the community through a relation."""
    if not paths:
        return NOTHING
    return reduce(or_, (Q(**{f"{prefix}path__startswith": path}) for path in paths))


def is_active_user(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)
