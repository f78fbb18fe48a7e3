"""The restricting querysets: `Model.objects.restrict(user, action)` for every registry model.

Each `restriction()` returns a flat filter on the model's own indexed columns, built from the user's
memberships (read in one query by `registry.permissions.user_scope`).
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
    in_q,
    is_active_user,
    user_scope,
)


def oversight_q(scope: UserScope) -> Q:
    """Registrations that community roles oversee: their subtree's, once submitted.

    Drafts stay the organization's working copy until it chooses to submit.
    """
    communities = scope.communities(*OVERSIGHT_ROLES)
    return in_q("community_id", communities) & ~Q(status=RegistrationStatus.DRAFT) if communities else NOTHING


def granted_q(scope: UserScope) -> Q:
    """Registrations shared with this user through django-guardian (directly or through a group)."""
    return in_q("pk", scope.granted_registrations)


class RestrictedQuerySet(models.QuerySet):
    """Deny by default: anonymous and inactive users get nothing, superusers everything, others a filter."""

    def restrict(self, user, action: Action = Action.VIEW, *, scope: UserScope | None = None):
        """Rows `user` may act on. Views may pass the `scope` they read once for the request; services
        leave it out, so the check inside their transaction reads memberships afresh."""
        if not is_active_user(user):
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(self.restriction(user, Action(action), scope or user_scope(user)))

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
            return Q() if user.is_staff else in_q("pk", scope.communities(CommunityRole.REGULATOR))
        if action == Action.REVIEW:
            return in_q("pk", scope.communities(CommunityRole.REGULATOR))
        return NOTHING

    def subtree_of(self, community):
        return self.filter(path__startswith=community.path)


class OrganizationQuerySet(RestrictedQuerySet):
    def restriction(self, user, action, scope):
        from registry.models import Registration

        members = in_q("pk", scope.organizations(*FILING_ROLES))
        if action == Action.VIEW:
            if user.is_staff:
                return Q()
            # Regulators and auditors see the organizations whose filings they can see.
            overseen = oversight_q(scope) | granted_q(scope)
            if overseen == NOTHING:
                return members
            return members | Q(pk__in=Registration.objects.filter(overseen).values("organization_id"))
        if action == Action.FILE:
            return members
        if action in (Action.CHANGE, Action.MANAGE_MEMBERS):
            return Q() if user.is_staff else in_q("pk", scope.organizations(OrganizationRole.ADMIN))
        return NOTHING


class AISystemQuerySet(RestrictedQuerySet):
    def restriction(self, user, action, scope):
        from registry.models import Registration

        own = in_q("organization_id", scope.organizations(*FILING_ROLES))
        if action == Action.VIEW:
            overseen = oversight_q(scope) | granted_q(scope)
            if overseen == NOTHING:
                return own
            return own | Q(pk__in=Registration.objects.filter(overseen).values("system_id"))
        if action == Action.FILE:
            return own
        return NOTHING


class RegistrationQuerySet(RestrictedQuerySet):
    def restriction(self, user, action, scope):
        own = in_q("organization_id", scope.organizations(*FILING_ROLES))
        if action == Action.VIEW:
            return own | oversight_q(scope) | granted_q(scope)
        if action == Action.FILE:
            return own
        if action == Action.REVIEW:
            regulated = scope.communities(CommunityRole.REGULATOR)
            return in_q("community_id", regulated) & ~Q(status=RegistrationStatus.DRAFT) if regulated else NOTHING
        return NOTHING


class CommunityMembershipQuerySet(RestrictedQuerySet):
    """A community's member list is for those who manage it: staff and regulators at or above it."""

    def restriction(self, user, action, scope):
        if action in (Action.VIEW, Action.MANAGE_MEMBERS):
            return Q() if user.is_staff else in_q("community_id", scope.communities(CommunityRole.REGULATOR))
        return NOTHING


class OrganizationMembershipQuerySet(RestrictedQuerySet):
    """Colleagues see each other; admins (and staff) manage."""

    def restriction(self, user, action, scope):
        if user.is_staff and action in (Action.VIEW, Action.MANAGE_MEMBERS):
            return Q()
        if action == Action.VIEW:
            return in_q("organization_id", scope.organizations(*FILING_ROLES))
        if action == Action.MANAGE_MEMBERS:
            return in_q("organization_id", scope.organizations(OrganizationRole.ADMIN))
        return NOTHING
