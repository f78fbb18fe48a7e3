import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from governance.querysets import RegistrationScopedQuerySet
from registry.models import Registration
from registry.permissions import NOTHING, Action


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ACCEPTED = "accepted", _("Accepted")
    RETURNED = "returned", _("Returned for changes")


class RiskAssessmentQuerySet(RegistrationScopedQuerySet):
    """Assessments follow their registration, and drafts stay with the filing organization.

    Filers of the registration see and edit every assessment of it; those who oversee the registration
    (regulators, viewers, granted auditors) see assessments once submitted; its regulators review them.
    """

    def restriction(self, user, action, scope):
        if action == Action.FILE:
            return super().restriction(user, Action.FILE, scope)
        if action == Action.VIEW:
            own = super().restriction(user, Action.FILE, scope)
            return own | (super().restriction(user, Action.VIEW, scope) & ~Q(status=AssessmentStatus.DRAFT))
        if action == Action.REVIEW:
            return super().restriction(user, Action.REVIEW, scope) & ~Q(status=AssessmentStatus.DRAFT)
        return NOTHING


class RiskAssessment(models.Model):
    """One instrument (AIA, EU AI Act classification, risk register...) answered for one registration.

    The answers are checked against the instrument version they name and the result is always computed by
    the server from them (governance/instruments): a client never supplies a score. Accepted assessments
    feed the compliance rules (`assessments[]` in docs/rule-context.md) until `valid_until`; an accepted EU
    AI Act classification also sets the registration's risk tier.
    """

    registration = models.ForeignKey(
        Registration, verbose_name=_("registration"), on_delete=models.CASCADE, related_name="assessments"
    )
    instrument = models.CharField(_("instrument"), max_length=60)
    version = models.CharField(_("instrument version"), max_length=40)
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    result = models.JSONField(_("computed result"), default=dict, blank=True, editable=False)
    warnings = models.JSONField(
        _("warnings"),
        default=list,
        blank=True,
        editable=False,
        help_text=_("Answers that were ignored (hidden questions, keys not in the questionnaire), with why."),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT
    )
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assessor"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    review_comment = models.TextField(_("review comment"), max_length=2500, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RiskAssessmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("risk assessment")
        verbose_name_plural = _("risk assessments")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["registration", "instrument"], name="assessment_registration"),
            models.Index(fields=["status"], name="assessment_status"),
        ]

    def __str__(self):
        return f"{self.instrument} {self.version} for registration {self.registration_id}"

    def is_valid_on(self, day: datetime.date) -> bool:
        return self.status == AssessmentStatus.ACCEPTED and self.valid_until is not None and day < self.valid_until
