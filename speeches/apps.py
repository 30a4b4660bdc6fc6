from django.apps import AppConfig


class SpeechesConfig(AppConfig):
    name = "speeches"
    verbose_name = "Speech archive"
