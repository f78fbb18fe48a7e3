import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from governance.choices import EvidenceStatus
from governance.querysets import RegistrationScopedQuerySet
from registry.models import Registration

from .frameworks import Framework


def evidence_upload_to(instance, filename):
    # Files live under a per-registration folder with a random name: uploaded names never become paths.
    import uuid
    from pathlib import Path

    return f"evidence/{instance.registration_id}/{uuid.uuid4().hex}{Path(filename).suffix.lower()[:10]}"


class Evidence(models.Model):
    """What a filer attaches to show a requirement is met, for a regulator to accept or reject."""

    registration = models.ForeignKey(
        Registration, verbose_name=_("registration"), on_delete=models.CASCADE, related_name="evidence"
    )
    framework = models.ForeignKey(Framework, verbose_name=_("framework"), on_delete=models.PROTECT, related_name="+")
    requirement_code = models.CharField(_("requirement code"), max_length=60)
    statement = models.TextField(_("statement"), max_length=5000)
    file = models.FileField(_("document"), upload_to=evidence_upload_to, blank=True, max_length=300)
    file_name = models.CharField(_("original file name"), max_length=255, blank=True)
    file_size = models.PositiveIntegerField(_("file size (bytes)"), null=True, blank=True)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    url = models.URLField(_("link"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=EvidenceStatus.choices, default=EvidenceStatus.SUBMITTED
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("submitted by")
    )
    submitted_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_comment = models.TextField(_("review comment"), max_length=2500, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    expires_on = models.DateField(_("accepted until"), null=True, blank=True)

    objects = RegistrationScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["-id"]
        indexes = [models.Index(fields=["registration", "framework", "requirement_code"], name="evidence_lookup")]
        constraints = [
            models.CheckConstraint(condition=~Q(file="") | ~Q(url=""), name="evidence_has_file_or_link"),
        ]

    def __str__(self):
        return f"{self.requirement_code} evidence for {self.registration_id}"

    def is_valid_on(self, day: datetime.date) -> bool:
        return self.status == EvidenceStatus.ACCEPTED and (self.expires_on is None or day < self.expires_on)


class Waiver(models.Model):
    """A regulator's decision that one requirement does not bind one registration, for a limited time."""

    registration = models.ForeignKey(
        Registration, verbose_name=_("registration"), on_delete=models.CASCADE, related_name="waivers"
    )
    framework = models.ForeignKey(Framework, verbose_name=_("framework"), on_delete=models.PROTECT, related_name="+")
    requirement_code = models.CharField(_("requirement code"), max_length=60)
    justification = models.TextField(_("justification"), max_length=5000)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("approved by")
    )
    created_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    expires_on = models.DateField(_("expires on"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RegistrationScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("waiver")
        verbose_name_plural = _("waivers")
        ordering = ["-id"]
        indexes = [models.Index(fields=["registration", "framework", "requirement_code"], name="waiver_lookup")]

    def __str__(self):
        return f"{self.requirement_code} waived for {self.registration_id} until {self.expires_on}"

    def is_valid_on(self, day: datetime.date) -> bool:
        return self.revoked_at is None and day < self.expires_on
