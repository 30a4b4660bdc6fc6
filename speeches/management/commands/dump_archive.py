"""`manage.py dump_archive OUT_DIR` — every published speech as gzip JSON Lines.

Writes OUT_DIR/speeches.jsonl.gz (one speech per line, the lossless JSON of
`/speeches/<slug>.json`) and OUT_DIR/manifest.json (counts, sha256, date); see
speeches/importers/dump.py. Drafts and withdrawn speeches are not dumped.
`manage.py load_corpus OUT_DIR` loads it back, into an empty archive or not.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from speeches.importers.dump import MANIFEST_FILE, SPEECHES_FILE, write_dump
from speeches.models import Speech


class Command(BaseCommand):
    help = "Dump every published speech as gzip JSON Lines with a manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", metavar="OUT_DIR", help="Folder to write into (created).")

    def handle(self, *args: Any, **options: Any) -> None:
        out_dir = Path(options["out_dir"])
        if out_dir.exists() and not out_dir.is_dir():
            raise CommandError(f"{out_dir} exists and is not a folder")
        started = time.monotonic()
        total = Speech.objects.public().count()
        with tqdm(total=total, unit="speech", disable=not sys.stderr.isatty()) as bar:
            try:
                manifest = write_dump(out_dir, progress=lambda _slug: bar.update())
            except OSError as exc:
                raise CommandError(f"cannot write {out_dir}: {exc}") from exc
        counts = manifest["counts"]
        self.stdout.write(
            self.style.SUCCESS(
                f"dumped {counts['speeches']} speeches, {counts['passages']} passages, "
                f"{counts['texts']} texts to {out_dir / SPEECHES_FILE} "
                f"({manifest['files'][0]['bytes'] / 1e6:.1f} MB, manifest in "
                f"{out_dir / MANIFEST_FILE}) in {time.monotonic() - started:.1f}s"
            )
        )
