"""What the compliance engine knows: runs, the current result of every check, its changes, findings.

A full sweep judges every live registration against every effective requirement: 100,000 registrations
with 100 requirements each is 10 million results. Writing 10 million rows on every sweep is what would
make sweeps slow, so the current state is stored compactly: one `RegistrationCompliance` row per
registration holding one character per requirement of a shared, immutable `RuleSet`. The per-check
`ComplianceResult` rows that the API and the dashboard filter and page through are a database view over
that compact state (migration 0004), so readers still get one row per registration and requirement.
Only changes are written as rows (`ComplianceChange`), and failures open `Finding`s.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from governance.choices import FindingStatus, ResultCode, ResultStatus, RunStatus, RunTrigger, Severity
from governance.models.frameworks import Framework, Requirement
from governance.querysets import ComplianceRunQuerySet, RegistrationScopedQuerySet
from registry.models import Community, Organization, Registration

ACTIVE_RUN_STATUSES = [RunStatus.QUEUED, RunStatus.RUNNING]
# A result's id in the view is registration id × RESULT_ID_FACTOR + position (the factor is in migration 0004).
RESULT_ID_FACTOR = 100_000


class ComplianceRun(models.Model):
    """One sweep or on-change check, as a row the API and the dashboard read while it runs.

    `lock_key` is set for sweeps ("sweep:<community id>" or "sweep:all") and is unique among queued and
    running runs, so the database itself refuses a second concurrent sweep of the same scope, whoever
    (beat, a regulator, the command) asks for it.
    """

    trigger = models.CharField(_("trigger"), max_length=16, choices=RunTrigger.choices)
    community = models.ForeignKey(
        Community,
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="compliance_runs",
        help_text=_("The community swept with its descendants; empty for every community."),
    )
    scope = models.JSONField(
        _("scope"), default=dict, blank=True, help_text=_('e.g. {"registrations": [12, 13]} for an on-change check.')
    )
    lock_key = models.CharField(_("lock"), max_length=64, null=True, blank=True, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    total = models.PositiveIntegerField(_("registrations to check"), default=0)
    done = models.PositiveIntegerField(_("registrations checked"), default=0)
    failed = models.PositiveIntegerField(_("registrations that could not be checked"), default=0)
    evaluations = models.PositiveBigIntegerField(_("requirement checks"), default=0)
    changes = models.PositiveBigIntegerField(_("results changed"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = ComplianceRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("compliance run")
        verbose_name_plural = _("compliance runs")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lock_key"],
                condition=Q(status__in=ACTIVE_RUN_STATUSES) & Q(lock_key__isnull=False),
                name="compliance_run_one_active_sweep",
            ),
        ]
        indexes = [models.Index(fields=["community", "-id"], name="compliance_run_community")]

    def __str__(self):
        return f"{self.get_trigger_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def progress(self) -> int:
        """Percent of registrations handled, for a progress bar."""
        if not self.total:
            return 100 if self.status == RunStatus.SUCCEEDED else 0
        return min(100, round(100 * (self.done + self.failed) / self.total))


class ComplianceChunk(models.Model):
    """A keyset range of registration ids of one run: the unit a worker takes, retries and finishes.

    Finishing is a conditional update (`pending` → `done`), so a chunk redelivered after its worker died
    adds its count to the run once only, and its writes are upserts of the same compact rows.
    """

    run = models.ForeignKey(ComplianceRun, on_delete=models.CASCADE, related_name="chunks")
    first_id = models.BigIntegerField(_("first registration id"))
    last_id = models.BigIntegerField(_("last registration id"))
    size = models.PositiveIntegerField(_("registrations"), default=0)
    done = models.BooleanField(_("done"), default=False)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("compliance run chunk")
        verbose_name_plural = _("compliance run chunks")
        ordering = ["run_id", "first_id"]
        constraints = [models.UniqueConstraint(fields=["run", "first_id"], name="compliance_chunk_unique_start")]

    def __str__(self):
        return f"{self.run_id}:{self.first_id}-{self.last_id}"


class RuleSet(models.Model):
    """An immutable, ordered list of the requirements in force for a community on a day.

    Shared by every registration judged against the same list (identified by `digest`), so each
    registration's compact state needs only one character per requirement.
    """

    digest = models.CharField(_("digest"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        ordering = ["id"]

    def __str__(self):
        return self.digest[:12]


class RuleSetItem(models.Model):
    """Position `position` (1-based, the index into `RegistrationCompliance.codes`) of a rule set."""

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(_("position"))
    framework = models.ForeignKey(Framework, verbose_name=_("framework"), on_delete=models.PROTECT, related_name="+")
    requirement = models.ForeignKey(
        Requirement, verbose_name=_("requirement"), on_delete=models.PROTECT, related_name="+"
    )
    requirement_code = models.CharField(_("requirement code"), max_length=60)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    params = models.JSONField(_("parameters in force"), default=dict, blank=True)

    class Meta:
        verbose_name = _("rule set item")
        verbose_name_plural = _("rule set items")
        ordering = ["ruleset_id", "position"]
        constraints = [models.UniqueConstraint(fields=["ruleset", "position"], name="ruleset_item_unique_position")]

    def __str__(self):
        return f"{self.ruleset_id}#{self.position} {self.requirement_code}"


class RegistrationCompliance(models.Model):
    """The current result of every check of one registration: `codes[i - 1]` is position i's `ResultCode`.

    `errors` keeps the message of each rule that failed to evaluate, by position.
    """

    registration = models.OneToOneField(
        Registration, primary_key=True, on_delete=models.CASCADE, related_name="compliance"
    )
    ruleset = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="+")
    codes = models.TextField(_("result codes"))
    errors = models.JSONField(_("evaluation errors"), default=dict, blank=True)
    checked_at = models.DateTimeField(_("checked at"))
    run = models.ForeignKey(ComplianceRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = RegistrationScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("registration compliance")
        verbose_name_plural = _("registration compliance")
        ordering = ["registration_id"]

    def __str__(self):
        return f"{self.registration_id}: {self.codes}"


class ComplianceResult(models.Model):
    """One check's current result: a row of the `governance_complianceresult` view (read-only).

    `id` is registration id × 100,000 + position, stable while the rule set stays the same, so cursor
    pagination works over it.
    """

    id = models.BigIntegerField(primary_key=True)
    registration = models.ForeignKey(Registration, on_delete=models.DO_NOTHING, related_name="+")
    item = models.ForeignKey(RuleSetItem, on_delete=models.DO_NOTHING, related_name="+")
    framework = models.ForeignKey(Framework, on_delete=models.DO_NOTHING, related_name="+")
    requirement = models.ForeignKey(Requirement, on_delete=models.DO_NOTHING, related_name="+")
    requirement_code = models.CharField(max_length=60)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    code = models.CharField(max_length=1, choices=ResultCode.choices)
    status = models.CharField(max_length=16, choices=ResultStatus.choices)
    checked_at = models.DateTimeField()

    objects = RegistrationScopedQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "governance_complianceresult"
        verbose_name = _("compliance result")
        verbose_name_plural = _("compliance results")
        ordering = ["id"]

    def __str__(self):
        return f"{self.registration_id} {self.requirement_code}: {self.status}"


class ComplianceChange(models.Model):
    """A check whose result changed: the history, written only for deltas (never on unchanged results).

    A registration's first check writes no change rows; its state row records when that happened.
    """

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="compliance_changes")
    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="+")
    requirement_code = models.CharField(_("requirement code"), max_length=60)
    from_code = models.CharField(_("from"), max_length=1, choices=ResultCode.choices)
    to_code = models.CharField(_("to"), max_length=1, choices=ResultCode.choices)
    run = models.ForeignKey(ComplianceRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(_("changed at"))

    objects = RegistrationScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("compliance change")
        verbose_name_plural = _("compliance changes")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["registration", "-changed_at"], name="compliance_change_registration")]

    def __str__(self):
        return f"{self.registration_id} {self.requirement_code}: {self.from_code}→{self.to_code}"


class Finding(models.Model):
    """A failing check someone must fix: opened on failure, closed when the check passes, reopened if
    it fails again (one row per registration and requirement, so its history stays in one place)."""

    registration = models.ForeignKey(
        Registration, verbose_name=_("registration"), on_delete=models.CASCADE, related_name="findings"
    )
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="findings",
        help_text=_("The filing organization, who must fix it."),
    )
    framework = models.ForeignKey(Framework, verbose_name=_("framework"), on_delete=models.PROTECT, related_name="+")
    requirement_code = models.CharField(_("requirement code"), max_length=60)
    title = models.CharField(_("title"), max_length=300)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    status = models.CharField(_("status"), max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    code = models.CharField(_("result code"), max_length=1, choices=ResultCode.choices)
    reason = models.TextField(_("reason"), blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    due_on = models.DateField(_("due on"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    reopened_count = models.PositiveIntegerField(_("times reopened"), default=0)
    reopened_at = models.DateTimeField(_("last reopened at"), null=True, blank=True)

    objects = RegistrationScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "framework", "requirement_code"], name="finding_one_per_requirement"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"], name="finding_status_due"),
            models.Index(fields=["organization", "status"], name="finding_organization_status"),
        ]

    def __str__(self):
        return f"{self.requirement_code} on {self.registration_id} ({self.get_status_display()})"


class ComplianceSnapshot(models.Model):
    """A community's own registrations by compliance status on a day: the points of the trend chart.

    Per community (not subtree), so a dashboard sums a subtree's rows without double counting.
    """

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="compliance_snapshots")
    date = models.DateField(_("date"))
    compliant = models.PositiveIntegerField(_("compliant"), default=0)
    non_compliant = models.PositiveIntegerField(_("non-compliant"), default=0)
    at_risk = models.PositiveIntegerField(_("at risk"), default=0)
    pending = models.PositiveIntegerField(_("pending"), default=0)

    class Meta:
        verbose_name = _("compliance snapshot")
        verbose_name_plural = _("compliance snapshots")
        ordering = ["community_id", "date"]
        constraints = [models.UniqueConstraint(fields=["community", "date"], name="compliance_snapshot_unique_day")]

    def __str__(self):
        return f"{self.community_id} {self.date}"
