"""Reads that more than one interface needs (API, dashboard, exports)."""

from django.db.models import F, Q, QuerySet

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


def registration_api_rows(queryset: QuerySet[Registration]) -> QuerySet[Registration]:
    """Registrations with exactly the columns the API shows, related values annotated, one instance per row."""
    return queryset.only(*REGISTRATION_COLUMNS).annotate(**REGISTRATION_RELATED_COLUMNS)
