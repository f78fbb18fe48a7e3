from django.urls import include, path
from rest_framework.routers import DefaultRouter

from registry.api import views

router = DefaultRouter()
router.register("communities", views.CommunityViewSet, basename="community")
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("systems", views.AISystemViewSet, basename="system")
router.register("registrations", views.RegistrationViewSet, basename="registration")

urlpatterns = [
    path("auth/token/", views.TokenLoginView.as_view(), name="auth-token"),
    path("auth/logout/", views.TokenLogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", views.TokenLogoutAllView.as_view(), name="auth-logout-all"),
    path("", include(router.urls)),
    path("", include("registry.api.import_urls")),
    path("", include("registry.api.webhook_urls")),
    path("", include("governance.api.urls")),
    path("", include("governance.api.assessment_urls")),
    path("", include("governance.api.compliance_urls")),
]
