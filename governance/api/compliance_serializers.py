"""Compliance API serializers: runs and their progress, per-check results with readable reasons, findings.

Reasons are worded when read, in the reader's language (see `ResultCode`): the compact state stores one
character per check, plus the message of each rule that failed to evaluate.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from governance.api.serializers import CommunitySlugField, NamedChoiceField, UserField
from governance.choices import FindingStatus, ResultCode, ResultStatus, RunStatus, RunTrigger, Severity
from governance.evaluation import result_reason
from governance.models import ComplianceResult, ComplianceRun, Finding
from registry.api.serializers import StrictSerializer


class RunStatusField(NamedChoiceField):
    choices_class = RunStatus
    component_name = "ComplianceRunStatusEnum"


class RunTriggerField(NamedChoiceField):
    choices_class = RunTrigger
    component_name = "ComplianceRunTriggerEnum"


class ResultStatusField(NamedChoiceField):
    choices_class = ResultStatus
    component_name = "ComplianceResultStatusEnum"


class ResultCodeField(NamedChoiceField):
    choices_class = ResultCode
    component_name = "ComplianceResultCodeEnum"


class FindingStatusField(NamedChoiceField):
    choices_class = FindingStatus
    component_name = "FindingStatusEnum"


class SeverityField(NamedChoiceField):
    choices_class = Severity
    component_name = "SeverityEnum"


class ComplianceRunSerializer(serializers.ModelSerializer):
    """A run as a progress bar reads it: counts, percent, timings and the error that stopped it, if any."""

    community = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    trigger = RunTriggerField()
    status = RunStatusField()
    percent = serializers.IntegerField(source="progress", read_only=True, help_text=_("0 to 100."))
    duration_seconds = serializers.SerializerMethodField(
        help_text=_("Seconds from start to finish, or to now while running; null until started.")
    )
    created_by = UserField()

    class Meta:
        model = ComplianceRun
        fields = [
            "id",
            "trigger",
            "community",
            "status",
            "total",
            "done",
            "failed",
            "percent",
            "evaluations",
            "changes",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_duration_seconds(self, run):
        if run.started_at is None:
            return None
        return round(((run.finished_at or timezone.now()) - run.started_at).total_seconds(), 3)


class ComplianceRunCreateSerializer(StrictSerializer):
    community = CommunitySlugField(help_text=_("Slug of the community to sweep, with its descendants."))


class ComplianceResultSerializer(serializers.ModelSerializer):
    """One check's current result. Rows come from `compliance_views.result_rows` (framework and requirement
    joined, the evaluation error annotated), so a page costs one query."""

    framework = serializers.CharField(source="framework.urn", read_only=True)
    requirement_title = serializers.CharField(source="requirement.title", read_only=True)
    severity = SeverityField()
    status = ResultStatusField()
    code = ResultCodeField()
    reason = serializers.SerializerMethodField()

    class Meta:
        model = ComplianceResult
        fields = [
            "id",
            "registration",
            "framework",
            "requirement_code",
            "requirement_title",
            "severity",
            "status",
            "code",
            "reason",
            "checked_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_reason(self, result):
        # The engine's own wording (the same as a finding's reason): the failing rule, the evidence asked
        # for, or, for an error, the message stored with the compact state (see attach_error_messages).
        return result_reason(result.code, result.requirement, getattr(result, "error_message", ""))


class FindingSerializer(serializers.ModelSerializer):
    """An open (or closed) failure: what to fix, by when, and who must fix it."""

    owner = serializers.SlugRelatedField(
        source="organization",
        slug_field="slug",
        read_only=True,
        help_text=_("Slug of the filing organization, who must fix it."),
    )
    community = serializers.CharField(source="registration.community.slug", read_only=True)
    framework = serializers.CharField(source="framework.urn", read_only=True)
    severity = SeverityField()
    status = FindingStatusField()
    code = ResultCodeField()
    overdue = serializers.SerializerMethodField(help_text=_("Open and past its due date."))

    class Meta:
        model = Finding
        fields = [
            "id",
            "registration",
            "community",
            "owner",
            "framework",
            "requirement_code",
            "title",
            "severity",
            "status",
            "code",
            "reason",
            "due_on",
            "overdue",
            "opened_at",
            "closed_at",
            "reopened_count",
            "reopened_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_overdue(self, finding):
        return finding.status == FindingStatus.OPEN and finding.due_on < timezone.localdate()
