"""Filters for compliance results and findings, shared by the API and the dashboard.

Community filters resolve the slug to community ids first and filter on the registration's indexed
`community_id`, so a filtered page joins no community table.
"""

import django_filters
from django.utils import timezone

from governance.choices import FindingStatus, ResultCode, ResultStatus, RunStatus, RunTrigger, Severity
from governance.models import ComplianceResult, ComplianceRun, Finding
from registry.models import Community


def _community_ids(slug: str, *, tree: bool):
    communities = Community.objects.filter(slug=slug)
    if tree:
        community = communities.first()
        communities = Community.objects.subtree_of(community) if community else communities.none()
    return communities.values("pk")


class CommunityFiltersMixin(django_filters.FilterSet):
    community = django_filters.CharFilter(method="filter_community", help_text="Community slug (exact).")
    community_tree = django_filters.CharFilter(
        method="filter_community_tree", help_text="Community slug; includes every descendant community."
    )

    def filter_community(self, queryset, name, value):
        return queryset.filter(registration__community_id__in=_community_ids(value, tree=False))

    def filter_community_tree(self, queryset, name, value):
        return queryset.filter(registration__community_id__in=_community_ids(value, tree=True))


class ComplianceResultFilterSet(CommunityFiltersMixin):
    registration = django_filters.NumberFilter(field_name="registration_id")
    requirement = django_filters.CharFilter(field_name="requirement_code", help_text="Requirement code (exact).")
    framework = django_filters.CharFilter(field_name="framework__urn", help_text="Framework URN (exact).")
    status = django_filters.MultipleChoiceFilter(choices=ResultStatus.choices, distinct=False)
    code = django_filters.MultipleChoiceFilter(choices=ResultCode.choices, distinct=False)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, distinct=False)

    class Meta:
        model = ComplianceResult
        fields = []


class FindingFilterSet(CommunityFiltersMixin):
    registration = django_filters.NumberFilter(field_name="registration_id")
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="Owner organization slug.")
    requirement = django_filters.CharFilter(field_name="requirement_code", help_text="Requirement code (exact).")
    framework = django_filters.CharFilter(field_name="framework__urn", help_text="Framework URN (exact).")
    status = django_filters.MultipleChoiceFilter(choices=FindingStatus.choices, distinct=False)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, distinct=False)
    overdue = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_overdue",
        help_text="true: open and past the due date; false: all others.",
    )

    class Meta:
        model = Finding
        fields = []

    def filter_overdue(self, queryset, name, value):
        overdue = {"status": FindingStatus.OPEN, "due_on__lt": timezone.localdate()}
        return queryset.filter(**overdue) if value == "true" else queryset.exclude(**overdue)


class ComplianceRunFilterSet(django_filters.FilterSet):
    community = django_filters.CharFilter(field_name="community__slug", help_text="Community slug (exact).")
    status = django_filters.MultipleChoiceFilter(choices=RunStatus.choices, distinct=False)
    trigger = django_filters.MultipleChoiceFilter(choices=RunTrigger.choices, distinct=False)

    class Meta:
        model = ComplianceRun
        fields = []
