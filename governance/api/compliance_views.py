"""Compliance REST API (issue 5): runs and their progress, per-check results, findings.

Everything starts from the restricting querysets, so runs, results and findings a user may not see answer
404 and never count anywhere. Results are read from the `governance_complianceresult` view over the
compact state, which can hold millions of rows: pages are keyset pages and nothing counts the view.
"""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.reverse import reverse

from governance.api import compliance_serializers as s
from governance.choices import ResultCode, RunTrigger
from governance.compliance_filtersets import ComplianceResultFilterSet, ComplianceRunFilterSet, FindingFilterSet
from governance.models import ComplianceResult, ComplianceRun, Finding, RegistrationCompliance
from governance.models.compliance import ACTIVE_RUN_STATUSES, RESULT_ID_FACTOR
from governance.services.compliance import SweepAlreadyRunning, compliance_run_start
from registry.api.errors import Conflict
from registry.api.pagination import IdCursorPagination
from registry.api.views import RegistryViewSet

SWEEP_RUNNING = _("A sweep of this community is already queued or running (run %(run)s); wait for it to finish.")


class ComplianceRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    """Sweeps and on-change checks, newest first: seen by those who oversee the community swept."""

    model = ComplianceRun
    serializer_class = s.ComplianceRunSerializer
    select_related = ("community", "created_by")
    filterset_class = ComplianceRunFilterSet
    lookup_value_regex = "[0-9]+"

    @extend_schema(
        request=s.ComplianceRunCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[202],
                description="The run's URL, to poll for progress.",
            )
        ],
        responses={
            202: s.ComplianceRunSerializer,
            403: OpenApiResponse(description="Not a regulator of the community or of an ancestor."),
            409: OpenApiResponse(description="A sweep of the community is already queued or running."),
        },
    )
    def create(self, request):
        """Start a sweep of a community and its descendants (its regulators, and those of its ancestors).

        Answers 202 at once with the queued run and its URL in `Location`; poll it for progress.
        """
        serializer = s.ComplianceRunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        community = serializer.validated_data["community"]
        try:  # the service checks, inside its transaction, that the user regulates the community
            run = compliance_run_start(community=community, actor=request.user, trigger=RunTrigger.MANUAL)
        except SweepAlreadyRunning as error:
            active = ComplianceRun.objects.filter(
                community=community, lock_key__isnull=False, status__in=ACTIVE_RUN_STATUSES
            ).first()
            raise Conflict(SWEEP_RUNNING % {"run": active.pk if active else "?"}, code="sweep_running") from error
        response = self.respond(run, status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("compliance-run-detail", kwargs={"pk": run.pk}, request=request)
        return response


class ResultKeysetPagination(IdCursorPagination):
    """Cursor pages over the result view in id order, read as (registration, position) order.

    The view's id is computed, so `ORDER BY id` would sort every visible row before returning fifty.
    Ordering by the underlying registration id first, and bounding it from the cursor, lets PostgreSQL
    walk the state table's primary key and stop after one page; the order is the same, since
    id = registration id × 100,000 + position.
    """

    ordering = "id"

    def paginate_queryset(self, queryset, request, view=None):
        return super().paginate_queryset(_RegistrationFirst(queryset, self), request, view)


class _RegistrationFirst:
    """The three queryset operations CursorPagination uses, translated to registration-first keyset SQL."""

    def __init__(self, queryset, paginator):
        self.queryset = queryset
        self.paginator = paginator

    def order_by(self, *fields):
        descending = fields[0].startswith("-")
        prefix = "-" if descending else ""
        return _RegistrationFirst(self.queryset.order_by(f"{prefix}registration_id", f"{prefix}id"), self.paginator)

    def filter(self, **lookups):
        ((lookup, position),) = lookups.items()
        try:
            position = int(position)
        except (TypeError, ValueError):
            raise NotFound(self.paginator.invalid_cursor_message) from None
        bound = "registration_id__gte" if lookup.endswith("__gt") else "registration_id__lte"
        queryset = self.queryset.filter(**{lookup: position, bound: position // RESULT_ID_FACTOR})
        return _RegistrationFirst(queryset, self.paginator)

    def __getitem__(self, item):
        return self.queryset[item]


def attach_error_messages(results) -> None:
    """Give each `error` result its rule's message from the compact state (one query, only when needed)."""
    errored = [result for result in results if result.code == ResultCode.ERROR]
    if not errored:
        return
    errors = dict(
        RegistrationCompliance.objects.filter(registration_id__in={r.registration_id for r in errored}).values_list(
            "registration_id", "errors"
        )
    )
    for result in errored:
        position = result.id - result.registration_id * RESULT_ID_FACTOR
        result.error_message = (errors.get(result.registration_id) or {}).get(str(position), "")


class ComplianceResultViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    """The current result of every check of every registration the user may see, with its reason."""

    model = ComplianceResult
    serializer_class = s.ComplianceResultSerializer
    select_related = ("framework", "requirement")
    filterset_class = ComplianceResultFilterSet
    pagination_class = ResultKeysetPagination
    lookup_value_regex = "[0-9]+"

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        attach_error_messages(page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        # The id is computed in the view: name the registration too, so the lookup uses the state table's key.
        pk = int(pk)
        result = get_object_or_404(self.get_queryset(), pk=pk, registration_id=pk // RESULT_ID_FACTOR)
        attach_error_messages([result])
        return Response(self.get_serializer(result).data)


class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    """Failures someone must fix, newest first: seen by who sees the registration."""

    model = Finding
    serializer_class = s.FindingSerializer
    select_related = ("registration__community", "organization", "framework")
    filterset_class = FindingFilterSet
    lookup_value_regex = "[0-9]+"
