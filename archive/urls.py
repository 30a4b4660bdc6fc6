from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path

from speeches.api import api
from speeches.sitemaps import SITEMAPS

admin.site.site_header = "Speech Archive — editors"
admin.site.site_title = "Speech Archive admin"
admin.site.index_title = "Archive content"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    # /sitemap.xml is an index of one sitemap per section (passages run to many pages).
    path(
        "sitemap.xml",
        sitemap_views.index,
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap_section"},
        name="sitemap",
    ),
    path(
        "sitemap-<section>.xml",
        sitemap_views.sitemap,
        {"sitemaps": SITEMAPS},
        name="sitemap_section",
    ),
    path("", include("speeches.urls")),
]
