from django.db import models
from django.utils.translation import gettext_lazy as _


class Binding(models.TextChoices):
    """For global baselines: whether every community is bound, or only those that adopt it."""

    MANDATORY = "mandatory", _("Mandatory for every community")
    INFORMATIVE = "informative", _("Informative unless adopted")


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class RequirementKind(models.TextChoices):
    RULE = "rule", _("Checked by a rule")
    EVIDENCE = "evidence", _("Needs evidence a regulator accepts")
    INFORMATIVE = "informative", _("Informative (not checked)")


class ParameterType(models.TextChoices):
    INT = "int", _("Whole number")
    BOOL = "bool", _("Yes / no")
    STRING = "string", _("Text")


class Direction(models.TextChoices):
    """Which way a parameter gets stricter; communities may only move it that way."""

    LOWER_IS_STRICTER = "lower_is_stricter", _("Lower is stricter")
    HIGHER_IS_STRICTER = "higher_is_stricter", _("Higher is stricter")
    TRUE_IS_STRICTER = "true_is_stricter", _("True is stricter")
    FIXED = "fixed", _("Cannot be changed")


class EvidenceStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Awaiting review")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class ResultStatus(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")
    WAIVED = "waived", _("Waived")
    ERROR = "error", _("Error")


class ResultCode(models.TextChoices):
    """One character per check in the compact state; each maps to a `ResultStatus` and a reason.

    The reason's words are chosen when it is read (in the reader's language), not stored per check.
    """

    PASSED = "P", _("Check passed.")
    EVIDENCE_ACCEPTED = "V", _("Accepted evidence is on file.")
    FAILED = "F", _("Check failed.")
    EVIDENCE_NEEDED = "E", _("Evidence needed.")
    EVIDENCE_IN_REVIEW = "R", _("Evidence was submitted and awaits a regulator's review.")
    NOT_APPLICABLE = "N", _("Does not apply.")
    WAIVED = "W", _("Waived by a regulator.")
    ERROR = "X", _("The rule could not be evaluated.")


RESULT_CODE_STATUS = {
    ResultCode.PASSED: ResultStatus.PASS,
    ResultCode.EVIDENCE_ACCEPTED: ResultStatus.PASS,
    ResultCode.FAILED: ResultStatus.FAIL,
    ResultCode.EVIDENCE_NEEDED: ResultStatus.FAIL,
    ResultCode.EVIDENCE_IN_REVIEW: ResultStatus.FAIL,
    ResultCode.NOT_APPLICABLE: ResultStatus.NOT_APPLICABLE,
    ResultCode.WAIVED: ResultStatus.WAIVED,
    ResultCode.ERROR: ResultStatus.ERROR,
}


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Scheduled sweep")
    MANUAL = "manual", _("Started by a person")
    CHANGE = "change", _("A change")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
