"""`manage.py load_corpus NAME|PATH … [--all] [--limit N] [--publish] [--dry-run]`.

NAME is a folder under DEMO_CORPUS (default ../shared/corpus), or "seeds" for
the DigiChina-style seed files beside it; PATH is any such folder. Each speech
is written in its own transaction, so a long load can be interrupted and
resumed: re-running is idempotent (the writer re-imports in place and keeps
passage keys). The first bad file stops the load with its name and line; that
speech is not written, the ones before it stay.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from speeches.importers.corpus import CORPUS_NAMES, SEEDS_NAME, corpus_items
from speeches.importers.coverage import import_coverage
from speeches.importers.document import CoverageDoc, ImportFormatError
from speeches.importers.dump import is_dump, load_dump
from speeches.importers.writer import ImportCache, import_speech_document


def corpus_root() -> Path:
    """DEMO_CORPUS (relative to the current directory), else ../shared/corpus."""
    configured = os.environ.get("DEMO_CORPUS", "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return (Path(settings.BASE_DIR).parent / "shared" / "corpus").resolve()


def resolve_folder(name: str, root: Path) -> Path:
    """A NAME under the corpus root ("seeds" sits beside it), or a PATH."""
    candidates = [Path(name)]
    if name == SEEDS_NAME:
        candidates.insert(0, root.parent / SEEDS_NAME)
    candidates.insert(0, root / name)
    for candidate in candidates:
        if candidate.is_dir() or is_dump(candidate):
            return candidate.resolve()
    known = ", ".join((*CORPUS_NAMES, SEEDS_NAME))
    raise CommandError(f"{name}: no such corpus folder under {root} (known names: {known})")


def load_folder(
    folder: Path,
    *,
    limit: int | None = None,
    sample: int | None = None,
    publish: bool = False,
    dry_run: bool = False,
    progress: bool = False,
    label: str = "",
    cache: ImportCache | None = None,
) -> dict[str, int]:
    """Load one folder; returns counts. Raises ImportFormatError naming file and line.

    Each speech commits without waiting for the disk (`durable=False`): a load
    is re-runnable, so a server crash costing the last moments of it is cheap
    (see import_speech_document).
    """
    if is_dump(folder):  # a `dump_archive` folder or file (speeches/importers/dump.py)
        return load_dump(
            folder, limit=limit, publish=publish, dry_run=dry_run, progress=progress, cache=cache
        )
    counts = {"speeches": 0, "created": 0, "passages": 0, "coverage": 0}
    cache = cache if cache is not None else ImportCache()
    items = corpus_items(folder, limit=limit, sample=sample)
    for item in tqdm(items, desc=label or folder.name, unit="doc", disable=not progress):
        try:
            doc = item.load()
            if isinstance(doc, CoverageDoc):
                import_coverage(doc, dry_run=dry_run)
                counts["coverage"] += 1
                continue
            result = import_speech_document(
                doc, publish=publish, dry_run=dry_run, cache=cache, durable=False
            )
        except ImportFormatError as exc:
            if exc.path:
                raise
            raise ImportFormatError(str(exc), path=item.label) from exc
        counts["speeches"] += 1
        counts["created"] += int(result.created)
        counts["passages"] += len(doc.passages)
    return counts


class Command(BaseCommand):
    help = "Load folders of ../shared/corpus (or the seeds) into the archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME|PATH")
        parser.add_argument("--all", action="store_true", help="Every corpus under DEMO_CORPUS.")
        parser.add_argument("--limit", type=int, help="At most N documents per folder.")
        parser.add_argument("--publish", action="store_true", help="Publish what is loaded.")
        parser.add_argument("--dry-run", action="store_true", help="Do everything, then roll back.")

    def handle(self, *args: Any, **options: Any) -> None:
        root = corpus_root()
        names = list(options["names"])
        if options["all"]:
            names += [name for name in CORPUS_NAMES if name not in names]
        if not names:
            raise CommandError("name at least one corpus folder, or use --all")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        folders = [resolve_folder(name, root) for name in names]
        progress = sys.stderr.isatty()
        total = {"speeches": 0, "passages": 0, "coverage": 0}
        started = time.monotonic()
        cache = ImportCache()
        for folder in folders:
            folder_started = time.monotonic()
            try:
                counts = load_folder(
                    folder,
                    limit=options["limit"],
                    publish=options["publish"],
                    dry_run=options["dry_run"],
                    progress=progress,
                    cache=cache,
                )
            except ImportFormatError as exc:
                raise CommandError(f"{exc} — stopped; that document was not written") from exc
            for key in total:
                total[key] += counts[key]
            coverage = f", {counts['coverage']} coverage items" if counts["coverage"] else ""
            self.stdout.write(
                f"{folder.name}: {counts['speeches']} speeches ({counts['created']} new), "
                f"{counts['passages']} passages{coverage} "
                f"in {time.monotonic() - folder_started:.1f}s"
            )
        verb = "checked (dry run, nothing written)" if options["dry_run"] else "loaded"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb}: {total['speeches']} speeches, {total['passages']} passages"
                + (f", {total['coverage']} coverage items" if total["coverage"] else "")
                + f" in {time.monotonic() - started:.1f}s"
            )
        )
