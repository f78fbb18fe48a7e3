"""Serializers for instruments and risk assessments. Results are read-only: the server computes them."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from governance.api.serializers import CommentSerializer, NamedChoiceField, UserField, VisibleRegistrationField
from governance.instruments import INSTRUMENTS, canada_aia
from governance.models import AssessmentStatus, RiskAssessment
from registry.api.serializers import StrictSerializer

__all__ = [
    "AssessmentCreateSerializer",
    "AssessmentSerializer",
    "AssessmentUpdateSerializer",
    "CommentSerializer",
    "ImportAiaSerializer",
    "InstrumentSerializer",
]


class AssessmentStatusField(NamedChoiceField):
    choices_class = AssessmentStatus
    component_name = "AssessmentStatusEnum"


class InstrumentVersionSerializer(serializers.Serializer):
    version = serializers.CharField()
    validity_days = serializers.IntegerField(help_text="How long an accepted assessment stays valid, at most.")
    pages = serializers.ListField(child=serializers.DictField())
    questions = serializers.ListField(
        child=serializers.DictField(),
        help_text="name, type, title {en, fr}, page, choices [{value, text}], visible_if, and for the AIA "
        "score (RS raw impact, MS mitigation, NS not scored).",
    )
    max_raw_score = serializers.IntegerField(required=False, help_text="AIA only.")
    max_mitigation_score = serializers.IntegerField(required=False, help_text="AIA only.")


class InstrumentSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.DictField(child=serializers.CharField())
    description = serializers.DictField(child=serializers.CharField())
    source = serializers.CharField()
    latest = serializers.CharField()
    validity_parameter = serializers.CharField(
        help_text="A framework parameter of this name shortens the validity period for a community."
    )
    versions = InstrumentVersionSerializer(many=True)


def instrument_data(slug: str) -> dict:
    instrument = INSTRUMENTS[slug]
    return {
        "slug": instrument.slug,
        "name": instrument.name,
        "description": instrument.description,
        "source": instrument.source,
        "latest": instrument.latest,
        "validity_parameter": instrument.validity_parameter,
        "versions": [
            {"version": version, "validity_days": days, **instrument.questionnaire(version)}
            for version, days in instrument.versions.items()
        ],
    }


class AssessmentSerializer(serializers.ModelSerializer):
    status = AssessmentStatusField()
    assessor = UserField()
    reviewer = UserField()
    valid = serializers.SerializerMethodField()
    obligations = serializers.SerializerMethodField()

    class Meta:
        model = RiskAssessment
        fields = [
            "id",
            "registration",
            "instrument",
            "version",
            "status",
            "answers",
            "result",
            "warnings",
            "obligations",
            "assessor",
            "submitted_at",
            "reviewer",
            "review_comment",
            "decided_at",
            "valid_until",
            "valid",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_valid(self, assessment) -> bool:
        return assessment.is_valid_on(timezone.localdate())

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_obligations(self, assessment) -> list:
        """For the AIA: what the Directive on Automated Decision-Making requires at the resulting level."""
        if assessment.instrument != canada_aia.SLUG:
            return []
        return canada_aia.obligations(assessment.result.get("impact_level", 0))


class AssessmentCreateSerializer(StrictSerializer):
    registration = VisibleRegistrationField()
    instrument = serializers.CharField(max_length=60)
    version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    answers = serializers.JSONField(required=False, default=dict)


class AssessmentUpdateSerializer(StrictSerializer):
    answers = serializers.JSONField()


class ImportAiaSerializer(StrictSerializer):
    registration = VisibleRegistrationField()
    file = serializers.JSONField(help_text='The official AIA tool\'s save file: {"version": "v1.0.1", "data": {...}}.')
