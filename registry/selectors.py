"""Reads that more than one interface needs (API, dashboard, exports)."""

import functools

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from registry.models import AuditEvent, Registration


def registration_history(*, registration: Registration) -> QuerySet[AuditEvent]:
    """Every recorded change to the registration and to the system it registers, newest first."""
    return AuditEvent.objects.filter(
        Q(registration_id=registration.pk) | Q(system_id=registration.system_id, registration_id__isnull=True)
    ).order_by("-id")


# What a registration's API representation reads from related rows, fetched as plain columns: building a
# model instance per related row cost more than the page query itself (bench/api_list.py).
REGISTRATION_RELATED_COLUMNS = {
    "system_name": F("system__name"),
    "system_lifecycle_stage": F("system__lifecycle_stage"),
    "community_slug": F("community__slug"),
    "organization_slug": F("organization__slug"),
    "reviewer_username": F("reviewer__username"),
}
REGISTRATION_COLUMNS = (
    "id",
    "system_id",
    "organization_id",
    "community_id",
    "status",
    "risk_tier",
    "compliance_status",
    "deployment_context",
    "deployment_date",
    "disclosure",
    "version",
    "reviewer_id",
    "review_comment",
    "submitted_at",
    "decided_at",
    "retired_at",
    "created_at",
    "updated_at",
)


@functools.cache
def open_findings_count():
    """A registration's open findings, counted in a correlated subquery on the findings' registration index:
    the list stays one query, and the findings themselves are one link away (/findings/?registration=<id>).

    Built once: constructing the subquery per request cost more than running it."""
    from governance.choices import FindingStatus
    from governance.models import Finding

    counts = (
        Finding.objects.filter(registration_id=OuterRef("pk"), status=FindingStatus.OPEN)
        .order_by()
        .values("registration_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(counts), 0)


def registration_api_rows(queryset: QuerySet[Registration]) -> QuerySet[Registration]:
    """Registrations with exactly the columns the API shows, related values annotated, one instance per row."""
    return queryset.only(*REGISTRATION_COLUMNS).annotate(
        **REGISTRATION_RELATED_COLUMNS, open_findings=open_findings_count()
    )
