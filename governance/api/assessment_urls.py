"""Instrument and assessment endpoints, mounted under /api/v1/ (registry/api/urls.py)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from governance.api import assessment_views as views

router = SimpleRouter()
router.register("instruments", views.InstrumentViewSet, basename="governance-instrument")
router.register("assessments", views.AssessmentViewSet, basename="governance-assessment")

urlpatterns = [path("", include(router.urls))]
