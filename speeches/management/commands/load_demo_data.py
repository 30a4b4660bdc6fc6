"""`manage.py load_demo_data [--all] [--force]` — demo content for `make run`.

When the archive has no speeches and DEMO_CORPUS (default ../shared/corpus)
exists, load demo data, published:

* the DigiChina seeds (../shared/seeds beside the corpus) when present — the
  translation first, so the articles about it are tied to it;
* every Tang transcript pair (the bilingual showcase) and every PRC work report;
* an evenly spaced sample of the two large English sets (SAMPLE below: across
  all years, not just the first ones).

Why a sample: the whole corpus (3,080 speeches, 109,488 passages) loaded in
77 s once and in 125 s on a second, busier run on the development machine —
over the 90 s budget for a first `make run`. The default set (483 speeches,
25,392 passages) loaded in 26 s on the busy machine. `--all` loads everything.

With speeches already present it does nothing (use `load_corpus` to add more;
`--force` loads anyway, re-importing in place). Without a corpus folder it
prints how to import speeches by hand.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from speeches.importers.corpus import CORPUS_NAMES, SEEDS_NAME
from speeches.importers.document import ImportFormatError
from speeches.management.commands.load_corpus import corpus_root, load_folder
from speeches.models import Speech

# Documents per folder in the default demo set (None: all of them).
SAMPLE: dict[str, int | None] = {
    "tang-transcripts-zh-en": None,
    "prc-government-work-reports-zh": None,
    "us-presidential-speeches-millercenter": 150,
    "un-general-debate-corpus-2015-2024": 200,
}


class Command(BaseCommand):
    help = "Load the demo corpus (published) into an empty archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Load every document.")
        parser.add_argument(
            "--force", action="store_true", help="Load even if the archive has speeches."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if Speech.objects.exists() and not options["force"]:
            self.stdout.write("The archive already has speeches; demo data not loaded.")
            return
        root = corpus_root()
        if not root.is_dir():
            self.stdout.write(
                f"No demo corpus at {root} "
                "(set DEMO_CORPUS to a folder such as ../shared/corpus).\n"
                "To add speeches by hand:\n"
                "  manage.py load_corpus NAME|PATH … [--publish]   a corpus folder\n"
                "  manage.py import_speech FILE… [--publish]       native Markdown or "
                "DigiChina-style .txt"
            )
            return
        folders: list[tuple[Path, int | None]] = []
        seeds = root.parent / SEEDS_NAME
        if seeds.is_dir():
            folders.append((seeds, None))
        for name in CORPUS_NAMES:
            if (root / name).is_dir():
                folders.append((root / name, None if options["all"] else SAMPLE[name]))
        if not folders:
            self.stdout.write(f"{root} holds none of the known corpus folders; nothing loaded.")
            return
        progress = sys.stderr.isatty()
        started = time.monotonic()
        speeches = passages = 0
        for folder, sample in folders:
            try:
                counts = load_folder(folder, sample=sample, publish=True, progress=progress)
            except ImportFormatError as exc:
                raise CommandError(f"{exc} — demo data stopped there") from exc
            speeches += counts["speeches"]
            passages += counts["passages"]
            self.stdout.write(
                f"{folder.name}: {counts['speeches']} speeches, {counts['passages']} passages"
            )
        scope = "" if options["all"] else " (a sample; `load_demo_data --all` loads everything)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data: {speeches} speeches, {passages} passages, published, "
                f"in {time.monotonic() - started:.0f}s{scope}."
            )
        )
