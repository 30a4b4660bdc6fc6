from django.urls import path

from speeches import views

app_name = "speeches"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("speeches/", views.speech_list, name="speech_list"),
    path("speeches/<slug:slug>/", views.speech_detail, name="speech"),
    path("p/<str:key>/", views.passage_detail, name="passage"),
    path("speakers/<slug:slug>/", views.speaker_detail, name="speaker"),
    path("collections/<slug:slug>/", views.collection_detail, name="collection"),
]
