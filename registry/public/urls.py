from django.urls import path

from registry.public import feeds, views

app_name = "public"

urlpatterns = [
    path("", views.community_list, name="index"),
    path("<slug:slug>/", views.register, name="register"),
    path("<slug:slug>/feed.atom", feeds.RegisterFeed(), name="feed"),
    path("<slug:slug>/register.csv", views.register_csv, name="register-csv"),
    path("<slug:slug>/register.json", views.register_json, name="register-json"),
    path("<slug:slug>/<int:pk>/", views.registration_detail, name="registration"),
]
