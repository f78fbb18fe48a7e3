"""Governance REST API: validate input, call one selector or service, serialize. Nothing else lives here.

Every lookup starts from a restricting queryset, so objects a user cannot see answer 404 on every verb;
the services re-check write permission (403) and state (409) inside their transaction.
"""

import re
from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from governance import rules, selectors, services
from governance.api import serializers as s
from governance.choices import VersionStatus
from governance.evaluation import impact_preview
from governance.filtersets import EvidenceFilterSet, FrameworkFilterSet, WaiverFilterSet
from governance.models import (
    BaselineAdoption,
    Evidence,
    Framework,
    FrameworkVersion,
    ParameterOverride,
    Requirement,
    Waiver,
)
from registry.api.errors import Conflict, as_drf_validation_error
from registry.api.views import RegistryViewSet
from registry.models import Community, Registration
from registry.permissions import Action

NO_PUBLISHED_VERSION = _("This framework has no published version; name one to compare with in `against`.")
UNKNOWN_VERSION = _("No version with this id that you can see in this framework.")
ONLY_DRAFTS_PREVIEW = _("Only a draft has an impact to preview; this version is %(status)s.")
DUPLICATE_CODE = _("A requirement with this code already exists in this version.")
NO_FILE = _("This evidence has no document; it links to %(url)s.")

FRAMEWORK_ID = OpenApiParameter("framework_pk", int, OpenApiParameter.PATH, description="Framework id.")
VERSION_ID = OpenApiParameter("version_pk", int, OpenApiParameter.PATH, description="Framework version id.")


@contextmanager
def fields_renamed(names: dict[str, str]):
    """Report a service's validation errors under the API's field names (e.g. target_code → code)."""
    try:
        yield
    except DjangoValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        raise DjangoValidationError({names.get(key, key): value for key, value in error.error_dict.items()}) from error


@contextmanager
def errors_under(field: str):
    """Report a service's validation errors as belonging to one input field (e.g. inside `document`)."""
    try:
        yield
    except DjangoValidationError as error:
        raise ValidationError({field: as_drf_validation_error(error).detail}) from error


def visible_versions(user):
    return FrameworkVersion.objects.restrict(user, Action.VIEW).select_related(
        "framework__community", "created_by", "published_by"
    )


def version_detail_queryset(user):
    return visible_versions(user).prefetch_related(
        Prefetch("requirements", queryset=Requirement.objects.select_related("parent")),
        Prefetch("overrides", queryset=ParameterOverride.objects.select_related("target_framework")),
    )


def version_response(request, version, status_code=status.HTTP_200_OK):
    version = version_detail_queryset(request.user).get(pk=version.pk)
    return Response(s.FrameworkVersionDetailSerializer(version).data, status=status_code)


# Frameworks --------------------------------------------------------------------------------------------


class FrameworkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    """Baselines and community frameworks: public to every signed-in user, written by policy authors."""

    model = Framework
    serializer_class = s.FrameworkSerializer
    select_related = ("community",)
    filterset_class = FrameworkFilterSet
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        published = FrameworkVersion.objects.filter(status=VersionStatus.PUBLISHED)
        return super().get_queryset().prefetch_related(Prefetch("versions", queryset=published, to_attr="published"))

    @extend_schema(request=s.FrameworkCreateSerializer, responses={201: s.FrameworkSerializer})
    def create(self, request):
        """Create a community framework (its community's policy authors)."""
        serializer = s.FrameworkCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        community = data.pop("community")
        data.setdefault("urn", f"urn:commons:community:{community.slug}:{slugify(data['name'])}")
        framework = services.framework_create(actor=request.user, community=community, **data)
        return self.respond(framework, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.ImportSerializer,
        responses={201: s.FrameworkVersionDetailSerializer, 200: s.FrameworkVersionDetailSerializer},
    )
    @action(detail=False, methods=["post"], url_path="import", serializer_class=s.ImportSerializer)
    def import_document(self, request):
        """Load a framework-version document as a new draft (published if asked).

        Community frameworks are imported by that community's policy authors, global baselines by instance
        administrators. A document whose version already exists changes nothing and answers 200.
        """
        serializer = s.ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with errors_under("document"):
            version, created = services.version_import(actor=request.user, **serializer.validated_data)
        return version_response(request, version, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(parameters=[FRAMEWORK_ID])
class FrameworkVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    """A framework's versions; drafts are seen by the community's policy authors and its regulators only."""

    model = FrameworkVersion
    serializer_class = s.FrameworkVersionSerializer
    lookup_value_regex = "[0-9]+"

    def get_framework(self) -> Framework:
        if not hasattr(self, "_framework"):
            frameworks = Framework.objects.restrict(self.request.user, Action.VIEW)
            self._framework = get_object_or_404(frameworks, pk=self.kwargs["framework_pk"])
        return self._framework

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FrameworkVersion.objects.none()
        queryset = version_detail_queryset if self.action != "list" else visible_versions
        return queryset(self.request.user).filter(framework=self.get_framework())

    def get_serializer_class(self):
        return s.FrameworkVersionSerializer if self.action == "list" else s.FrameworkVersionDetailSerializer

    @extend_schema(request=s.VersionCreateSerializer, responses={201: s.FrameworkVersionDetailSerializer})
    def create(self, request, framework_pk=None):
        """Start a draft, copied from the published version so authors edit from what is in force."""
        serializer = s.VersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.version_create_draft(
            framework=self.get_framework(), actor=request.user, **serializer.validated_data
        )
        return self.respond(version, status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, framework_pk=None, pk=None):
        """Delete a draft (published and retired versions are kept for ever: 409)."""
        services.version_delete_draft(version=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.CommentSerializer, responses=s.FrameworkVersionDetailSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, framework_pk=None, pk=None):
        """Publish a draft: every rule is revalidated, the content hashed, the previous version retired."""
        version = self.get_object()
        serializer = s.CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.version_publish(version=version, actor=request.user, **serializer.validated_data)
        return self.respond(version)

    @extend_schema(responses=s.ImpactPreviewSerializer)
    @action(detail=True, methods=["get"], serializer_class=s.ImpactPreviewSerializer)
    def preview(self, request, framework_pk=None, pk=None):
        """What publishing this draft would do: per new or changed requirement, the registrations it newly fails."""
        version = self.get_object()
        if version.status != VersionStatus.DRAFT:
            raise Conflict(ONLY_DRAFTS_PREVIEW % {"status": version.get_status_display().lower()})
        preview = impact_preview(version)
        # Counts cover the whole subtree; ids are listed only where the user may open the registration.
        listed = {rid for row in preview["requirements"] for rid in row["registrations"]}
        visible = set(
            Registration.objects.restrict(request.user, Action.VIEW).filter(pk__in=listed).values_list("pk", flat=True)
        )
        for row in preview["requirements"]:
            row["registrations"] = [rid for rid in row["registrations"] if rid in visible]
        return Response(s.ImpactPreviewSerializer(preview).data)

    @extend_schema(parameters=[s.DiffQuerySerializer], responses=s.VersionDiffSerializer)
    @action(detail=True, methods=["get"], serializer_class=s.VersionDiffSerializer)
    def diff(self, request, framework_pk=None, pk=None):
        """Requirement- and field-level changes compared with `against` (the published version by default)."""
        version = self.get_object()
        query = s.DiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        against_pk = query.validated_data.get("against")
        if against_pk is None:
            against = version.framework.published_version()
            if against is None:
                raise ValidationError({"against": [NO_PUBLISHED_VERSION]})
        else:
            against = self.get_queryset().filter(pk=against_pk).first()
            if against is None:
                raise ValidationError({"against": [UNKNOWN_VERSION]})
        return Response(s.VersionDiffSerializer(selectors.version_diff(version, against)).data)

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def export(self, request, framework_pk=None, pk=None):
        """The version as a framework-version document (the format the import endpoint and baselines use)."""
        version = self.get_object()
        document = services.version_document(version)
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{version.framework.urn}-{version.version}").strip("-")
        return Response(document, headers={"Content-Disposition": f'attachment; filename="{name}.json"'})


class VersionContentViewSet(RegistryViewSet):
    """Base for a version's requirements and overrides: the version must be visible (else 404)."""

    def get_version(self) -> FrameworkVersion:
        if not hasattr(self, "_version"):
            self._version = get_object_or_404(
                FrameworkVersion.objects.restrict(self.request.user, Action.VIEW).select_related("framework"),
                pk=self.kwargs["version_pk"],
                framework_id=self.kwargs["framework_pk"],
            )
        return self._version

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.filter(version=self.get_version()).select_related(*self.select_related)


@extend_schema(parameters=[FRAMEWORK_ID, VERSION_ID])
class RequirementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, VersionContentViewSet):
    """A version's requirements, addressed by code; written only while the version is a draft."""

    model = Requirement
    serializer_class = s.RequirementSerializer
    select_related = ("parent",)
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def create(self, request, framework_pk=None, version_pk=None):
        version = self.get_version()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if version.requirements.filter(code=serializer.validated_data["code"]).exists():
            raise ValidationError({"code": [DUPLICATE_CODE]})
        with fields_renamed({"check_rule": "check"}):
            requirement = services.requirement_save(version=version, actor=request.user, data=serializer.service_data())
        return self.respond(requirement, status.HTTP_201_CREATED)

    def update(self, request, framework_pk=None, version_pk=None, code=None, partial=False):
        requirement = self.get_object()
        serializer = self.get_serializer(requirement, data=request.data, partial=partial, url_code=requirement.code)
        serializer.is_valid(raise_exception=True)
        data = serializer.service_data()
        if not partial:
            data = {**s.REQUIREMENT_DEFAULTS, **data}
        with fields_renamed({"check_rule": "check"}):
            requirement = services.requirement_save(
                version=self.get_version(), actor=request.user, data=data, code=requirement.code
            )
        return self.respond(requirement)

    def partial_update(self, request, framework_pk=None, version_pk=None, code=None):
        return self.update(request, framework_pk=framework_pk, version_pk=version_pk, code=code, partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request, framework_pk=None, version_pk=None, code=None):
        requirement = self.get_object()
        services.requirement_delete(version=self.get_version(), actor=request.user, code=requirement.code)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[FRAMEWORK_ID, VERSION_ID])
