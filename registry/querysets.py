"""The restricting querysets: `Model.objects.restrict(user, action)` for every registry model.

Each `restriction()` returns a filter built from the user's memberships (read once per call, see
`registry.permissions.user_scope`), so every restricted query is a single SQL statement.
"""

from django.db import models
from django.db.models import Q

from registry.choices import CommunityRole, OrganizationRole, RegistrationStatus
from registry.permissions import (
    FILING_ROLES,
    NOTHING,
    OVERSIGHT_ROLES,
    Action,
    UserScope,
    is_active_user,
    subtree_q,
    user_scope,
)


def oversight_q(scope: UserScope, prefix: str = "") -> Q:
    """Registrations that community roles oversee: their subtree's, once submitted.

    Drafts stay the organization's working copy until it chooses to submit.
    """
    return subtree_q(scope.paths(*OVERSIGHT_ROLES), f"{prefix}community__") & ~Q(
        **{f"{prefix}status": RegistrationStatus.DRAFT}
    )


def granted_q(user, prefix: str = "") -> Q:
    """Registrations shared with this user through django-guardian (directly or through a group)."""
    from registry.models import RegistrationGroupObjectPermission, RegistrationUserObjectPermission

    direct = RegistrationUserObjectPermission.objects.filter(
        user_id=user.pk, permission__codename="view_registration"
    ).values("content_object_id")
    through_group = RegistrationGroupObjectPermission.objects.filter(
        group__user=user.pk, permission__codename="view_registration"
    ).values("content_object_id")
    return Q(**{f"{prefix}pk__in": direct}) | Q(**{f"{prefix}pk__in": through_group})


class RestrictedQuerySet(models.QuerySet):
    """Deny by default: anonymous and inactive users get nothing, superusers everything, others a filter."""

    def restrict(self, user, action: Action = Action.VIEW):
        if not is_active_user(user):
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(self.restriction(user, Action(action), user_scope(user)))

    def restriction(self, user, action: Action, scope: UserScope) -> Q:
        raise NotImplementedError


class CommunityQuerySet(RestrictedQuerySet):
    def restriction(self, user, action, scope):
        if action == Action.VIEW:
            # Communities are public bodies: any signed-in user may see them, to know where to file.
            return Q()
        if action == Action.CHANGE:
            return Q() if user.is_staff else NOTHING
        if action == Action.MANAGE_MEMBERS:
            return Q() if user.is_staff else subtree_q(scope.paths(CommunityRole.REGULATOR))
        if action == Action.REVIEW:
            return subtree_q(scope.paths(CommunityRole.REGULATOR))
        return NOTHING

    def subtree_of(self, community):
        return self.filter(path__startswith=community.path)


class OrganizationQuerySet(RestrictedQuerySet):
    def restriction(self, user, action, scope):
        from registry.models import Registration

        members = Q(pk__in=scope.organizations(*FILING_ROLES))
        if action == Action.VIEW:
            if user.is_staff:
                return Q()
            # Regulators and auditors see the organizations whose filings they can see.
            filed = Registration.objects.filter(oversight_q(scope) | granted_q(user)).values("organization_id")
            return members | Q(pk__in=filed)
        if action == Action.FILE:
            return members
        if action in (Action.CHANGE, Action.MANAGE_MEMBERS):
            return Q() if user.is_staff else Q(pk__in=scope.organizations(OrganizationRole.ADMIN))
        return NOTHING


class AISystemQuerySet(RestrictedQuerySet):
    def restriction(self, user, action, scope):
        from registry.models import Registration

        own = Q(organization_id__in=scope.organizations(*FILING_ROLES))
        if action == Action.VIEW:
            registered = Registration.objects.filter(oversight_q(scope) | granted_q(user)).values("system_id")
            return own | Q(pk__in=registered)
        if action == Action.FILE:
            return own
        return NOTHING


class RegistrationQuerySet(RestrictedQuerySet):
    def restriction(self, user, action, scope):
        own = Q(organization_id__in=scope.organizations(*FILING_ROLES))
        if action == Action.VIEW:
            return own | oversight_q(scope) | granted_q(user)
        if action == Action.FILE:
            return own
        if action == Action.REVIEW:
            return subtree_q(scope.paths(CommunityRole.REGULATOR), "community__") & ~Q(status=RegistrationStatus.DRAFT)
        return NOTHING


class CommunityMembershipQuerySet(RestrictedQuerySet):
    """A community's member list is for those who manage it: staff and regulators at or above it."""

    def restriction(self, user, action, scope):
        if action in (Action.VIEW, Action.MANAGE_MEMBERS):
            return Q() if user.is_staff else subtree_q(scope.paths(CommunityRole.REGULATOR), "community__")
        return NOTHING


class OrganizationMembershipQuerySet(RestrictedQuerySet):
    """Colleagues see each other; admins (and staff) manage."""

    def restriction(self, user, action, scope):
        if user.is_staff and action in (Action.VIEW, Action.MANAGE_MEMBERS):
            return Q()
        if action == Action.VIEW:
            return Q(organization_id__in=scope.organizations(*FILING_ROLES))
        if action == Action.MANAGE_MEMBERS:
            return Q(organization_id__in=scope.organizations(OrganizationRole.ADMIN))
        return NOTHING
