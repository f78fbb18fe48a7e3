"""Who may do what: the one place where role scoping is decided.

Deny by default. Each model's queryset has `restrict(user, action)`, built from the user's memberships
(community roles reach down the community tree; organization roles cover the organization's filings) and,
for registrations, django-guardian grants for one-off exceptions such as an outside auditor. Every API view,
dashboard page, count and export starts from it, so a rule changed here changes everywhere.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from django.db.models import Q

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
    """Everything a user's permissions depend on, read in one query.

    Community roles are resolved to the ids of every community at or below the membership, so that
    restrictions become flat, indexed `community_id IN (...)` filters on the restricted table itself: a
    join to the community tree inside an OR defeats PostgreSQL's indexes (see bench/api_list.py).
    """

    subtree_communities: dict[str, frozenset[int]] = field(default_factory=dict)
    member_communities: dict[str, frozenset[int]] = field(default_factory=dict)
    organization_ids: dict[str, frozenset[int]] = field(default_factory=dict)
    granted_registrations: frozenset[int] = frozenset()

    def communities(self, *roles: str) -> list[int]:
        """Communities where the user holds one of `roles`, with all their descendants."""
        return sorted({pk for role in roles for pk in self.subtree_communities.get(role, ())})

    def own_communities(self, *roles: str) -> list[int]:
        """Communities where the user holds one of `roles` directly (no descendants)."""
        return sorted({pk for role in roles for pk in self.member_communities.get(role, ())})

    def organizations(self, *roles: str) -> list[int]:
        return sorted({pk for role in roles for pk in self.organization_ids.get(role, ())})


_SCOPE_SQL = """
SELECT 's', m.role, sub.id FROM {community_membership} m
  JOIN {community} mc ON mc.id = m.community_id
  JOIN {community} sub ON sub.path LIKE mc.path || '%%'
 WHERE m.user_id = %(user)s
UNION ALL
SELECT 'm', m.role, m.community_id FROM {community_membership} m WHERE m.user_id = %(user)s
UNION ALL
SELECT 'o', m.role, m.organization_id FROM {organization_membership} m WHERE m.user_id = %(user)s
UNION ALL
SELECT 'g', '', g.content_object_id FROM {user_grant} g
  JOIN {permission} p ON p.id = g.permission_id
 WHERE g.user_id = %(user)s AND p.codename = 'view_registration'
UNION ALL
SELECT 'g', '', g.content_object_id FROM {group_grant} g
  JOIN {permission} p ON p.id = g.permission_id
  JOIN {user_groups} ug ON ug.group_id = g.group_id
 WHERE ug.user_id = %(user)s AND p.codename = 'view_registration'
"""


def _scope_sql() -> str:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from registry.models import (
        Community,
        CommunityMembership,
        OrganizationMembership,
        RegistrationGroupObjectPermission,
        RegistrationUserObjectPermission,
    )

    return _SCOPE_SQL.format(
        community_membership=CommunityMembership._meta.db_table,
        community=Community._meta.db_table,
        organization_membership=OrganizationMembership._meta.db_table,
        user_grant=RegistrationUserObjectPermission._meta.db_table,
        group_grant=RegistrationGroupObjectPermission._meta.db_table,
        permission=Permission._meta.db_table,
        user_groups=get_user_model().groups.through._meta.db_table,
    )


def user_scope(user) -> UserScope:
    from django.db import connection

    buckets: dict[str, dict[str, set[int]]] = {"s": {}, "m": {}, "o": {}, "g": {}}
    with connection.cursor() as cursor:
        cursor.execute(_scope_sql(), {"user": user.pk})
        for kind, role, object_id in cursor.fetchall():
            buckets[kind].setdefault(role, set()).add(object_id)

    def frozen(kind):
        return {role: frozenset(ids) for role, ids in buckets[kind].items()}

    return UserScope(
        subtree_communities=frozen("s"),
        member_communities=frozen("m"),
        organization_ids=frozen("o"),
        granted_registrations=frozenset(buckets["g"].get("", ())),
    )


NOTHING = Q(pk__in=[])


def in_q(field_name: str, ids) -> Q:
    """`field IN ids`, or a filter matching nothing when there are no ids (Django drops it from an OR)."""
    return Q(**{f"{field_name}__in": list(ids)}) if ids else NOTHING


def is_active_user(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)
