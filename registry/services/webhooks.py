"""Webhooks: registering them (audited, admins only) and delivering signed events with retries.

Signing scheme (docs/webhooks.md is the receiver's copy):

    X-Commons-Timestamp: <unix seconds when this attempt was sent>
    X-Commons-Signature: sha256=<hex HMAC-SHA256(key=secret, msg=timestamp + "." + raw body)>

The timestamp is inside the signed content so a captured request cannot be replayed later: receivers
reject timestamps older than a few minutes. `X-Commons-Delivery` (a UUID, the same on every retry) lets
them drop duplicates, and `X-Commons-Event` names the event.
"""

import datetime
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from registry.choices import OrganizationRole
from registry.models import Organization, Webhook, WebhookDelivery
from registry.models.webhooks import PING_EVENT, generate_webhook_secret
from registry.permissions import Action, is_active_user, user_scope

from .audit import audit_record, diff, snapshot
from .common import apply_fields, locked_for, require

logger = logging.getLogger(__name__)

WEBHOOK_FIELDS = {"url", "events", "active", "description"}
# Delay before attempt n + 1 after attempt n failed: 10 s, 1 min, 5 min, 30 min, 2 h; then the delivery fails.
RETRY_DELAYS = (10, 60, 5 * 60, 30 * 60, 2 * 60 * 60)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
CONNECT_TIMEOUT, READ_TIMEOUT = 3.0, 5.0
USER_AGENT = "CommonsRegistry-Webhooks/1"
MAX_LOGGED_ERROR = 500
INACTIVE = "The webhook is inactive."
# A pending delivery this late past its due time has lost its task (see webhook_deliveries_requeue).
STUCK_AFTER = datetime.timedelta(minutes=15)
PRIVATE_ADDRESS = "%(host)s resolves to %(address)s, a private address: deliveries there are refused."

_pool = None


def _http() -> urllib3.PoolManager:
    """One connection pool per process; never follows redirects and never retries by itself."""
    global _pool
    if _pool is None:
        _pool = urllib3.PoolManager(num_pools=50, retries=False, maxsize=4)
    return _pool


def _validate(webhook: Webhook) -> None:
    webhook.full_clean(exclude=["organization", "created_by"], validate_constraints=False)


def _may_manage(actor, organization: Organization) -> bool:
    """Only the organization's admins (and superusers): staff rights over organizations do not extend to
    their webhooks, which point at the organization's own systems."""
    if not is_active_user(actor):
        return False
    return actor.is_superuser or organization.pk in user_scope(actor).organizations(OrganizationRole.ADMIN)


@transaction.atomic
def webhook_create(
    *, actor, organization: Organization, url: str, events: list[str], active: bool = True, description: str = ""
) -> Webhook:
    """A new webhook with a server-generated secret; the caller shows `webhook.secret` once."""
    require(_may_manage(actor, organization))
    webhook = Webhook(
        organization=organization,
        url=url,
        events=list(dict.fromkeys(events)),
        active=active,
        description=description,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        secret=generate_webhook_secret(),
    )
    _validate(webhook)
    webhook.save()
    audit_record(
        actor=actor,
        action="webhook.created",
        target=webhook,
        changes=diff({}, snapshot(webhook, WEBHOOK_FIELDS)),  # never the secret
        organization_id=organization.pk,
    )
    return webhook


@transaction.atomic
def webhook_update(*, webhook: Webhook, actor, **data) -> Webhook:
    webhook = locked_for(Webhook.objects, pk=webhook.pk, actor=actor, action=Action.CHANGE)
    before = snapshot(webhook, WEBHOOK_FIELDS)
    if "events" in data:
        data["events"] = list(dict.fromkeys(data["events"]))
    apply_fields(webhook, data, WEBHOOK_FIELDS)
    _validate(webhook)
    webhook.save()
    changes = diff(before, snapshot(webhook, WEBHOOK_FIELDS))
    if changes:
        audit_record(
            actor=actor,
            action="webhook.updated",
            target=webhook,
            changes=changes,
            organization_id=webhook.organization_id,
        )
    return webhook


@transaction.atomic
def webhook_rotate_secret(*, webhook: Webhook, actor) -> Webhook:
    """A new signing secret, effective for every attempt from now on (pending retries included); the caller
    shows it once, as on create."""
    webhook = locked_for(Webhook.objects, pk=webhook.pk, actor=actor, action=Action.CHANGE)
    webhook.secret = generate_webhook_secret()
    webhook.save(update_fields=["secret", "updated_at"])
    audit_record(actor=actor, action="webhook.secret_rotated", target=webhook, organization_id=webhook.organization_id)
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook, actor) -> None:
    webhook = locked_for(Webhook.objects, pk=webhook.pk, actor=actor, action=Action.CHANGE)
    audit_record(
        actor=actor,
        action="webhook.deleted",
        target=webhook,
        changes={name: [value, None] for name, value in snapshot(webhook, WEBHOOK_FIELDS).items()},
        organization_id=webhook.organization_id,
    )
    webhook.delete()


