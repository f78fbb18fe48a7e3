from django.urls import path

from registry.web import lists, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/runs/<int:pk>/", views.run_progress, name="run-progress"),
    path("dashboard/runs/start/", views.run_start, name="run-start"),
    path("registrations/", lists.registration_list, name="registration-list"),
    path("registrations/export.csv", lists.registration_export, name="registration-export"),
]
