"""The audit trail: services call `audit_record` for every change they make."""

import datetime
from decimal import Decimal

from registry.models import AuditEvent


def to_json_value(value):
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return value


def snapshot(instance, fields) -> dict:
    """JSON-safe values of `fields`, foreign keys as ids."""
    values = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = field.attname if field.is_relation else name
        values[name] = to_json_value(getattr(instance, attname))
    return values


def diff(before: dict, after: dict) -> dict:
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}


def audit_record(
    *,
    actor,
    action: str,
    target,
    changes: dict | None = None,
    comment: str = "",
    registration_id: int | None = None,
    system_id: int | None = None,
    community_id: int | None = None,
    organization_id: int | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_username=getattr(actor, "username", "") or "",
        action=action,
        target_type=target._meta.label_lower,
        target_id=target.pk,
        target_repr=str(target)[:300],
        changes=changes or {},
        comment=comment,
        registration_id=registration_id,
        system_id=system_id,
        community_id=community_id,
        organization_id=organization_id,
    )
