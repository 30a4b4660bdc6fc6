"""Public URLs — a contract (DESIGN.md, "URLs"): users cite them in papers, so
existing patterns never change meaning; new ones are only added."""

from django.urls import path

from speeches import feeds, views

app_name = "speeches"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("speeches/", views.speech_list, name="speech_list"),
    path("speeches/<slug:slug>.json", views.speech_export, {"fmt": "json"}, name="export_json"),
    path("speeches/<slug:slug>.md", views.speech_export, {"fmt": "md"}, name="export_md"),
    path("speeches/<slug:slug>/", views.speech_detail, name="speech"),
    path("speeches/<slug:slug>/cite.<str:fmt>", views.speech_cite, name="speech_cite"),
    path("p/<str:key>/", views.passage_detail, name="passage"),
    path("p/<str:key>/cite.<str:fmt>", views.passage_cite, name="passage_cite"),
    path("speakers/", views.speaker_list, name="speaker_list"),
    path("speakers/<slug:slug>/", views.speaker_detail, name="speaker"),
    path("collections/", views.collection_list, name="collection_list"),
    path("collections/<slug:slug>/", views.collection_detail, name="collection"),
    path("themes/", views.theme_list, name="theme_list"),
    path("themes/<str:slug>/", views.theme_detail, name="theme"),
    path("glossary/", views.glossary_list, name="glossary"),
    path("search/", views.search, name="search"),
    path("glossary/<str:slug>/", views.term_detail, name="term"),
    path("feeds/speeches/", feeds.SpeechFeed(), name="feed"),
    path("feeds/speakers/<slug:slug>/", feeds.SpeakerFeed(), name="speaker_feed"),
    path("feeds/themes/<str:slug>/", feeds.ThemeFeed(), name="theme_feed"),
    path("robots.txt", views.robots_txt, name="robots"),
]
