from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Speech Archive — editors"
admin.site.site_title = "Speech Archive admin"
admin.site.index_title = "Archive content"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("speeches.urls")),
]