def webhook_sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """Hex HMAC-SHA256 of `timestamp.body` keyed with the webhook's secret (the scheme in the module doc)."""
    return hmac.new(secret.encode(), str(int(timestamp)).encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_payload(*, event: str, delivery_id, data: dict, organization: Organization) -> dict:
    return {
        "id": str(delivery_id),
        "event": event,
        "created_at": timezone.now().isoformat(),
        "organization": organization.slug,
        "data": data,
    }


def webhook_deliveries_queue(
    *, events: list[tuple[Webhook, str, dict]], batch_id: str | None = None, keys: list[str] | None = None
) -> list[WebhookDelivery]:
    """Store one pending delivery per (webhook, event, data) in one statement and send each after commit.

    With `batch_id` and one key per event (what the event is about, e.g. "12:finding.opened:40"), delivery
    ids are derived from them instead of drawn at random: a notification task that runs twice (a worker
    died and the broker redelivered it) finds its deliveries already written and adds none.
    """
    namespace = uuid.UUID(batch_id) if batch_id else None
    deliveries = []
    for index, (webhook, event, data) in enumerate(events):
        delivery = WebhookDelivery(webhook=webhook, event=event, payload={})
        if namespace is not None and keys is not None:
            delivery.delivery_id = uuid.uuid5(namespace, f"{webhook.pk}:{keys[index]}")
        delivery.payload = webhook_payload(
            event=event, delivery_id=delivery.delivery_id, data=data, organization=webhook.organization
        )
        deliveries.append(delivery)
    if not deliveries:
        return []
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(deliveries, batch_size=1000, ignore_conflicts=namespace is not None)
        ids = list(
            WebhookDelivery.objects.filter(
                delivery_id__in=[delivery.delivery_id for delivery in deliveries],
                status=WebhookDelivery.Status.PENDING,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: _send_later(ids))
    return deliveries


def webhook_deliveries_requeue(*, stuck_after: datetime.timedelta = STUCK_AFTER, limit: int = 5000) -> int:
    """Queue again the pending deliveries whose task was lost: a worker that died after writing the rows
    but before queueing them, or a retry the broker dropped. Meant for a periodic beat task."""
    cutoff = timezone.now() - stuck_after
    ids = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, created_at__lt=cutoff))
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    _send_later(ids)
    return len(ids)


def _send_later(ids: list[int]) -> None:
    from registry.tasks import deliver_webhook

    for pk in ids:
        deliver_webhook.delay(pk)


def webhook_ping(*, webhook: Webhook, actor) -> WebhookDelivery:
    """Queue a test delivery so an admin can check the receiver and its signature verification."""
    webhook = locked_for(
        Webhook.objects.select_related("organization"), pk=webhook.pk, actor=actor, action=Action.CHANGE
    )
    (delivery,) = webhook_deliveries_queue(
        events=[(webhook, PING_EVENT, {"webhook": webhook.pk, "url": webhook.url, "events": webhook.events})]
    )
    return delivery


def blocked_address(url: str) -> str:
    """Why `url`'s host must not be called, or "" if it may.

    A webhook URL is chosen by an organization admin, so without this check the workers would POST into
    the server's own network (cloud metadata at 169.254.169.254, internal services) and report back what
    answered. Loopback stays allowed, as the issue asks (local receivers); private, link-local and
    reserved addresses are refused unless WEBHOOK_ALLOW_PRIVATE_NETWORKS (default: DEBUG). The name is
    resolved again when urllib3 connects, so DNS rebinding can slip through: a firewall on the workers'
    egress is the complete answer.
    """
    if getattr(settings, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", False):
        return ""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return ""  # let the connection attempt report the failure
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_loopback:
            continue
        if ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
            return PRIVATE_ADDRESS % {"host": host, "address": ip}
    return ""


def _attempt(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the payload once; (response code, error text), the error empty on a 2xx."""
    webhook = delivery.webhook
    blocked = blocked_address(webhook.url)
    if blocked:
        return None, blocked
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Commons-Event": delivery.event,
        "X-Commons-Delivery": str(delivery.delivery_id),
        "X-Commons-Timestamp": str(timestamp),
        "X-Commons-Signature": "sha256=" + webhook_sign(webhook.secret, body, timestamp=timestamp),
    }
    try:
        response = _http().request(
            "POST",
            webhook.url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
            redirect=False,
            retries=False,
            preload_content=False,
        )
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        return None, (f"{type(exc).__name__}: {exc}")[:MAX_LOGGED_ERROR]
    try:
        code = response.status
    finally:
        response.close()  # the body is never read: a receiver cannot make us download anything
    if 200 <= code < 300:
        return code, ""
    if 300 <= code < 400:
        return code, f"HTTP {code}: redirects are not followed (to {response.headers.get('Location', '')})"[
            :MAX_LOGGED_ERROR
        ]
    return code, f"HTTP {code}"


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """One attempt at a pending delivery, logged on its row; schedules the next attempt or gives up.

    Idempotent: a delivery that already succeeded or failed is not sent again, and the row stays locked
    while it is being sent (another worker holding it gets None), so redelivered task messages never
    send twice at once. Returns the delivery; `next_attempt_at` is set when a retry is due.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return delivery
        started = time.monotonic()
        if not delivery.webhook.active and delivery.event != PING_EVENT:
            code, error = None, INACTIVE
            delivery.attempts = MAX_ATTEMPTS - 1  # deactivated since it was queued: give up now
        else:
            code, error = _attempt(delivery)
        logger.info("Webhook delivery %s attempt %d: %s", delivery.delivery_id, delivery.attempts + 1, code or error)
        delivery.log = [
            *delivery.log,
            {
                "attempt": delivery.attempts + 1,
                "at": timezone.now().isoformat(),
                "response_code": code,
                "error": error,
                "duration_ms": round((time.monotonic() - started) * 1000),
            },
        ]
        now = timezone.now()
        delivery.attempts += 1
        delivery.response_code = code
        delivery.last_error = error
        if not error:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + datetime.timedelta(seconds=RETRY_DELAYS[delivery.attempts - 1])
        delivery.save(
            update_fields=[
                "attempts",
                "response_code",
                "last_error",
                "log",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
    return delivery
