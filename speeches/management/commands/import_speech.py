"""`manage.py import_speech PATH… [--publish] [--dry-run] [--format native|digichina|auto]`.

Parses every file first (a bad file stops everything before anything is
written), then writes each speech in its own transaction inside one outer
transaction, so a failure while writing the third speech also leaves the first
two unwritten: a multi-file import is all or nothing.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from speeches.importers.coverage import import_coverage
from speeches.importers.document import CoverageDoc, ImportFormatError, SpeechDocument
from speeches.importers.native import parse_native_files
from speeches.importers.writer import import_speech_document


def _format_of(path: str, chosen: str) -> str:
    if chosen != "auto":
        return chosen
    extension = os.path.splitext(path)[1].lower()
    if extension in (".md", ".markdown"):
        return "native"
    if extension == ".txt":
        return "digichina"
    raise CommandError(f"{path}: cannot tell the format from the extension; use --format")


def parse_paths(paths: list[str], chosen: str = "auto") -> list[SpeechDocument | CoverageDoc]:
    """Parse files of any supported format into documents, in the given order."""
    native = [p for p in paths if _format_of(p, chosen) == "native"]
    plain = [p for p in paths if _format_of(p, chosen) == "digichina"]
    documents: list[SpeechDocument | CoverageDoc] = list(parse_native_files(native))
    if plain:
        # Imported lazily: the DigiChina parser is only needed for .txt files.
        from speeches.importers.digichina import parse_digichina_file

        parsed = [parse_digichina_file(p) for p in plain]
        speeches = [d for d in parsed if isinstance(d, SpeechDocument)]
        documents.extend(speeches)
        # Articles again, knowing the speeches, so they can be tied to them.
        documents.extend(
            parse_digichina_file(p, known_speeches=[*speeches])
            for p, d in zip(plain, parsed, strict=True)
            if isinstance(d, CoverageDoc)
        )
    return documents


class Command(BaseCommand):
    help = "Import speeches (native Markdown or DigiChina plain text) in one transaction."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--publish", action="store_true", help="Publish the speeches.")
        parser.add_argument("--dry-run", action="store_true", help="Do everything, then roll back.")
        parser.add_argument(
            "--format", choices=["auto", "native", "digichina"], default="auto", dest="fmt"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for path in options["paths"]:
            if not os.path.isfile(path):
                raise CommandError(f"{path}: no such file")
        try:
            documents = parse_paths(options["paths"], options["fmt"])
            with transaction.atomic():
                for doc in documents:
                    if isinstance(doc, CoverageDoc):
                        coverage = import_coverage(doc)
                        where = coverage.speech.slug if coverage.speech else "no speech"
                        self.stdout.write(f"coverage: {doc.outlet}: {doc.title} ({where})")
                        continue
                    result = import_speech_document(doc, publish=options["publish"])
                    result.dry_run = options["dry_run"]
                    self.stdout.write(result.summary())
                    for message in result.messages:
                        self.stdout.write(f"  {message}")
                if options["dry_run"]:
                    transaction.set_rollback(True)
        except ImportFormatError as exc:
            raise CommandError(str(exc)) from exc
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
