from django.contrib import admin  # noqa: F401 - the editors' admin is built in the admin issue work
