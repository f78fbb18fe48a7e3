from django.urls import path

from governance.web import views

app_name = "assessments"

urlpatterns = [
    path("", views.assessment_list, name="list"),
    path("new/", views.assessment_new, name="new"),
    path("import-aia/", views.assessment_import, name="import-aia"),
    path("<int:pk>/", views.assessment_detail, name="detail"),
    path("<int:pk>/edit/<str:page>/", views.assessment_page, name="page"),
    path("<int:pk>/risks/", views.assessment_risks, name="risks"),
    path("<int:pk>/review/", views.assessment_review, name="review"),
    path("<int:pk>/submit/", views.assessment_submit, name="submit"),
    path("<int:pk>/accept/", views.assessment_accept, name="accept"),
    path("<int:pk>/return/", views.assessment_return, name="return"),
]
