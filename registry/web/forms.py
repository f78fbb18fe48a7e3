"""Filter forms of the dashboard's lists.

The registrations list filters with the API's `RegistrationFilterSet`, so a dashboard URL and an API URL with
the same parameters mean the same rows; this subclass only adds what the dashboard needs on top (compliance
status, organization names in the search, the community picked from the user's tree) and friendlier widgets.
"""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from registry.filtersets import RegistrationFilterSet
from registry.models import Organization

# Sortable columns: the `sort` parameter's value (optionally with a leading "-") → the ORM ordering.
SORTS = {
    "id": ("id",),
    "name": ("system__name", "id"),
    "organization": ("organization__name", "id"),
    "community": ("community__name", "id"),
    "status": ("status", "id"),
    "risk_tier": ("risk_tier", "id"),
    "compliance_status": ("compliance_status", "id"),
    "updated_at": ("updated_at", "id"),
}
DEFAULT_SORT = "-id"


def sort_ordering(sort: str) -> list[str]:
    """The ORM ordering for a whitelisted `sort` value; unknown values fall back to newest first."""
    descending = sort.startswith("-")
    columns = SORTS.get(sort.lstrip("-"))
    if columns is None:
        return ["-id"]
    return [f"-{column}" if descending else column for column in columns]


class DashboardRegistrationFilterSet(RegistrationFilterSet):
    """The API's registration filters, plus compliance status and a community tree from the user's scope.

    `community` here means the community with its descendants (what a regulator oversees); the ids come from
    the tree the view already loaded, so the filter is a flat `community_id IN (...)` and needs no join.
    """

    community = django_filters.ChoiceFilter(
        label=_("Community"), method="filter_community_subtree", empty_label=_("All my communities")
    )
    organization = django_filters.CharFilter(
        field_name="organization__slug",
        label=_("Organization (slug)"),
        widget=forms.TextInput(attrs={"placeholder": _("e.g. avalon-it"), "autocomplete": "off"}),
    )
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_text",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name, purpose, vendor or organization"), "autocomplete": "off"}
        ),
    )

    class Meta(RegistrationFilterSet.Meta):
        fields = []

    # The API's choice filters (without DISTINCT, see registry/filtersets.py), with the dashboard's labels.
    LABELS = {
        "status": _("Status"),
        "risk_tier": _("Risk tier"),
        "compliance_status": _("Compliance"),
        "lifecycle_stage": _("Lifecycle stage"),
    }

    def __init__(self, *args, tree=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in self.LABELS.items():
            self.filters[name].label = label
        self.tree = tree
        choices = []
        for node in tree or ():
            indent = "\u00a0\u00a0" * node.depth
            choices.append((node.community.slug, f"{indent}{node.community.name}"))
        self.filters["community"].extra["choices"] = choices

    def filter_community_subtree(self, queryset, name, value):
        community = self.tree.by_slug(value) if self.tree is not None else None
        if community is None:
            return queryset.none()
        return queryset.filter(community_id__in=self.tree.subtree_ids(community))

    def text_q(self, value: str) -> Q:
        """The API's text search, plus the organization's name."""
        return super().text_q(value) | Q(
            organization_id__in=Organization.objects.filter(name__icontains=value).values("pk")
        )
