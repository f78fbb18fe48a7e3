from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from governance.choices import FindingStatus
from registry.choices import CommunityRole, DataCategory, OrganizationRole, Technique
from registry.models import (
    AISystem,
    AuditEvent,
    Community,
    CommunityMembership,
    Organization,
    OrganizationMembership,
    Registration,
    RegistrationVersion,
)
from registry.permissions import Action

UNKNOWN_FIELD = _("Unknown field.")
READ_ONLY_FIELD = _("This field cannot be changed.")


class StrictSerializer(serializers.Serializer):
    """Refuse keys the endpoint does not accept, instead of silently dropping a client's typo."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: [READ_ONLY_FIELD if name in self.fields else UNKNOWN_FIELD] for name in unknown}
                )
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass


class UsernameField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="username", queryset=get_user_model().objects.filter(is_active=True), **kwargs)


class CommunitySerializer(StrictModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="slug", queryset=Community.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Community
        fields = [
            "id",
            "slug",
            "name",
            "kind",
            "parent",
            "jurisdiction_code",
            "description",
            "website",
            "public_register_enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class CommunityMemberSerializer(StrictModelSerializer):
    username = UsernameField(source="user")
    role = serializers.ChoiceField(choices=CommunityRole.choices)

    class Meta:
        model = CommunityMembership
        fields = ["username", "role", "created_at"]
        read_only_fields = ["created_at"]
        validators = []  # uniqueness is an idempotent grant, handled by the service


class OrganizationSerializer(StrictModelSerializer):
    class Meta:
        model = Organization
        fields = [
            "id",
            "slug",
            "name",
            "country",
            "registration_number",
            "lei",
            "website",
            "contact_name",
            "contact_email",
            "description",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class OrganizationMemberSerializer(StrictModelSerializer):
    username = UsernameField(source="user")
    role = serializers.ChoiceField(choices=OrganizationRole.choices)

    class Meta:
        model = OrganizationMembership
        fields = ["username", "role", "created_at"]
        read_only_fields = ["created_at"]
        validators = []


class FilingScopedMixin:
    """Limit related-object choices to what the requesting user may file with, so a foreign id reads as
    'does not exist' rather than revealing another organization's objects."""

    scoped_fields: dict[str, type] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(self.instance, list | tuple):
            # Serializing a page: the choices are never read, and restricting them would cost a query.
            return
        request = self.context.get("request")
        user = request.user if request else None
        scope = getattr(self.context.get("view"), "user_scope", None) if user and user.is_active else None
        for name, model in self.scoped_fields.items():
            if name in self.fields and not self.fields[name].read_only:
                self.fields[name].queryset = model.objects.restrict(user, Action.FILE, scope=scope)


class AISystemSerializer(FilingScopedMixin, StrictModelSerializer):
    scoped_fields = {"organization": Organization}
    organization = serializers.SlugRelatedField(slug_field="slug", queryset=Organization.objects.none())
    techniques = serializers.ListField(
        child=serializers.ChoiceField(choices=Technique.choices), required=False, max_length=len(Technique.values)
    )
    data_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=DataCategory.choices),
        required=False,
        max_length=len(DataCategory.values),
    )

    class Meta:
        model = AISystem
        fields = "__all__"
        read_only_fields = ["id", "created_at", "updated_at"]
        validators = []  # the service checks constraints through full_clean with readable messages

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["organization"].read_only = True
        return fields


class RegistrationSerializer(FilingScopedMixin, StrictModelSerializer):
    scoped_fields = {"system": AISystem}
    system = serializers.PrimaryKeyRelatedField(queryset=AISystem.objects.none())
    system_name = serializers.CharField(source="system.name", read_only=True)
    lifecycle_stage = serializers.CharField(source="system.lifecycle_stage", read_only=True)
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    community = serializers.SlugRelatedField(slug_field="slug", queryset=Community.objects.all())
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    open_findings = serializers.SerializerMethodField(help_text=_("Open findings; findings_url lists them."))
    findings_url = serializers.SerializerMethodField()

    class Meta:
        model = Registration
        fields = [
            "id",
            "system",
            "system_name",
            "organization",
            "community",
            "status",
            "risk_tier",
            "compliance_status",
            "open_findings",
            "findings_url",
            "lifecycle_stage",
            "deployment_context",
            "deployment_date",
            "disclosure",
            "version",
            "reviewer",
            "review_comment",
            "submitted_at",
            "decided_at",
            "retired_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "version",
            "review_comment",
            "submitted_at",
            "decided_at",
            "retired_at",
            "created_at",
            "updated_at",
        ]
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["system"].read_only = True
            fields["community"].read_only = True
        return fields

    def to_representation(self, instance):
        """The same output as DRF's field-by-field rendering, written out because lists render fifty of these
        per request and the generic path costs more than the database (bench/api_list.py). It reads the
        columns `registry.selectors.registration_api_rows` annotates; a test holds the two outputs equal
        (tests/registry/test_api.py::RegistrationRepresentationTests)."""
        if not hasattr(instance, "community_slug"):  # not read through registry.selectors.registration_api_rows
            return super().to_representation(instance)
        tz = timezone.get_current_timezone()
        return {
            "id": instance.id,
            "system": instance.system_id,
            "system_name": instance.system_name,
            "organization": instance.organization_slug,
            "community": instance.community_slug,
            "status": instance.status,
            "risk_tier": instance.risk_tier,
            "compliance_status": instance.compliance_status,
            "open_findings": instance.open_findings,
            "findings_url": self.get_findings_url(instance),
            "lifecycle_stage": instance.system_lifecycle_stage,
            "deployment_context": instance.deployment_context,
            "deployment_date": instance.deployment_date.isoformat() if instance.deployment_date else None,
            "disclosure": instance.disclosure,
            "version": instance.version,
            "reviewer": instance.reviewer_username,
            "review_comment": instance.review_comment,
            "submitted_at": iso_datetime(instance.submitted_at, tz),
            "decided_at": iso_datetime(instance.decided_at, tz),
            "retired_at": iso_datetime(instance.retired_at, tz),
            "created_at": iso_datetime(instance.created_at, tz),
            "updated_at": iso_datetime(instance.updated_at, tz),
        }

    @extend_schema_field(OpenApiTypes.INT)
    def get_open_findings(self, registration):
        if hasattr(registration, "open_findings"):  # annotated by registry.selectors.registration_api_rows
            return registration.open_findings
        return registration.findings.filter(status=FindingStatus.OPEN).count()

    @extend_schema_field(OpenApiTypes.URI)
    def get_findings_url(self, registration):
        # Reversed once per serializer: a page of fifty rows shares the list's URL.
        if not hasattr(self, "_findings_url"):
            self._findings_url = reverse("finding-list", request=self.context.get("request"))
        return f"{self._findings_url}?registration={registration.pk}"


def iso_datetime(value, tz):
    """DRF's DateTimeField output: ISO 8601 in the current time zone, UTC written as Z."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class TransitionSerializer(StrictSerializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2500, default="")


class ReaderSerializer(StrictSerializer):
    username = UsernameField()


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_username", read_only=True)
    target = serializers.CharField(source="target_repr", read_only=True)
    at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "action", "target_type", "target_id", "target", "changes", "comment"]


class RegistrationVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = RegistrationVersion
        fields = ["number", "snapshot", "created_by", "created_at"]


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField()
