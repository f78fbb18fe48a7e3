from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from governance.choices import Binding, RequirementKind, Severity, VersionStatus
from governance.querysets import FrameworkQuerySet, FrameworkVersionQuerySet
from registry.models import Community

CODE_HELP = _("Stable identifier that stays the same across versions, e.g. EUAIA-ART27.")


class Framework(models.Model):
    """A body of requirements: a global baseline (no community) or one community's own rules.

    Identified by a URN so that a framework kept in a repository as JSON finds its row again on import.
    """

    urn = models.CharField(_("URN"), max_length=200, unique=True)
    name = models.CharField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=60, blank=True)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    community = models.ForeignKey(
        Community,
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="frameworks",
        help_text=_("Empty for a global baseline."),
    )
    binding = models.CharField(
        _("binding"),
        max_length=16,
        choices=Binding.choices,
        default=Binding.INFORMATIVE,
        help_text=_("Baselines only: mandatory ones bind every community; others bind those that adopt them."),
    )
    source_url = models.URLField(_("source"), max_length=500, blank=True)
    licence_notice = models.TextField(_("licence notice"), max_length=2000, blank=True)
    builtin = models.BooleanField(_("shipped with the product"), default=False, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = FrameworkQuerySet.as_manager()

    class Meta:
        verbose_name = _("framework")
        verbose_name_plural = _("frameworks")
        ordering = ["community_id", "name", "id"]
        permissions = [("author_framework", _("Can write this framework's draft versions"))]

    def __str__(self):
        return self.short_name or self.name

    @property
    def is_baseline(self) -> bool:
        return self.community_id is None

    def published_version(self):
        return self.versions.filter(status=VersionStatus.PUBLISHED).first()


class BaselineAdoption(models.Model):
    """A community binds itself, and so its descendants, to a baseline that is not mandatory for all."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="baseline_adoptions")
    framework = models.ForeignKey(
        Framework, on_delete=models.PROTECT, related_name="adoptions", limit_choices_to={"community__isnull": True}
    )
    adopted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("adopted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("baseline adoption")
        verbose_name_plural = _("baseline adoptions")
        ordering = ["community_id", "framework_id"]
        constraints = [models.UniqueConstraint(fields=["community", "framework"], name="baseline_adoption_unique")]

    def __str__(self):
        return f"{self.community} adopts {self.framework}"


class FrameworkVersion(models.Model):
    """One version of a framework. Published versions are immutable; editing means a new draft."""

    framework = models.ForeignKey(
        Framework, verbose_name=_("framework"), on_delete=models.CASCADE, related_name="versions"
    )
    version = models.CharField(_("version"), max_length=40)
    status = models.CharField(_("status"), max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    notes = models.TextField(_("release notes"), max_length=5000, blank=True)
    based_on = models.ForeignKey(
        "self", verbose_name=_("based on"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content_hash = models.CharField(_("content hash (SHA-256)"), max_length=64, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = FrameworkVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("framework version")
        verbose_name_plural = _("framework versions")
        ordering = ["framework_id", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["framework", "version"], name="framework_version_unique_label"),
            models.UniqueConstraint(
                fields=["framework"],
                condition=Q(status=VersionStatus.PUBLISHED),
                name="framework_one_published_version",
            ),
        ]

    def __str__(self):
        return f"{self.framework} {self.version} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT


class Requirement(models.Model):
    """One obligation, checked by CEL rules or by evidence a regulator accepts."""

    version = models.ForeignKey(
        FrameworkVersion, verbose_name=_("framework version"), on_delete=models.CASCADE, related_name="requirements"
    )
    code = models.CharField(_("code"), max_length=60, help_text=CODE_HELP)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    order = models.PositiveIntegerField(_("order"), default=0)
    title = models.CharField(_("title"), max_length=300)
    text = models.TextField(_("text"), max_length=10000, blank=True)
    citation = models.CharField(_("citation"), max_length=200, blank=True)
    citation_url = models.URLField(_("citation link"), max_length=500, blank=True)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices, default=Severity.MEDIUM)
    effective_from = models.DateField(_("in force from"), null=True, blank=True)
    effective_until = models.DateField(_("in force until"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=RequirementKind.choices, default=RequirementKind.RULE)
    applies_when = models.TextField(
        _("applies when (CEL)"), max_length=4000, default="true", help_text=_('e.g. registration.risk_tier == "high"')
    )
    # Named check_rule because Model.check() is Django's system-check hook; documents and the API say "check".
    check_rule = models.TextField(
        _("check (CEL)"), max_length=4000, blank=True, help_text=_("Must be true for the requirement to be met.")
    )
    evidence = models.TextField(
        _("evidence needed"), max_length=4000, blank=True, help_text=_("What a filer attaches and a regulator accepts.")
    )
    parameters = models.JSONField(
        _("parameters"),
        default=list,
        blank=True,
        help_text=_('[{"name": "max_age_days", "type": "int", "default": 365, "direction": "lower_is_stricter"}]'),
    )

    class Meta:
        verbose_name = _("requirement")
        verbose_name_plural = _("requirements")
        ordering = ["version_id", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="requirement_unique_code_per_version"),
            models.CheckConstraint(
                condition=Q(effective_until__isnull=True)
                | Q(effective_from__isnull=True)
                | Q(effective_until__gt=models.F("effective_from")),
                name="requirement_effective_range",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.title}"

    def in_force_on(self, day) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_until is None or day < self.effective_until
        )


class ParameterOverride(models.Model):
    """A community's tightening of a parameter of an inherited requirement (baseline or ancestor's)."""

    version = models.ForeignKey(
        FrameworkVersion, verbose_name=_("framework version"), on_delete=models.CASCADE, related_name="overrides"
    )
    target_framework = models.ForeignKey(
        Framework, verbose_name=_("framework of the requirement"), on_delete=models.PROTECT, related_name="+"
    )
    target_code = models.CharField(_("requirement code"), max_length=60)
    parameter = models.CharField(_("parameter"), max_length=63)
    value = models.JSONField(_("value"))
    justification = models.TextField(_("why"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("parameter override")
        verbose_name_plural = _("parameter overrides")
        ordering = ["version_id", "target_framework_id", "target_code", "parameter"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "target_framework", "target_code", "parameter"], name="parameter_override_unique"
            ),
        ]

    def __str__(self):
        return f"{self.target_code}.{self.parameter} = {self.value}"
