"""The community tree as the dashboard shows it: which communities a user works in, and their subtrees.

Everything here reads the small community table once per request (`CommunityTree`); the registration
queries then filter on flat `community_id IN (...)` lists, which PostgreSQL answers from the
(community, status) indexes, rather than joining the tree inside the restricted query.
"""

from dataclasses import dataclass, field

from django.db.models import Q
from django.http import Http404
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from registry.choices import CommunityKind, CommunityRole
from registry.models import Community, Registration
from registry.permissions import FILING_ROLES, OVERSIGHT_ROLES, UserScope, in_q


@dataclass(frozen=True)
class TreeNode:
    community: Community
    depth: int  # relative to the shallowest community shown, for indentation


@dataclass
class CommunityTree:
    """The communities a user can pick in the dashboard, in tree order (by materialized path)."""

    nodes: list[TreeNode] = field(default_factory=list)

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    def by_slug(self, slug: str) -> Community | None:
        return next((node.community for node in self.nodes if node.community.slug == slug), None)

    def ancestors(self, community: Community) -> list[Community]:
        """The community's ancestors that the user can pick too, root first, for breadcrumbs."""
        ids = set(community.ancestor_ids())
        return [node.community for node in self.nodes if node.community.pk in ids]

    def subtree_ids(self, community: Community) -> list[int]:
        """The community and its descendants among those loaded (all of them, for its overseers)."""
        return [node.community.pk for node in self.nodes if node.community.path.startswith(community.path)]


def community_tree(*, user, scope: UserScope) -> CommunityTree:
    """Communities the user oversees (with their subtrees) or files into; every community for superusers.

    One query. Communities are public bodies, but listing only those the user works in keeps the switcher
    short and makes the picked community's counts meaningful.
    """
    if user.is_superuser:
        communities = Community.objects.all()
    else:
        condition = in_q("pk", scope.communities(*OVERSIGHT_ROLES))
        if scope.organizations(*FILING_ROLES) or scope.granted_registrations:
            own_filings = in_q("organization_id", scope.organizations(*FILING_ROLES)) | in_q(
                "pk", scope.granted_registrations
            )
            condition |= Q(pk__in=Registration.objects.filter(own_filings).values("community_id"))
        communities = Community.objects.filter(condition)
    communities = list(communities.only("id", "slug", "name", "kind", "path", "parent_id").order_by("path"))
    if not communities:
        return CommunityTree()
    top = min(community.depth for community in communities)
    return CommunityTree([TreeNode(community, community.depth - top) for community in communities])


def default_community(*, user, scope: UserScope, tree: CommunityTree) -> Community | None:
    """Where the overview opens: the first community the user regulates or views (by tree order), else one
    they write policy for, else none (an organization member sees all of their organization's registrations)."""
    for roles in ((CommunityRole.REGULATOR, CommunityRole.VIEWER), OVERSIGHT_ROLES):
        own = set(scope.own_communities(*roles))
        community = next((node.community for node in tree if node.community.pk in own), None)
        if community is not None:
            return community
    return None


def community_roles(*, scope: UserScope, tree: CommunityTree) -> list[tuple[str, Community]]:
    """(role label, community) for each community role the user holds, in tree order: who they are here."""
    labels = dict(CommunityRole.choices)
    return [
        (labels[role], node.community)
        for node in tree
        for role in labels
        if node.community.pk in scope.member_communities.get(role, ())
    ]


def selected_community(request, *, tree: CommunityTree, scope: UserScope) -> Community | None:
    """The community named by `?community=<slug>` (404 if the user cannot pick it), or the default."""
    if "community" not in request.GET:
        return default_community(user=request.user, scope=scope, tree=tree)
    slug = request.GET["community"].strip()
    if not slug:  # `?community=` asks for everything the user can see
        return None
    community = tree.by_slug(slug)
    if community is None:
        raise Http404
    return community


def tree_links(tree: CommunityTree, *, current: Community | None, url: str) -> str:
    """The switcher's list items, written out here: the template engine spent ~0.5 ms per community on them,
    which for a nation's tree was most of the overview's rendering time."""
    kinds = dict(CommunityKind.choices)
    items = []
    for node in tree:
        community = node.community
        described = str(kinds.get(community.kind, community.kind))
        if node.depth:
            described = _("%(kind)s, level %(depth)s") % {"kind": described, "depth": node.depth}
        items.append(
            (
                node.depth,
                f"{url}?community={community.slug}",
                mark_safe(' aria-current="true"') if current is not None and community.pk == current.pk else "",
                mark_safe('<span aria-hidden="true">└ </span>') if node.depth else "",
                community.name,
                described,
            )
        )
    return format_html_join(
        "\n",
        '<li style="padding-left: {}rem"><a href="{}"{}>{}{} <span class="visually-hidden">({})</span></a></li>',
        items,
    )