class OverrideViewSet(mixins.ListModelMixin, VersionContentViewSet):
    """A community version's tightenings of inherited parameters; a looser value is refused (400)."""

    model = ParameterOverride
    serializer_class = s.OverrideSerializer
    select_related = ("target_framework",)

    @extend_schema(responses={201: s.OverrideSerializer})
    def create(self, request, framework_pk=None, version_pk=None):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with fields_renamed({"target_framework": "framework", "target_code": "code"}):
            override = services.override_save(
                version=self.get_version(), actor=request.user, **serializer.validated_data
            )
        return self.respond(override, status.HTTP_201_CREATED)


# Communities -------------------------------------------------------------------------------------------


class CommunityGovernanceViewSet(RegistryViewSet):
    """Governance seen from a community: the requirements binding it, the baselines it adopts."""

    model = Community
    lookup_field = "slug"
    serializer_class = s.EffectiveRequirementsSerializer

    @extend_schema(parameters=[s.EffectiveRequirementsQuerySerializer], responses=s.EffectiveRequirementsSerializer)
    @action(detail=True, methods=["get"], url_path="effective-requirements")
    def effective_requirements(self, request, slug=None):
        """Every requirement binding the community on a date, with its parameters after each tightening."""
        community = self.get_object()
        query = s.EffectiveRequirementsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        on = query.validated_data.get("on") or timezone.localdate()
        items = selectors.effective_requirements(community, on=on)
        return Response(
            s.EffectiveRequirementsSerializer({"community": community.slug, "on": on, "results": items}).data
        )

    @extend_schema(request=s.AdoptSerializer, responses={201: s.AdoptionSerializer, 200: s.AdoptionSerializer})
    @action(detail=True, methods=["post"], url_path="adopted-baselines", serializer_class=s.AdoptSerializer)
    def adopted_baselines(self, request, slug=None):
        """Bind the community and its descendants to an informative baseline (its regulators)."""
        community = self.get_object()
        serializer = s.AdoptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        framework = serializer.validated_data["framework"]
        existed = BaselineAdoption.objects.filter(community=community, framework=framework).exists()
        adoption = services.baseline_adopt(community=community, framework=framework, actor=request.user)
        return Response(
            s.AdoptionSerializer(adoption).data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        )


