"""Governance endpoints, mounted under /api/v1/ next to the registry's (registry/api/urls.py)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from governance.api import views

VERSION = r"frameworks/(?P<framework_pk>[0-9]+)/versions"
VERSION_CONTENT = VERSION + r"/(?P<version_pk>[0-9]+)"

# A SimpleRouter: the registry's DefaultRouter already serves the API root.
router = SimpleRouter()
router.register("frameworks", views.FrameworkViewSet, basename="governance-framework")
router.register(VERSION, views.FrameworkVersionViewSet, basename="governance-version")
router.register(f"{VERSION_CONTENT}/requirements", views.RequirementViewSet, basename="governance-requirement")
router.register(f"{VERSION_CONTENT}/overrides", views.OverrideViewSet, basename="governance-override")
router.register("communities", views.CommunityGovernanceViewSet, basename="governance-community")
router.register("rules", views.RuleViewSet, basename="governance-rules")
router.register("evidence", views.EvidenceViewSet, basename="governance-evidence")
router.register("waivers", views.WaiverViewSet, basename="governance-waiver")

urlpatterns = [path("", include(router.urls))]
