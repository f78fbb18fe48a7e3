"""Compliance endpoints (issue 5), mounted under /api/v1/ by registry/api/urls.py."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from governance.api import compliance_views as views

router = SimpleRouter()
router.register("compliance/runs", views.ComplianceRunViewSet, basename="compliance-run")
router.register("compliance/results", views.ComplianceResultViewSet, basename="compliance-result")
router.register("findings", views.FindingViewSet, basename="finding")

urlpatterns = [path("", include(router.urls))]
