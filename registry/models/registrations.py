from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from registry.choices import ComplianceStatus, Disclosure, RegistrationStatus, RiskTier
from registry.querysets import RegistrationQuerySet

from .communities import Community
from .organizations import Organization
from .systems import DEFAULT_RESTRICTED_FIELDS, DISCLOSABLE_FIELDS, MEDIUM_TEXT, AISystem


class Registration(models.Model):
    """One AI system in one community's register.

    Compliance is judged per registration because communities' rules differ. `organization` repeats
    `system.organization` on purpose: every permission check scopes by it, so it must be an indexed column
    on this table rather than a join. Services keep the two equal (a system never changes owner).
    """

    system = models.ForeignKey(
        AISystem, verbose_name=_("AI system"), on_delete=models.CASCADE, related_name="registrations"
    )
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.PROTECT, related_name="registrations"
    )
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="registrations"
    )
    status = models.CharField(
        _("status"), max_length=32, choices=RegistrationStatus.choices, default=RegistrationStatus.DRAFT
    )
    risk_tier = models.CharField(_("risk tier"), max_length=32, choices=RiskTier.choices, default=RiskTier.UNASSESSED)
    compliance_status = models.CharField(
        _("compliance status"),
        max_length=16,
        choices=ComplianceStatus.choices,
        default=ComplianceStatus.PENDING,
        editable=False,
        help_text=_("Written only by the compliance engine: pending until the first check."),
    )
    deployment_context = models.TextField(
        _("deployment context"),
        max_length=MEDIUM_TEXT,
        blank=True,
        help_text=_("Where and how the system is used in this community."),
    )
    deployment_date = models.DateField(_("deployed in this community since"), null=True, blank=True)
    disclosure = models.JSONField(
        _("per-field disclosure"),
        default=dict,
        blank=True,
        help_text=_('{"field": {"level": "public|restricted|withheld", "reason": "..."}}'),
    )
    version = models.PositiveIntegerField(_("submitted version"), default=0)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    review_comment = models.TextField(_("review comment"), max_length=MEDIUM_TEXT, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "community"],
                condition=~Q(status__in=[RegistrationStatus.RETIRED, RegistrationStatus.REJECTED]),
                name="registration_one_live_per_system_community",
            ),
        ]
        indexes = [
            models.Index(fields=["community", "status"], name="registration_community_status"),
            models.Index(fields=["organization", "status"], name="registration_org_status"),
            models.Index(fields=["community", "compliance_status"], name="registration_community_compl"),
            # Covers the dashboard overview's counts (registry/web/overview.py): an index-only scan of the subtree.
            models.Index(
                fields=["community", "status", "risk_tier", "compliance_status"], name="registration_overview"
            ),
        ]

    def __str__(self):
        return f"{self.system} in {self.community}"

    @property
    def was_ever_submitted(self) -> bool:
        return self.submitted_at is not None

    def clean(self):
        if self.system_id and self.organization_id and self.system.organization_id != self.organization_id:
            raise ValidationError({"organization": _("The registration's organization must own the system.")})
        self.disclosure = clean_disclosure(self.disclosure)


def clean_disclosure(value) -> dict:
    """Validate per-field disclosure: known fields, known levels, and a recorded reason for withholding."""
    if not isinstance(value, dict):
        raise ValidationError({"disclosure": _("Give an object mapping field names to disclosure settings.")})
    errors, cleaned = [], {}
    for name, setting in value.items():
        if isinstance(setting, str):
            setting = {"level": setting}
        if name not in DISCLOSABLE_FIELDS:
            errors.append(_("%(field)s: not a disclosable field.") % {"field": name})
            continue
        if not isinstance(setting, dict) or setting.get("level") not in Disclosure.values:
            errors.append(
                _("%(field)s: level must be one of %(levels)s.")
                % {"field": name, "levels": ", ".join(Disclosure.values)}
            )
            continue
        reason = str(setting.get("reason") or "").strip()
        if setting["level"] == Disclosure.WITHHELD and not reason:
            errors.append(_("%(field)s: withholding a field requires a reason.") % {"field": name})
            continue
        if len(reason) > 1000:
            errors.append(_("%(field)s: the reason is limited to 1000 characters.") % {"field": name})
            continue
        cleaned[name] = {"level": setting["level"], "reason": reason}
    if errors:
        raise ValidationError({"disclosure": errors})
    return cleaned


def disclosure_level(disclosure: dict, field: str) -> str:
    setting = disclosure.get(field)
    if setting:
        return setting["level"]
    return Disclosure.RESTRICTED if field in DEFAULT_RESTRICTED_FIELDS else Disclosure.PUBLIC


class RegistrationVersion(models.Model):
    """A numbered snapshot taken at each submission: the exact record a regulator reviewed."""

    registration = models.ForeignKey(
        Registration, verbose_name=_("registration"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("number"))
    snapshot = models.JSONField(_("snapshot"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("registration version")
        verbose_name_plural = _("registration versions")
        ordering = ["registration_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["registration", "number"], name="registration_version_unique_number"),
        ]

    def __str__(self):
        return f"{self.registration} v{self.number}"


class RegistrationUserObjectPermission(UserObjectPermissionBase):
    """Guardian grants on one registration (e.g. an outside auditor), with a real foreign key."""

    content_object = models.ForeignKey(Registration, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("registration user permission")


class RegistrationGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Registration, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("registration group permission")
