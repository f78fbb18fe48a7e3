"""Outgoing webhooks: an organization's own systems calling it back when compliance changes (issue 5).

The signing scheme and payloads are documented for receivers in docs/webhooks.md.
"""

import secrets
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from registry.choices import OrganizationRole
from registry.permissions import FILING_ROLES, NOTHING, Action, in_q
from registry.querysets import RestrictedQuerySet

from .organizations import Organization

# Plain http is only for a receiver on this machine (development and the tests' local receiver).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
HTTPS_REQUIRED = _("Use an https:// URL (plain http only for localhost).")
EVENTS_REQUIRED = _("Subscribe to at least one event.")
UNKNOWN_EVENT = _("Unknown event %(event)s; choose from %(events)s.")


class WebhookEvent(models.TextChoices):
    STATUS_CHANGED = "compliance.status_changed", _("A registration's compliance status changed")
    FINDING_OPENED = "finding.opened", _("A finding was opened")
    FINDING_CLOSED = "finding.closed", _("A finding was closed")
    FINDING_REOPENED = "finding.reopened", _("A finding was reopened")


PING_EVENT = "ping"  # a test delivery; every webhook receives it on request, whatever it subscribes to


def generate_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def validate_webhook_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and (settings.DEBUG or (parts.hostname or "") in LOCAL_HOSTS):
        return
    raise ValidationError(HTTPS_REQUIRED, code="https_required")


def validate_webhook_events(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(EVENTS_REQUIRED, code="events_required")
    for event in value:
        if event not in WebhookEvent.values:
            raise ValidationError(
                UNKNOWN_EVENT, code="unknown_event", params={"event": event, "events": ", ".join(WebhookEvent.values)}
            )


class WebhookQuerySet(RestrictedQuerySet):
    """An organization's members read its webhooks; its admins manage them; nobody else sees them."""

    def restriction(self, user, action, scope):
        if action == Action.VIEW:
            return in_q("organization_id", scope.organizations(*FILING_ROLES))
        if action == Action.CHANGE:
            return in_q("organization_id", scope.organizations(OrganizationRole.ADMIN))
        return NOTHING


class WebhookDeliveryQuerySet(RestrictedQuerySet):
    """Deliveries follow their webhook: members read the log; admins may queue (ping) and retry."""

    def restriction(self, user, action, scope):
        if action == Action.VIEW:
            return in_q("webhook__organization_id", scope.organizations(*FILING_ROLES))
        if action == Action.CHANGE:
            return in_q("webhook__organization_id", scope.organizations(OrganizationRole.ADMIN))
        return NOTHING


class Webhook(models.Model):
    """A URL an organization registered to receive signed JSON events about its registrations.

    The secret is generated here, shown once in the create response and kept to sign every delivery;
    receivers verify `X-Commons-Signature` with it.
    """

    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(_("URL"), max_length=500, validators=[validate_webhook_url])
    secret = models.CharField(_("signing secret"), max_length=128, default=generate_webhook_secret, editable=False)
    events = models.JSONField(_("events"), default=list, validators=[validate_webhook_events])
    active = models.BooleanField(_("active"), default=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["organization_id", "id"]
        indexes = [models.Index(fields=["organization", "active"], name="webhook_organization_active")]

    def __str__(self):
        return f"{self.url} ({self.organization_id})"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook, with every attempt logged on the row.

    `delivery_id` travels in `X-Commons-Delivery` and stays the same across retries, so a receiver can
    drop duplicates.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    webhook = models.ForeignKey(Webhook, verbose_name=_("webhook"), on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(_("event"), max_length=64)
    payload = models.JSONField(_("payload"))
    delivery_id = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_code = models.PositiveSmallIntegerField(_("last response code"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    log = models.JSONField(
        _("attempt log"), default=list, blank=True, help_text=_("One entry per attempt: time, response code, error.")
    )
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["webhook", "-id"], name="webhook_delivery_log"),
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_pending", condition=Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.event} → webhook {self.webhook_id} ({self.status})"