# Rules -------------------------------------------------------------------------------------------------


class RuleViewSet(RegistryViewSet):
    """Help for rule editors: the documented context and a validator that answers with positions."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"], url_path="context-schema")
    def context_schema(self, request):
        """The variables and fields a CEL rule can use (schema version included)."""
        return Response(rules.context_schema())

    @extend_schema(request=s.RuleValidateSerializer, responses=s.RuleValidationSerializer)
    @action(detail=False, methods=["post"], serializer_class=s.RuleValidateSerializer)
    def validate(self, request):
        """Check one expression: syntax, unknown fields and type errors, with line and column."""
        serializer = s.RuleValidateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        problems = rules.validate_rule(
            serializer.validated_data["expression"], parameters=serializer.validated_data["parameters"]
        )
        body = {"valid": not problems, "problems": problems}
        return Response(s.RuleValidationSerializer(body).data)


# Evidence and waivers ----------------------------------------------------------------------------------


class EvidenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    """What filers attach to show a requirement is met; their community's regulators accept or reject it."""

    model = Evidence
    serializer_class = s.EvidenceSerializer
    select_related = ("framework", "submitted_by", "reviewer")
    filterset_class = EvidenceFilterSet
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": s.EvidenceSubmitSerializer, "application/json": s.EvidenceSubmitSerializer},
        responses={201: s.EvidenceSerializer},
    )
    def create(self, request):
        """Attach a document (multipart `file`) or a link (`url`) to a requirement of a registration."""
        serializer = s.EvidenceSubmitSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        evidence = services.evidence_submit(actor=request.user, **serializer.validated_data)
        return self.respond(evidence, status.HTTP_201_CREATED)

    def _review(self, request, accept: bool):
        evidence = self.get_object()
        serializer_class = s.EvidenceReviewSerializer if accept else s.CommentSerializer
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        evidence = services.evidence_review(
            evidence=evidence, actor=request.user, accept=accept, **serializer.validated_data
        )
        return self.respond(evidence)

    @extend_schema(request=s.EvidenceReviewSerializer, responses=s.EvidenceSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._review(request, accept=True)

    @extend_schema(request=s.CommentSerializer, responses=s.EvidenceSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._review(request, accept=False)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The document, as an attachment with its original name."
            )
        }
    )
    @action(detail=True, methods=["get"])
    def file(self, request, pk=None):
        """Download the document with its original file name and the content type checked at upload."""
        evidence = self.get_object()
        if not evidence.file:
            raise Http404(NO_FILE % {"url": evidence.url})
        return FileResponse(
            evidence.file.open("rb"),
            as_attachment=True,
            filename=evidence.file_name or evidence.file.name.rsplit("/", 1)[-1],
            content_type=evidence.content_type or "application/octet-stream",
        )


class WaiverViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    """A regulator's time-limited decision that one requirement does not bind one registration."""

    model = Waiver
    serializer_class = s.WaiverSerializer
    select_related = ("framework", "approved_by", "revoked_by")
    filterset_class = WaiverFilterSet

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        waiver = services.waiver_grant(actor=request.user, **serializer.validated_data)
        return self.respond(waiver, status.HTTP_201_CREATED)

    @extend_schema(request=s.CommentSerializer, responses=s.WaiverSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        waiver = self.get_object()
        serializer = s.CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        waiver = services.waiver_revoke(waiver=waiver, actor=request.user, **serializer.validated_data)
        return self.respond(waiver, status.HTTP_200_OK)
