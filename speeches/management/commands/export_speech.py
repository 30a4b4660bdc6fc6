"""`manage.py export_speech SLUG --format md|json --output DIR`.

Writes the native Markdown files (one per version) or one lossless JSON file.
Any status is exported: this is an editors' tool (the public `.md`/`.json`
URLs only serve published speeches). An old slug finds the speech too.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from speeches.exporters import export_json, export_native
from speeches.models import SlugHistory, Speech


class Command(BaseCommand):
    help = "Export a speech as native Markdown files or as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--format", choices=["md", "json"], default="md", dest="fmt")
        parser.add_argument("--output", default=".", help="Folder to write into (created).")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        speech = Speech.objects.filter(slug=slug).select_related("speaker").first()
        if speech is None:
            old = SlugHistory.objects.filter(old_slug=slug).select_related("speech").first()
            if old is None:
                raise CommandError(f"no speech with slug {slug!r}")
            speech = old.speech
        if options["fmt"] == "json":
            files = {
                f"{speech.slug}.json": json.dumps(export_json(speech), ensure_ascii=False, indent=2)
                + "\n"
            }
        else:
            files = export_native(speech)
        os.makedirs(options["output"], exist_ok=True)
        for name, content in files.items():
            path = os.path.join(options["output"], name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(content)
            self.stdout.write(path)
