"""Governance API serializers: shape input for the services and output for clients, nothing more.

Field names follow the framework document format (governance/baselines/README.md): a requirement's rule is
"check" (stored as `check_rule`), an override names its target by "framework" and "code".
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from governance.choices import EvidenceStatus, RequirementKind, Severity, VersionStatus
from governance.models import (
    BaselineAdoption,
    Evidence,
    Framework,
    FrameworkVersion,
    ParameterOverride,
    Requirement,
    Waiver,
)
from governance.services.frameworks import REQUIREMENT_FIELDS
from registry.api.serializers import StrictModelSerializer, StrictSerializer
from registry.models import Community, Registration
from registry.permissions import Action

from . import schema  # noqa: F401  (registers the OpenAPI extension for NamedChoiceField)

UNKNOWN_FRAMEWORK = _("No framework with this URN or id.")
DOCUMENT_LIST = _("%(key)s must be a list of objects.")
OVERRIDE_KEYS = _("Each override needs %(keys)s.")
CODE_CHANGED = _("A requirement's code cannot be changed; create a new requirement instead.")


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "Framework URN or id."})
class FrameworkReferenceField(serializers.Field):
    """A framework named by its URN (as in documents) or by its id (as in this API's URLs)."""

    default_error_messages = {"unknown": UNKNOWN_FRAMEWORK}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("unknown")
        frameworks = Framework.objects.all()
        if isinstance(data, int) or data.isdigit():
            framework = frameworks.filter(pk=int(data)).first()
        else:
            framework = frameworks.filter(urn=data.strip()).first()
        if framework is None:
            self.fail("unknown")
        return framework

    def to_representation(self, value):
        return value.urn


class NamedChoiceField(serializers.ChoiceField):
    """A read-only choice field documented as its own enum component (see governance/api/schema.py).

    Several models have a "status"; without a name per choice set the schema's enums would collide.
    """

    choices_class = None
    component_name = ""

    def __init__(self, **kwargs):
        super().__init__(choices=self.choices_class.choices, read_only=True, **kwargs)


class VersionStatusField(NamedChoiceField):
    choices_class = VersionStatus
    component_name = "FrameworkVersionStatusEnum"


class EvidenceStatusField(NamedChoiceField):
    choices_class = EvidenceStatus
    component_name = "EvidenceStatusEnum"


@extend_schema_field(OpenApiTypes.INT)
class VisibleRegistrationField(serializers.PrimaryKeyRelatedField):
    """A registration the requesting user can see; any other id reads as unknown (400), never as forbidden."""

    def get_queryset(self):
        request = self.context.get("request")
        return Registration.objects.restrict(request.user if request else None, Action.VIEW)


class CommunitySlugField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Community.objects.all(), **kwargs)


class UserField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="username", read_only=True, **kwargs)


# Frameworks and versions -------------------------------------------------------------------------------


class VersionSummarySerializer(serializers.ModelSerializer):
    status = VersionStatusField()

    class Meta:
        model = FrameworkVersion
        fields = ["id", "version", "status", "published_at"]


