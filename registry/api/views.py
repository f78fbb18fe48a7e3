"""REST API views: validate input, call one selector or service, serialize. Nothing else lives here."""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox import views as knox_views
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from registry import selectors, services
from registry.api.authentication import TokenAuthentication
from registry.api.idempotency import IdempotentPostMixin
from registry.api.serializers import (
    AISystemSerializer,
    AuditEventSerializer,
    CommunityMemberSerializer,
    CommunitySerializer,
    OrganizationMemberSerializer,
    OrganizationSerializer,
    ReaderSerializer,
    RegistrationSerializer,
    RegistrationVersionSerializer,
    TokenResponseSerializer,
    TransitionSerializer,
)
from registry.filtersets import AISystemFilterSet, CommunityFilterSet, RegistrationFilterSet
from registry.models import AISystem, Community, CommunityMembership, Organization, OrganizationMembership, Registration
from registry.permissions import Action, user_scope


class TokenLoginView(knox_views.LoginView):
    """Exchange a username and password for an expiring API token (stored hashed by knox)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=AuthTokenSerializer, responses=TokenResponseSerializer, tags=["auth"])
    def post(self, request, format=None):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        request.user = serializer.validated_data["user"]
        request.user.auth_token_set.filter(expiry__lt=timezone.now()).delete()
        return super().post(request, format=format)


@extend_schema(request=None, responses={204: None}, tags=["auth"])
class TokenLogoutView(knox_views.LogoutView):
    """Revoke the token used for this request."""

    authentication_classes = [TokenAuthentication]


@extend_schema(request=None, responses={204: None}, tags=["auth"])
class TokenLogoutAllView(knox_views.LogoutAllView):
    """Revoke every token of the requesting user."""

    authentication_classes = [TokenAuthentication]


class RegistryViewSet(IdempotentPostMixin, viewsets.GenericViewSet):
    """Every list and lookup starts from `Model.objects.restrict(user, view)`: hidden objects are 404."""

    model = None
    select_related: tuple[str, ...] = ()

    @cached_property
    def user_scope(self):
        """The requesting user's memberships, read once per request for all of the view's reads."""
        return user_scope(self.request.user)

    def get_queryset(self):
        user = self.request.user
        queryset = self.model.objects.restrict(user, Action.VIEW, scope=self.user_scope if user.is_active else None)
        return queryset.select_related(*self.select_related) if self.select_related else queryset

    def respond(self, instance, status_code=status.HTTP_200_OK):
        instance = self.get_queryset().get(pk=instance.pk)
        return Response(self.get_serializer(instance).data, status=status_code)


def _member_user(username):
    return get_object_or_404(get_user_model(), username=username, is_active=True)


class CommunityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    model = Community
    serializer_class = CommunitySerializer
    lookup_field = "slug"
    select_related = ("parent",)
    filterset_class = CommunityFilterSet

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        community = services.community_create(actor=request.user, **serializer.validated_data)
        return self.respond(community, status.HTTP_201_CREATED)

    def update(self, request, slug=None, partial=False):
        community = self.get_object()
        serializer = self.get_serializer(community, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        community = services.community_update(community=community, actor=request.user, **serializer.validated_data)
        return self.respond(community)

    def partial_update(self, request, slug=None):
        return self.update(request, slug=slug, partial=True)

    @extend_schema(responses=CommunityMemberSerializer(many=True), request=CommunityMemberSerializer)
    @action(detail=True, methods=["get", "post"], serializer_class=CommunityMemberSerializer)
    def members(self, request, slug=None):
        community = self.get_object()
        memberships = CommunityMembership.objects.restrict(request.user, Action.VIEW).filter(community=community)
        if request.method == "GET":
            memberships = self.paginate_queryset(memberships.select_related("user"))
            return self.get_paginated_response(CommunityMemberSerializer(memberships, many=True).data)
        serializer = CommunityMemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership, created = services.community_member_add(
            community=community,
            actor=request.user,
            user=serializer.validated_data["user"],
            role=serializer.validated_data["role"],
        )
        return Response(
            CommunityMemberSerializer(membership).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        parameters=[OpenApiParameter("role", str, description="Remove only this role.")], responses={204: None}
    )
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<username>[^/]+)")
    def remove_member(self, request, slug=None, username=None):
        community = self.get_object()
        removed = services.community_member_remove(
            community=community, actor=request.user, user=_member_user(username), role=request.query_params.get("role")
        )
        return Response(status=status.HTTP_204_NO_CONTENT if removed else status.HTTP_404_NOT_FOUND)


class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    model = Organization
    serializer_class = OrganizationSerializer
    lookup_field = "slug"

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = services.organization_create(actor=request.user, **serializer.validated_data)
        return self.respond(organization, status.HTTP_201_CREATED)

    def update(self, request, slug=None, partial=False):
        organization = self.get_object()
        serializer = self.get_serializer(organization, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        organization = services.organization_update(
            organization=organization, actor=request.user, **serializer.validated_data
        )
        return self.respond(organization)

    def partial_update(self, request, slug=None):
        return self.update(request, slug=slug, partial=True)

    @extend_schema(responses=OrganizationMemberSerializer(many=True), request=OrganizationMemberSerializer)
    @action(detail=True, methods=["get", "post"], serializer_class=OrganizationMemberSerializer)
    def members(self, request, slug=None):
        organization = self.get_object()
        memberships = OrganizationMembership.objects.restrict(request.user, Action.VIEW).filter(
            organization=organization
        )
        if request.method == "GET":
            memberships = self.paginate_queryset(memberships.select_related("user"))
            return self.get_paginated_response(OrganizationMemberSerializer(memberships, many=True).data)
        serializer = OrganizationMemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership, created = services.organization_member_set(
            organization=organization,
            actor=request.user,
            user=serializer.validated_data["user"],
            role=serializer.validated_data["role"],
        )
        return Response(
            OrganizationMemberSerializer(membership).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<username>[^/]+)")
    def remove_member(self, request, slug=None, username=None):
        organization = self.get_object()
        removed = services.organization_member_remove(
            organization=organization, actor=request.user, user=_member_user(username)
        )
        return Response(status=status.HTTP_204_NO_CONTENT if removed else status.HTTP_404_NOT_FOUND)


class AISystemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    model = AISystem
    serializer_class = AISystemSerializer
    select_related = ("organization",)
    filterset_class = AISystemFilterSet

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        system = services.system_create(actor=request.user, **serializer.validated_data)
        return self.respond(system, status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        system = self.get_object()
        serializer = self.get_serializer(system, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        system = services.system_update(system=system, actor=request.user, **serializer.validated_data)
        return self.respond(system)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        services.system_delete(system=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


TRANSITION_SCHEMA = extend_schema(request=TransitionSerializer, responses=RegistrationSerializer)


class RegistrationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    model = Registration
    serializer_class = RegistrationSerializer
    filterset_class = RegistrationFilterSet

    def get_queryset(self):
        return selectors.registration_api_rows(super().get_queryset())

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = services.registration_create(actor=request.user, **serializer.validated_data)
        return self.respond(registration, status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        registration = self.get_object()
        serializer = self.get_serializer(registration, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        registration = services.registration_update(
            registration=registration, actor=request.user, **serializer.validated_data
        )
        return self.respond(registration)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        services.registration_delete(registration=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _transition(self, request, name):
        registration = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = services.registration_transition(
            registration=registration, actor=request.user, action=name, comment=serializer.validated_data["comment"]
        )
        return self.respond(registration)

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._transition(request, "submit")

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._transition(request, "approve")

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._transition(request, "reject")

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request, pk=None):
        return self._transition(request, "request_changes")

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        return self._transition(request, "retire")

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=AuditEventSerializer)
    def history(self, request, pk=None):
        registration = self.get_object()
        events = self.paginate_queryset(selectors.registration_history(registration=registration))
        return self.get_paginated_response(AuditEventSerializer(events, many=True).data)

    @extend_schema(responses=RegistrationVersionSerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=RegistrationVersionSerializer)
    def versions(self, request, pk=None):
        registration = self.get_object()
        versions = self.paginate_queryset(registration.versions.select_related("created_by"))
        return self.get_paginated_response(RegistrationVersionSerializer(versions, many=True).data)

    @extend_schema(request=ReaderSerializer, responses={204: None})
    @action(detail=True, methods=["post"], serializer_class=ReaderSerializer)
    def readers(self, request, pk=None):
        """Grant one outside user (an auditor) read access to this registration."""
        registration = self.get_object()
        serializer = ReaderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.registration_grant_access(
            registration=registration, actor=request.user, user=serializer.validated_data["username"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"readers/(?P<username>[^/]+)")
    def remove_reader(self, request, pk=None, username=None):
        services.registration_revoke_access(
            registration=self.get_object(), actor=request.user, user=_member_user(username)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
