"""Outgoing webhooks over the API (issue 5).

- /api/v1/webhooks/: an organization's admins create, change and delete its webhooks; its members read
  them. The signing secret appears only in the create response.
- GET /api/v1/webhooks/{id}/deliveries/: the delivery log, every attempt included.
- POST /api/v1/webhooks/{id}/ping/: queue a signed test delivery.
- POST /api/v1/webhooks/{id}/rotate-secret/: replace the signing secret, shown once in the response.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from registry.api.views import RegistryViewSet
from registry.api.webhook_serializers import WebhookCreatedSerializer, WebhookDeliverySerializer, WebhookSerializer
from registry.models import Webhook, WebhookDelivery
from registry.permissions import Action
from registry.services import webhooks as services


@extend_schema(tags=["webhooks"])
class WebhookViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RegistryViewSet):
    model = Webhook
    serializer_class = WebhookSerializer
    select_related = ("organization", "created_by")

    @extend_schema(request=WebhookSerializer, responses={201: WebhookCreatedSerializer})
    def create(self, request):
        """Register a webhook; the response carries its signing secret, which is never shown again."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = services.webhook_create(actor=request.user, **serializer.validated_data)
        webhook = self.get_queryset().get(pk=webhook.pk)
        return Response(
            WebhookCreatedSerializer(webhook, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def update(self, request, pk=None, partial=False):
        webhook = self.get_object()
        serializer = self.get_serializer(webhook, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        webhook = services.webhook_update(webhook=webhook, actor=request.user, **serializer.validated_data)
        return self.respond(webhook)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        services.webhook_delete(webhook=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=WebhookDeliverySerializer)
    def deliveries(self, request, pk=None):
        """The webhook's deliveries, newest first, each with its attempts."""
        webhook = self.get_object()
        deliveries = WebhookDelivery.objects.restrict(request.user, Action.VIEW, scope=self.user_scope).filter(
            webhook=webhook
        )
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"], serializer_class=WebhookDeliverySerializer)
    def ping(self, request, pk=None):
        """Queue a signed `ping` delivery to check the receiver; follow it in the delivery log."""
        delivery = services.webhook_ping(webhook=self.get_object(), actor=request.user)
        delivery.refresh_from_db()
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: WebhookCreatedSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret", serializer_class=WebhookCreatedSerializer)
    def rotate_secret(self, request, pk=None):
        """Replace the signing secret; the response is the only time the new one is shown."""
        webhook = services.webhook_rotate_secret(webhook=self.get_object(), actor=request.user)
        webhook = self.get_queryset().get(pk=webhook.pk)
        return Response(WebhookCreatedSerializer(webhook, context=self.get_serializer_context()).data)
