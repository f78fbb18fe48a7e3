"""Imports and open-data exports over the API (issue 7).

- POST /api/v1/imports/ (multipart: format, community, file, mapping?, dry_run?) queues an import job run
  by a worker; GET /api/v1/imports/ and /imports/{id}/ show its status, progress and row-level report.
  Staff and the community's regulators may import; a job is visible to them and to whoever started it.
- GET /api/v1/communities/{slug}/export.csv|.json?scope=public|all streams the register.
- GET /api/v1/registrations/{id}/annex-viii/ and /nl-standard/ give one registration as an official record.
"""

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.import_serializers import ImportJobCreateSerializer, ImportJobSerializer
from registry.api.views import RegistryViewSet
from registry.exporters import annex_viii, nl_standard
from registry.exporters.registers import SCOPES, export_queryset, stream_csv, stream_json
from registry.importers.jobs import import_job_create, import_jobs_visible
from registry.models import Community, Registration
from registry.permissions import Action

UNKNOWN_SCOPE = _("scope must be one of: %(scopes)s.")
DATA_LICENCE = (
    "Registry content as filed by its organizations; imported registers keep their source licences "
    "(U.S. federal inventory: public domain; Dutch algorithm register: CC0 1.0). See docs/imports.md."
)


class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        return import_jobs_visible(self.request.user).select_related("community", "created_by")

    @extend_schema(
        request={"multipart/form-data": ImportJobCreateSerializer},
        responses={202: ImportJobSerializer},
    )
    def create(self, request):
        """Upload a register file; a worker imports it. Poll the job for progress and its report."""
        serializer = ImportJobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = import_job_create(actor=request.user, **serializer.validated_data)
        return self.respond(job, status.HTTP_202_ACCEPTED)


class AnyMediaRenderer(JSONRenderer):
    """Lets a client ask for text/csv: the body is streamed, and only errors are rendered (as JSON)."""

    media_type = "*/*"


SCOPE_PARAMETER = OpenApiParameter(
    "scope", str, enum=list(SCOPES), description="public (default): the public register; all: what you may see."
)


class CommunityExportView(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, AnyMediaRenderer]
    export_format = "json"

    @extend_schema(
        parameters=[SCOPE_PARAMETER, OpenApiParameter("slug", str, OpenApiParameter.PATH)],
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)},
        tags=["exports"],
    )
    def get(self, request, slug):
        """The community's register as open data, streamed."""
        scope = request.query_params.get("scope", "public")
        if scope not in SCOPES:
            raise ValidationError({"scope": [UNKNOWN_SCOPE % {"scopes": ", ".join(SCOPES)}]})
        if scope == "all" and not request.user.is_authenticated:
            raise NotAuthenticated()
        community = get_object_or_404(Community, slug=slug)
        if scope == "public" and not community.public_register_enabled:
            raise Http404
        queryset = export_queryset(community=community, scope=scope, user=request.user)
        filename = f"{community.slug}-register-{scope}.{self.export_format}"
        if self.export_format == "csv":
            body, content_type = stream_csv(queryset, community=community, scope=scope), "text/csv; charset=utf-8"
        else:
            body = stream_json(
                queryset,
                community=community,
                scope=scope,
                generated_at=timezone.now().isoformat(),
                licence=DATA_LICENCE,
            )
            content_type = "application/json"
        response = StreamingHttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class RegistrationRecordView(APIView):
    builder = None

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, tags=["exports"])
    def get(self, request, pk):
        """One registration as an official record."""
        registration = get_object_or_404(
            Registration.objects.restrict(request.user, Action.VIEW).select_related(
                "system", "organization", "community"
            ),
            pk=pk,
        )
        return Response(type(self).builder(registration))


class AnnexViiiView(RegistrationRecordView):
    builder = staticmethod(annex_viii.annex_viii_record)


class NlStandardView(RegistrationRecordView):
    builder = staticmethod(nl_standard.nl_standard_record)
