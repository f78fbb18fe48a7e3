"""Webhook endpoints, mounted under /api/v1/ by registry/api/urls.py."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from registry.api import webhook_views

router = SimpleRouter()
router.register("webhooks", webhook_views.WebhookViewSet, basename="webhook")

urlpatterns = [path("", include(router.urls))]