class FrameworkSerializer(serializers.ModelSerializer):
    community = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    is_baseline = serializers.BooleanField(read_only=True)
    published_version = serializers.SerializerMethodField()

    class Meta:
        model = Framework
        fields = [
            "id",
            "urn",
            "name",
            "short_name",
            "description",
            "community",
            "is_baseline",
            "binding",
            "source_url",
            "licence_notice",
            "builtin",
            "published_version",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(VersionSummarySerializer(allow_null=True))
    def get_published_version(self, framework):
        # Filled by the view's prefetch (`published`), so a page costs no query per framework.
        if not hasattr(framework, "published"):
            framework.published = [v for v in [framework.published_version()] if v is not None]
        return VersionSummarySerializer(framework.published[0]).data if framework.published else None


class FrameworkCreateSerializer(StrictSerializer):
    """A new community framework; its URN defaults to one derived from the community and the name."""

    community = CommunitySlugField()
    name = serializers.CharField(max_length=200)
    short_name = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    urn = serializers.CharField(
        max_length=200,
        required=False,
        help_text=_('Defaults to "urn:commons:community:<community slug>:<slugified name>".'),
    )


class ParentCodeField(serializers.CharField):
    def get_attribute(self, requirement):
        return requirement.parent.code if requirement.parent_id else None


class RequirementSerializer(StrictModelSerializer):
    """One requirement of a framework version; its rules are validated against the context schema when saved."""

    parent = ParentCodeField(
        max_length=60, required=False, allow_null=True, default=None, help_text=_("Code of the parent requirement.")
    )
    check = serializers.CharField(
        source="check_rule",
        max_length=4000,
        required=False,
        allow_blank=True,
        help_text=_("CEL expression that must be true for the requirement to be met (rule requirements)."),
    )
    applies_when = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    parameters = serializers.JSONField(
        required=False,
        help_text=_('[{"name": "max_age_days", "type": "int", "default": 365, "direction": "lower_is_stricter"}]'),
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    kind = serializers.ChoiceField(choices=RequirementKind.choices, required=False)

    class Meta:
        model = Requirement
        fields = REQUIREMENT_FIELDS  # the framework-version document's keys, as the services take them
        validators = []  # uniqueness and rules are checked by the service, with field names

    def __init__(self, *args, url_code=None, **kwargs):
        self.url_code = url_code
        super().__init__(*args, **kwargs)

    def validate_code(self, value):
        if self.url_code is not None and value != self.url_code:
            raise serializers.ValidationError(CODE_CHANGED)
        return value

    def service_data(self) -> dict:
        """Validated input in the service's (document) vocabulary."""
        data = dict(self.validated_data)
        if "check_rule" in data:
            data["check"] = data.pop("check_rule")
        return data


# A PUT replaces the whole requirement: what the client leaves out returns to its default.
REQUIREMENT_DEFAULTS = {
    "parent": None,
    "order": 0,
    "text": "",
    "citation": "",
    "citation_url": "",
    "severity": Severity.MEDIUM,
    "effective_from": None,
    "effective_until": None,
    "kind": RequirementKind.RULE,
    "applies_when": "true",
    "check": "",
    "evidence": "",
    "parameters": [],
}


class OverrideSerializer(StrictModelSerializer):
    """A tightening of an inherited requirement's parameter; values that loosen it are refused."""

    framework = FrameworkReferenceField(source="target_framework")
    code = serializers.CharField(source="target_code", max_length=60)
    value = serializers.JSONField(help_text=_("The tightened value, of the parameter's declared type."))

    class Meta:
        model = ParameterOverride
        fields = ["id", "framework", "code", "parameter", "value", "justification"]
        read_only_fields = ["id"]
        validators = []


class FrameworkVersionSerializer(serializers.ModelSerializer):
    framework_urn = serializers.CharField(source="framework.urn", read_only=True)
    created_by = UserField()
    published_by = UserField()
    status = VersionStatusField()

    class Meta:
        model = FrameworkVersion
        fields = [
            "id",
            "framework",
            "framework_urn",
            "version",
            "status",
            "notes",
            "based_on",
            "content_hash",
            "created_by",
            "created_at",
            "published_by",
            "published_at",
            "retired_at",
        ]
        read_only_fields = fields


class FrameworkVersionDetailSerializer(FrameworkVersionSerializer):
    requirements = RequirementSerializer(many=True, read_only=True)
    overrides = OverrideSerializer(many=True, read_only=True)

    class Meta(FrameworkVersionSerializer.Meta):
        fields = [*FrameworkVersionSerializer.Meta.fields, "requirements", "overrides"]
        read_only_fields = fields


class VersionCreateSerializer(StrictSerializer):
    """A new draft version, copied from the published one."""

    version = serializers.CharField(max_length=40)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class CommentSerializer(StrictSerializer):
    """A decision's comment."""

    comment = serializers.CharField(max_length=2500, required=False, allow_blank=True, default="")


class ImportSerializer(StrictSerializer):
    """A framework-version document to load as a new draft, published if asked."""

    document = serializers.DictField(help_text=_("A framework-version document, as the export endpoint returns it."))
    community = CommunitySlugField(
        required=False, allow_null=True, default=None, help_text=_("Community slug; null for a global baseline.")
    )
    publish = serializers.BooleanField(required=False, default=False)

    def validate_document(self, document):
        # The service reads documents as trusted files; the API checks their shape first.
        for key in ("requirements", "overrides"):
            items = document.get(key, [])
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise serializers.ValidationError({key: [DOCUMENT_LIST % {"key": key}]})
        for override in document.get("overrides", []):
            missing = sorted({"framework", "code", "parameter", "value"} - set(override))
            if missing:
                raise serializers.ValidationError({"overrides": [OVERRIDE_KEYS % {"keys": ", ".join(missing)}]})
        return document


class ImpactRowSerializer(serializers.Serializer):
    framework = serializers.CharField(help_text=_("Framework URN."))
    code = serializers.CharField()
    title = serializers.CharField()
    params = serializers.DictField()
    newly_failing = serializers.IntegerField()
    registrations = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Newly failing registrations you can see (first 100).")
    )


class ImpactPreviewSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    evaluated_registrations = serializers.IntegerField()
    newly_failing_registrations = serializers.IntegerField()
    requirements = ImpactRowSerializer(many=True)


class OverrideChangeSerializer(serializers.Serializer):
    framework = serializers.CharField()
    code = serializers.CharField()
    parameter = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class VersionDiffSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    against = serializers.IntegerField()
    added = serializers.ListField(child=serializers.DictField(), help_text=_("Requirements only in this version."))
    removed = serializers.ListField(child=serializers.DictField(), help_text=_("Requirements only in `against`."))
    changed = serializers.DictField(
        child=serializers.DictField(), help_text=_("Per code, per field: [value in `against`, value here].")
    )
    overrides = OverrideChangeSerializer(many=True)


# Effective requirements --------------------------------------------------------------------------------


class TighteningSerializer(serializers.Serializer):
    parameter = serializers.CharField()
    value = serializers.JSONField()
    previous = serializers.JSONField()
    community = serializers.CharField(help_text=_("Slug of the community that tightened it."))


class EffectiveRequirementSerializer(serializers.Serializer):
    framework = serializers.CharField(source="framework.urn", help_text=_("Framework URN."))
    framework_name = serializers.CharField(source="framework.name")
    source_community = serializers.SerializerMethodField(help_text=_("Slug; null for a global baseline."))
    code = serializers.CharField(source="requirement.code")
    title = serializers.CharField(source="requirement.title")
    kind = serializers.CharField(source="requirement.kind")
    severity = serializers.CharField(source="requirement.severity")
    citation = serializers.CharField(source="requirement.citation")
    citation_url = serializers.CharField(source="requirement.citation_url")
    effective_from = serializers.DateField(source="requirement.effective_from")
    effective_until = serializers.DateField(source="requirement.effective_until")
    applies_when = serializers.CharField(source="requirement.applies_when")
    check = serializers.CharField(source="requirement.check_rule")
    evidence = serializers.CharField(source="requirement.evidence")
    params = serializers.DictField(help_text=_("Parameters after every tightening."))
    tightened = TighteningSerializer(source="tightenings", many=True)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_source_community(self, item):
        community = item.source_community
        return community.slug if community else None


class EffectiveRequirementsSerializer(serializers.Serializer):
    community = serializers.CharField()
    on = serializers.DateField()
    results = EffectiveRequirementSerializer(many=True)


class EffectiveRequirementsQuerySerializer(StrictSerializer):
    """Query of the effective-requirements endpoint."""

    on = serializers.DateField(required=False, help_text=_("YYYY-MM-DD; today by default."))


class DiffQuerySerializer(StrictSerializer):
    """Query of the diff endpoint."""

    against = serializers.IntegerField(
        required=False, help_text=_("Version id to compare with; the framework's published version by default.")
    )


class AdoptSerializer(StrictSerializer):
    """The informative baseline a community adopts."""

    framework = FrameworkReferenceField()


class AdoptionSerializer(serializers.ModelSerializer):
    community = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    framework = serializers.SlugRelatedField(slug_field="urn", read_only=True)
    adopted_by = UserField()

    class Meta:
        model = BaselineAdoption
        fields = ["community", "framework", "adopted_by", "created_at"]


# Rules -------------------------------------------------------------------------------------------------


class RuleValidateSerializer(StrictSerializer):
    """A CEL expression to check, with sample values of the parameters it may use."""

    expression = serializers.CharField(max_length=4000, allow_blank=True, trim_whitespace=False)
    parameters = serializers.DictField(
        required=False, default=dict, help_text=_("Parameter names and sample values the rule may use as params.*")
    )


class RuleProblemSerializer(serializers.Serializer):
    message = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    column = serializers.IntegerField(allow_null=True)


class RuleValidationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    problems = RuleProblemSerializer(many=True)


# Evidence and waivers ----------------------------------------------------------------------------------


class EvidenceSerializer(serializers.ModelSerializer):
    framework = serializers.CharField(source="framework.urn", read_only=True)
    submitted_by = UserField()
    reviewer = UserField()
    status = EvidenceStatusField()
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = [
            "id",
            "registration",
            "framework",
            "requirement_code",
            "statement",
            "url",
            "file_name",
            "file_size",
            "content_type",
            "file_url",
            "status",
            "submitted_by",
            "submitted_at",
            "reviewer",
            "review_comment",
            "reviewed_at",
            "expires_on",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_file_url(self, evidence):
        if not evidence.file:
            return None
        return reverse("governance-evidence-file", kwargs={"pk": evidence.pk}, request=self.context.get("request"))


class EvidenceSubmitSerializer(StrictSerializer):
    """Evidence for one requirement of one registration: a document (multipart `file`) or a link (`url`)."""

    registration = VisibleRegistrationField()
    framework = FrameworkReferenceField()
    requirement_code = serializers.CharField(max_length=60)
    statement = serializers.CharField(max_length=5000)
    file = serializers.FileField(required=False, allow_empty_file=False, max_length=255)
    url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")


class EvidenceReviewSerializer(CommentSerializer):
    """A regulator's decision on evidence; accepted evidence may expire."""

    expires_on = serializers.DateField(required=False, allow_null=True, default=None)


class WaiverSerializer(StrictModelSerializer):
    """A requirement waived for one registration until it expires or is revoked."""

    registration = VisibleRegistrationField()
    framework = FrameworkReferenceField()
    approved_by = UserField()
    revoked_by = UserField()
    in_force = serializers.SerializerMethodField()

    class Meta:
        model = Waiver
        fields = [
            "id",
            "registration",
            "framework",
            "requirement_code",
            "justification",
            "expires_on",
            "approved_by",
            "created_at",
            "revoked_by",
            "revoked_at",
            "in_force",
        ]
        read_only_fields = ["id", "approved_by", "created_at", "revoked_by", "revoked_at", "in_force"]

    def get_in_force(self, waiver) -> bool:
        return waiver.is_valid_on(timezone.localdate())
