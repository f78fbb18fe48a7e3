"""Reads that more than one interface needs (API, dashboard, exports)."""

from django.db.models import Q, QuerySet

from registry.models import AuditEvent, Registration


def registration_history(*, registration: Registration) -> QuerySet[AuditEvent]:
    """Every recorded change to the registration and to the system it registers, newest first."""
    return AuditEvent.objects.filter(
        Q(registration_id=registration.pk) | Q(system_id=registration.system_id, registration_id__isnull=True)
    ).order_by("-id")
