"""Import and export endpoints, mounted under /api/v1/ by registry/api/urls.py."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from registry.api import import_views

router = SimpleRouter()
router.register("imports", import_views.ImportJobViewSet, basename="import-job")

urlpatterns = [
    path("", include(router.urls)),
    path(
        "communities/<slug:slug>/export.csv",
        import_views.CommunityExportView.as_view(export_format="csv"),
        name="community-export-csv",
    ),
    path(
        "communities/<slug:slug>/export.json",
        import_views.CommunityExportView.as_view(export_format="json"),
        name="community-export-json",
    ),
    path("registrations/<int:pk>/annex-viii/", import_views.AnnexViiiView.as_view(), name="registration-annex-viii"),
    path("registrations/<int:pk>/nl-standard/", import_views.NlStandardView.as_view(), name="registration-nl-standard"),
]
