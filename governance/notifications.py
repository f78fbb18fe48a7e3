"""Telling people when a registration's compliance changes (issue 5, "Notifications on transitions").

The engine calls `notify_status_changes` inside its write transaction, possibly for thousands of
registrations in one sweep chunk. So that call only filters and packs ids, and queues one task per batch
with `transaction.on_commit`: a rolled-back chunk tells nobody anything, and no mail or HTTP request ever
runs while the engine holds its locks. The task (`governance.send_notifications`, in registry/tasks.py so
Celery's autodiscovery finds it) then reads everything it needs in a handful of queries and sends:

- one e-mail per person per batch (a digest when several of their registrations changed), to the
  filing organization's admins and to the regulators of the registration's community and of every
  ancestor community, since regulators oversee their whole subtree. Regulators never hear about drafts,
  which they cannot see (registry.querysets.oversight_q);
- one webhook delivery per event to each active webhook of the organization subscribed to it.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

logger = logging.getLogger(__name__)

# One task per batch; a sweep chunk that changes more than this is split so no task message grows unbounded.
NOTIFY_BATCH_SIZE = 1000

FINDING_KINDS = ("opened", "closed", "reopened")
# A first sweep may change a regulator's whole register at once: list this many, then link the dashboard.
DIGEST_LIMIT = 50
SUBJECT_LIMIT = 200


def _compact(change: dict) -> dict:
    return {
        "registration": int(change["registration"]),
        "from": change.get("from") or "",
        "to": change.get("to") or "",
        "opened": [int(pk) for pk in change.get("opened") or ()],
        "closed": [int(pk) for pk in change.get("closed") or ()],
        "reopened": [int(pk) for pk in change.get("reopened") or ()],
        "run": change.get("run"),
    }


def _is_news(change: dict) -> bool:
    return change["from"] != change["to"] or any(change[kind] for kind in FINDING_KINDS)


def notify_status_changes(changes: list[dict]) -> None:
    """Queue notifications for `changes` once the caller's transaction commits.

    Each change is `{"registration": id, "from": old status, "to": new status, "opened": [finding ids],
    "closed": [...], "reopened": [...], "run": run id or None}`. Changes that changed nothing are dropped.
    Cheap on purpose: no queries here, only ids packed into task messages.
    """
    from registry.tasks import send_notifications

    batch = [change for change in map(_compact, changes) if _is_news(change)]
    for start in range(0, len(batch), NOTIFY_BATCH_SIZE):
        # The batch id makes the task's webhook deliveries idempotent if the broker delivers it twice.
        chunk = batch[start : start + NOTIFY_BATCH_SIZE]
        transaction.on_commit(partial(send_notifications.delay, chunk, uuid.uuid4().hex))


# The task's side ---------------------------------------------------------------------------------------------


def registration_url(registration_id: int) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("web:registration-detail", args=[registration_id])


def _status_label(value: str) -> str:
    from registry.choices import ComplianceStatus

    return str(ComplianceStatus(value).label) if value in ComplianceStatus.values else value or _("none")


def _recipients(registrations) -> dict[int, set[str]]:
    """Registration id → e-mail addresses of the people to tell, in two queries."""
    from registry.choices import CommunityRole, OrganizationRole, RegistrationStatus
    from registry.models import CommunityMembership, OrganizationMembership

    organization_ids = {registration.organization_id for registration in registrations}
    overseen = [registration for registration in registrations if registration.status != RegistrationStatus.DRAFT]
    community_ids = {
        pk for registration in overseen for pk in (registration.community_id, *registration.community.ancestor_ids())
    }
    admins: dict[int, set[str]] = {}
    for organization_id, email in (
        OrganizationMembership.objects.filter(
            organization_id__in=organization_ids, role=OrganizationRole.ADMIN, user__is_active=True
        )
        .exclude(user__email="")
        .values_list("organization_id", "user__email")
    ):
        admins.setdefault(organization_id, set()).add(email.lower())
    regulators: dict[int, set[str]] = {}
    if community_ids:
        for community_id, email in (
            CommunityMembership.objects.filter(
                community_id__in=community_ids, role=CommunityRole.REGULATOR, user__is_active=True
            )
            .exclude(user__email="")
            .values_list("community_id", "user__email")
        ):
            regulators.setdefault(community_id, set()).add(email.lower())

    recipients = {}
    for registration in registrations:
        people = set(admins.get(registration.organization_id, ()))
        if registration.status != RegistrationStatus.DRAFT:
            for community_id in (registration.community_id, *registration.community.ancestor_ids()):
                people |= regulators.get(community_id, set())
        recipients[registration.pk] = people
    return recipients


def _finding_line(finding) -> str:
    return _("%(code)s %(title)s (%(severity)s), due %(due)s") % {
        "code": finding.requirement_code,
        "title": finding.title,
        "severity": finding.get_severity_display(),
        "due": finding.due_on.isoformat(),
    }


def _change_text(registration, change: dict, findings: dict) -> str:
    lines = [
        _("%(system)s in %(community)s (%(organization)s)")
        % {
            "system": registration.system.name,
            "community": registration.community.name,
            "organization": registration.organization.name,
        }
    ]
    if change["from"] != change["to"]:
        lines.append(
            "  "
            + _("Compliance status: %(old)s → %(new)s")
            % {"old": _status_label(change["from"]), "new": _status_label(change["to"])}
        )
    else:
        lines.append("  " + _("Compliance status: %(status)s") % {"status": _status_label(change["to"])})
    headings = {
        "opened": _("Findings opened:"),
        "closed": _("Findings closed:"),
        "reopened": _("Findings reopened:"),
    }
    for kind in FINDING_KINDS:
        listed = [findings[pk] for pk in change[kind] if pk in findings]
        if listed:
            lines.append("  " + headings[kind])
            lines.extend("    - " + _finding_line(finding) for finding in listed)
    lines.append("  " + registration_url(registration.pk))
    return "\n".join(lines)


def _subject(items) -> str:
    prefix = getattr(settings, "EMAIL_SUBJECT_PREFIX", "")
    if len(items) == 1:
        registration, change = items[0]
        subject = _("%(system)s in %(community)s: %(status)s") % {
            "system": registration.system.name,
            "community": registration.community.name,
            "status": _status_label(change["to"]),
        }
    else:
        subject = ngettext(
            "Compliance changed for %(count)d registration",
            "Compliance changed for %(count)d registrations",
            len(items),
        ) % {"count": len(items)}
    # Names are filers' free text: a line break in a header would make Django refuse the whole batch.
    return " ".join(f"{prefix}{subject}".split())[:SUBJECT_LIMIT]


def _email_messages(registrations: dict, batch: list[dict], findings: dict) -> list[EmailMessage]:
    recipients = _recipients(list(registrations.values()))
    per_person: dict[str, list] = {}
    for change in batch:
        registration = registrations.get(change["registration"])
        if registration is None:
            continue
        for email in recipients.get(registration.pk, ()):
            per_person.setdefault(email, []).append((registration, change))
    messages = []
    for email, items in sorted(per_person.items()):
        intro = ngettext(
            "The compliance of %(count)d registration you follow has changed.",
            "The compliance of %(count)d registrations you follow has changed.",
            len(items),
        ) % {"count": len(items)}
        parts = [
            intro,
            *(_change_text(registration, change, findings) for registration, change in items[:DIGEST_LIMIT]),
        ]
        if len(items) > DIGEST_LIMIT:
            parts.append(
                _("…and %(count)d more: %(url)s")
                % {"count": len(items) - DIGEST_LIMIT, "url": settings.SITE_URL.rstrip("/") + reverse("web:dashboard")}
            )
        # One message per person, so that no recipient sees who else was told.
        messages.append(EmailMessage(subject=_subject(items), body="\n\n".join(parts) + "\n", to=[email]))
    return messages


def notifications_send(*, batch: list[dict], batch_id: str | None = None) -> dict:
    """Send the e-mails and queue the webhook deliveries for one batch of changes; returns counts."""
    from governance.models import Finding
    from registry.models import Registration

    batch = [change for change in map(_compact, batch) if _is_news(change)]
    registrations = Registration.objects.select_related("system", "community", "organization").in_bulk(
        {change["registration"] for change in batch}
    )
    finding_ids = {pk for change in batch for kind in FINDING_KINDS for pk in change[kind]}
    findings = Finding.objects.in_bulk(finding_ids) if finding_ids else {}

    # Webhook deliveries first: they are rows, retried on their own, and must not be lost to a mail outage.
    deliveries = _queue_webhooks(registrations, batch, findings, batch_id=batch_id or uuid.uuid4().hex)
    with translation.override(settings.LANGUAGE_CODE):
        messages = _email_messages(registrations, batch, findings)
    sent = 0
    if messages:
        try:
            with get_connection() as connection:
                sent = connection.send_messages(messages) or 0
        except Exception:
            # Not retried: a retry would queue the webhook deliveries twice. The failure is in the logs.
            logger.exception("Could not send %d compliance notification e-mails", len(messages))
    logger.info("Notifications: %d e-mails, %d webhook deliveries for %d changes", sent, deliveries, len(batch))
    return {"emails": sent, "webhook_deliveries": deliveries}


def _registration_data(registration, change: dict) -> dict:
    return {
        "id": registration.pk,
        "url": registration_url(registration.pk),
        "status": registration.status,
        "compliance_status": change["to"],
        "system": {"id": registration.system_id, "name": registration.system.name},
        "community": {"slug": registration.community.slug, "name": registration.community.name},
    }


def _finding_data(finding) -> dict:
    return {
        "id": finding.pk,
        "requirement_code": finding.requirement_code,
        "title": finding.title,
        "severity": finding.severity,
        "status": finding.status,
        "reason": finding.reason,
        "due_on": finding.due_on.isoformat(),
        "opened_at": finding.opened_at.isoformat(),
        "closed_at": finding.closed_at.isoformat() if finding.closed_at else None,
        "reopened_count": finding.reopened_count,
    }


def _webhook_events(registration, change: dict, findings: dict) -> list[tuple[str, dict, str]]:
    """(event, data, key) for one change: the status change, then one event per finding. The key says
    what the event is about, unique within a batch (see webhook_deliveries_queue)."""
    from registry.models import WebhookEvent

    registration_data = _registration_data(registration, change)
    listed = {kind: [findings[pk] for pk in change[kind] if pk in findings] for kind in FINDING_KINDS}
    events = []
    if change["from"] != change["to"]:
        events.append(
            (
                WebhookEvent.STATUS_CHANGED,
                {
                    "registration": registration_data,
                    "from": change["from"],
                    "to": change["to"],
                    "run": change["run"],
                    "findings": {kind: [_finding_data(f) for f in listed[kind]] for kind in FINDING_KINDS},
                },
                f"{registration.pk}:{WebhookEvent.STATUS_CHANGED}",
            )
        )
    for kind in FINDING_KINDS:
        for finding in listed[kind]:
            events.append(
                (
                    f"finding.{kind}",
                    {"registration": registration_data, "finding": _finding_data(finding), "run": change["run"]},
                    f"{registration.pk}:finding.{kind}:{finding.pk}",
                )
            )
    return events


def _queue_webhooks(registrations: dict, batch: list[dict], findings: dict, *, batch_id: str) -> int:
    """Pending deliveries for every active webhook subscribed to an event, written in one statement."""
    from registry.models import Webhook
    from registry.services.webhooks import webhook_deliveries_queue

    organization_ids = {registration.organization_id for registration in registrations.values()}
    webhooks: dict[int, list] = {}
    for webhook in Webhook.objects.filter(organization_id__in=organization_ids, active=True).select_related(
        "organization"
    ):
        webhooks.setdefault(webhook.organization_id, []).append(webhook)
    if not webhooks:
        return 0
    events, keys = [], []
    for change in batch:
        registration = registrations.get(change["registration"])
        if registration is None or registration.organization_id not in webhooks:
            continue
        for event, data, key in _webhook_events(registration, change, findings):
            for webhook in webhooks[registration.organization_id]:
                if event in webhook.events:
                    events.append((webhook, event, data))
                    keys.append(key)
    return len(webhook_deliveries_queue(events=events, batch_id=batch_id, keys=keys))
