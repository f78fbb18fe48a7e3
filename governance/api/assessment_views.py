"""Instruments and risk assessments over the API: validate, call one service, serialize.

Assessments are read through `RiskAssessment.objects.restrict(user, view)`: an assessment the user cannot
see answers 404 on every verb; the services re-check write and review scope (403) and state (409).
"""

from functools import cache

import django_filters
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from governance import services
from governance.api import assessment_serializers as s
from governance.instruments import INSTRUMENTS
from governance.models import RiskAssessment
from registry.api.views import RegistryViewSet


@cache
def _instrument(slug: str) -> dict:
    # Questionnaires are static per version: serialize each once per process.
    return s.InstrumentSerializer(s.instrument_data(slug)).data


class InstrumentViewSet(RegistryViewSet):
    """The assessment instruments, with their versions, validity periods and questions (EN/FR)."""

    lookup_field = "slug"
    lookup_value_regex = r"[a-z0-9-]+"
    serializer_class = s.InstrumentSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(responses=s.InstrumentSerializer(many=True))
    def list(self, request):
        return Response([_instrument(slug) for slug in INSTRUMENTS])

    def retrieve(self, request, slug=None):
        if slug not in INSTRUMENTS:
            raise Http404
        return Response(_instrument(slug))


class AssessmentFilterSet(django_filters.FilterSet):
    registration = django_filters.NumberFilter(field_name="registration_id")

    class Meta:
        model = RiskAssessment
        fields = ["instrument", "version", "status"]


class AssessmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    """Risk assessments of registrations: filers create, edit and submit; regulators accept or return."""

    model = RiskAssessment
    serializer_class = s.AssessmentSerializer
    select_related = ("assessor", "reviewer")
    filterset_class = AssessmentFilterSet

    @extend_schema(request=s.AssessmentCreateSerializer, responses={201: s.AssessmentSerializer})
    def create(self, request):
        """Answer an instrument for a registration; the result is computed from the answers."""
        serializer = s.AssessmentCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assessment = services.assessment_create(
            actor=request.user,
            registration=data["registration"],
            instrument=data["instrument"],
            version=data["version"] or None,
            answers=data["answers"],
        )
        return self.respond(assessment, status.HTTP_201_CREATED)

    @extend_schema(request=s.AssessmentUpdateSerializer, responses=s.AssessmentSerializer)
    def update(self, request, pk=None, partial=False):
        """Replace the answers of a draft or returned assessment."""
        assessment = self.get_object()
        serializer = s.AssessmentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assessment = services.assessment_update(
            assessment=assessment, actor=request.user, answers=serializer.validated_data["answers"]
        )
        return self.respond(assessment)

    @extend_schema(request=s.AssessmentUpdateSerializer, responses=s.AssessmentSerializer)
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(request=None, responses=s.AssessmentSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        assessment = services.assessment_submit(assessment=self.get_object(), actor=request.user)
        return self.respond(assessment)

    def _review(self, request, service):
        assessment = self.get_object()
        serializer = s.CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assessment = service(assessment=assessment, actor=request.user, comment=serializer.validated_data["comment"])
        return self.respond(assessment)

    @extend_schema(request=s.CommentSerializer, responses=s.AssessmentSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept (a regulator of the registration's community); valid for the instrument's period."""
        return self._review(request, services.assessment_accept)

    @extend_schema(request=s.CommentSerializer, responses=s.AssessmentSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, pk=None):
        """Return for changes, with a comment."""
        return self._review(request, services.assessment_return)

    @extend_schema(request=s.ImportAiaSerializer, responses={201: s.AssessmentSerializer})
    @action(detail=False, methods=["post"], url_path="import-aia")
    def import_aia(self, request):
        """Import a save file of Canada's official AIA tool as a draft assessment, scored here."""
        serializer = s.ImportAiaSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        assessment = services.assessment_import_aia(actor=request.user, **serializer.validated_data)
        return self.respond(assessment, status.HTTP_201_CREATED)
