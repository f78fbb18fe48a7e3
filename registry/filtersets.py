"""Filters shared by the API and the dashboard, so a list means the same thing in both."""

import django_filters
from django.db.models import Q

from registry.choices import ComplianceStatus, LifecycleStage, RegistrationStatus, RiskTier
from registry.models import AISystem, Community, Registration


class RegistrationFilterSet(django_filters.FilterSet):
    # Every filter follows a single-valued relation, so no row can repeat: `distinct=False` spares PostgreSQL a
    # DISTINCT over 100,000 rows that made a filtered page take seconds.
    community = django_filters.CharFilter(field_name="community__slug", help_text="Community slug (exact).")
    community_tree = django_filters.CharFilter(
        method="filter_community_tree", help_text="Community slug; includes every descendant community."
    )
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="Organization slug.")
    system = django_filters.NumberFilter(field_name="system_id")
    status = django_filters.MultipleChoiceFilter(choices=RegistrationStatus.choices, distinct=False)
    risk_tier = django_filters.MultipleChoiceFilter(choices=RiskTier.choices, distinct=False)
    compliance_status = django_filters.MultipleChoiceFilter(choices=ComplianceStatus.choices, distinct=False)
    lifecycle_stage = django_filters.MultipleChoiceFilter(
        field_name="system__lifecycle_stage", choices=LifecycleStage.choices, distinct=False
    )
    q = django_filters.CharFilter(method="filter_text", help_text="Text in the system's name, purpose or vendor.")
    submitted_after = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="lt")

    class Meta:
        model = Registration
        fields = []

    def filter_community_tree(self, queryset, name, value):
        path = Community.objects.filter(slug=value).values_list("path", flat=True).first()
        if path is None:
            return queryset.none()
        return queryset.filter(community__path__startswith=path)

    def filter_text(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(self.text_q(value)) if value else queryset

    def text_q(self, value: str) -> Q:
        """An id subquery rather than an OR across a join, so PostgreSQL answers it from the trigram indexes
        (registry migration 0006) instead of scanning every registration with its system."""
        systems = AISystem.objects.filter(
            Q(name__icontains=value) | Q(purpose__icontains=value) | Q(vendor__icontains=value)
        ).values("pk")
        return Q(system_id__in=systems)


class AISystemFilterSet(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug")
    lifecycle_stage = django_filters.MultipleChoiceFilter(choices=LifecycleStage.choices, distinct=False)
    q = django_filters.CharFilter(method="filter_text")

    class Meta:
        model = AISystem
        fields = []

    def filter_text(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(purpose__icontains=value)) if value else queryset


class CommunityFilterSet(django_filters.FilterSet):
    parent = django_filters.CharFilter(field_name="parent__slug")
    kind = django_filters.CharFilter()

    class Meta:
        model = Community
        fields = []
