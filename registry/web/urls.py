from django.urls import path

from registry.web import detail, filing, lists, review, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/runs/<int:pk>/", views.run_progress, name="run-progress"),
    path("dashboard/runs/start/", views.run_start, name="run-start"),
    path("registrations/", lists.registration_list, name="registration-list"),
    path("registrations/export.csv", lists.registration_export, name="registration-export"),
    path("registrations/new/", filing.registration_create, name="registration-create"),
    path("registrations/<int:pk>/", detail.registration_detail, name="registration-detail"),
    path("registrations/<int:pk>/edit/", filing.registration_edit, name="registration-edit"),
    path("registrations/<int:pk>/submit/", filing.registration_submit, name="registration-submit"),
    path("registrations/<int:pk>/decide/", review.registration_decide, name="registration-decide"),
    path("registrations/<int:pk>/retire/", review.registration_retire, name="registration-retire"),
    path("registrations/<int:pk>/waivers/", review.waiver_grant, name="waiver-grant"),
    path("review/", review.review_queue, name="review-queue"),
    path("review/evidence/<int:pk>/", review.evidence_decide, name="evidence-decide"),
    path("review/assessments/<int:pk>/", review.assessment_decide, name="assessment-decide"),
    path("systems/", filing.system_list, name="system-list"),
    path("systems/new/", filing.system_create, name="system-create"),
    path("systems/<int:pk>/edit/", filing.system_edit, name="system-edit"),
]
