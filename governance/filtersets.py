"""Filters for the governance API, shared with the dashboard so a list means the same thing in both."""

import django_filters

from governance.models import Evidence, Framework, Waiver


class FrameworkFilterSet(django_filters.FilterSet):
    community = django_filters.CharFilter(field_name="community__slug", help_text="Community slug (exact).")
    baseline = django_filters.BooleanFilter(
        field_name="community", lookup_expr="isnull", help_text="true: global baselines only; false: communities'."
    )

    class Meta:
        model = Framework
        fields = []


class EvidenceFilterSet(django_filters.FilterSet):
    registration = django_filters.NumberFilter(field_name="registration_id")

    class Meta:
        model = Evidence
        fields = ["status", "requirement_code"]


class WaiverFilterSet(django_filters.FilterSet):
    registration = django_filters.NumberFilter(field_name="registration_id")

    class Meta:
        model = Waiver
        fields = ["requirement_code"]
