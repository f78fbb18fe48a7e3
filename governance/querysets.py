"""Restricting querysets for frameworks: who may read and who may author them.

Published rules are public to every signed-in user (filers must know what they will be held to); drafts
are for the community's policy authors and its regulators. Authoring is for the policy authors of the
framework's own community (never its descendants' or ancestors'), plus django-guardian grants for
exceptions; global baselines are authored by superusers only.
"""

from django.db.models import Q

from governance.choices import VersionStatus
from registry.choices import CommunityRole
from registry.permissions import NOTHING, OVERSIGHT_ROLES, Action, UserScope, in_q
from registry.querysets import RestrictedQuerySet


def _authoring_q(user, scope: UserScope, prefix: str = "") -> Q:
    from guardian.shortcuts import get_objects_for_user

    from governance.models import Framework

    granted = get_objects_for_user(
        user, "governance.author_framework", Framework, accept_global_perms=False, with_superuser=False
    ).values("pk")
    return in_q(f"{prefix}community_id", scope.own_communities(CommunityRole.POLICY_AUTHOR)) | Q(
        **{f"{prefix}pk__in": granted}
    )


def _draft_readers_q(scope: UserScope, prefix: str = "") -> Q:
    """Drafts are read by the community's own policy authors and by regulators at or above it."""
    readers = {
        *scope.own_communities(CommunityRole.POLICY_AUTHOR),
        *scope.communities(CommunityRole.REGULATOR),
    }
    return in_q(f"{prefix}community_id", readers)


class FrameworkQuerySet(RestrictedQuerySet):
    def restriction(self, user, action, scope):
        if action == Action.VIEW:
            return Q()
        if action == Action.AUTHOR:
            return _authoring_q(user, scope) & Q(community__isnull=False)
        return NOTHING


class FrameworkVersionQuerySet(RestrictedQuerySet):
    def restriction(self, user, action, scope):
        if action == Action.VIEW:
            return (
                ~Q(status=VersionStatus.DRAFT)
                | _draft_readers_q(scope, "framework__")
                | _authoring_q(user, scope, "framework__")
            )
        if action == Action.AUTHOR:
            return _authoring_q(user, scope, "framework__") & Q(framework__community__isnull=False)
        return NOTHING


class RegistrationScopedQuerySet(RestrictedQuerySet):
    """Evidence and waivers follow their registration: seen by who sees it, written by its filers
    (evidence) or its regulators (reviews, waivers)."""

    def restriction(self, user, action, scope):
        from registry.models import Registration

        if action not in (Action.VIEW, Action.FILE, Action.REVIEW):
            return NOTHING
        registrations = Registration.objects.filter(Registration.objects.restriction(user, action, scope))
        return Q(registration__in=registrations.values("pk"))


class ComplianceRunQuerySet(RestrictedQuerySet):
    """Runs are seen by those who oversee the community swept (with its ancestors' regulators), and
    started by its regulators; runs over every community are staff business."""

    def restriction(self, user, action, scope):
        if action == Action.VIEW:
            return in_q("community_id", scope.communities(*OVERSIGHT_ROLES))
        if action == Action.REVIEW:
            return in_q("community_id", scope.communities(CommunityRole.REGULATOR))
        return NOTHING
