"""Loaders for the folders of ../shared/corpus/ (and the DigiChina seeds).

Each loader lists the items of a folder cheaply and parses one item only when
asked, so `load_corpus` can show progress, stop at the first bad file with
its name and line, and give every speech its own transaction. Parsing never
touches the database.

    items = corpus_items("/path/to/tang-transcripts-zh-en")
    for item in items:
        doc = item.load()   # SpeechDocument or CoverageDoc; ImportFormatError on bad input
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from speeches.importers.document import CoverageDoc, ImportFormatError, SpeechDocument

CORPUS_NAMES = (
    "tang-transcripts-zh-en",
    "prc-government-work-reports-zh",
    "us-presidential-speeches-millercenter",
    "un-general-debate-corpus-2015-2024",
)
SEEDS_NAME = "seeds"


@dataclass
class CorpusItem:
    label: str  # the file (and record) it comes from, for messages
    load: Callable[[], SpeechDocument | CoverageDoc]


def corpus_kind(folder: str | Path) -> str:
    """Which loader reads this folder: its name, or (renamed copies) its contents."""
    folder = Path(folder)
    if folder.name in (*CORPUS_NAMES, SEEDS_NAME):
        return folder.name
    if (folder / "pairs.csv").exists() or (folder / "alternates.tsv").exists():
        return "tang-transcripts-zh-en"
    if (folder / "government_work_reports.jsonl").exists():
        return "prc-government-work-reports-zh"
    if (folder / "data").is_dir() and (folder / "SOURCE_LICENSE.md").exists():
        return "us-presidential-speeches-millercenter"
    if (folder / "TXT").is_dir():
        return "un-general-debate-corpus-2015-2024"
    if any(folder.glob("*.txt")):
        return SEEDS_NAME
    raise ImportFormatError(
        "not a corpus folder this archive knows how to load "
        f"({', '.join(CORPUS_NAMES)}, or a folder of DigiChina-style .txt files)",
        path=str(folder),
    )


def corpus_items(
    folder: str | Path, *, limit: int | None = None, sample: int | None = None
) -> list[CorpusItem]:
    """The items of a corpus folder, in a stable order: the first `limit` of them, or
    `sample` of them evenly spaced over the whole folder (e.g. across all years)."""
    folder = Path(folder)
    kind = corpus_kind(folder)
    items = _LISTERS[kind](folder)
    if sample is not None and sample < len(items):
        step = len(items) / sample
        items = [items[int(index * step)] for index in range(sample)]
    return items[:limit] if limit is not None else items


def _tang_items(folder: Path) -> list[CorpusItem]:
    from speeches.importers.corpus import tang

    return [
        CorpusItem(
            label=str(folder / "transcripts" / pair.en_file),
            load=lambda pair=pair: tang.load_pair(folder, pair),
        )
        for pair in tang.read_pairs(folder)
    ]


def _prc_items(folder: Path) -> list[CorpusItem]:
    from speeches.importers.corpus import prc_reports

    items = []
    for path, line, record in prc_reports.read_records(folder):
        if record.get("year") is None:
            continue  # an approval resolution, not a speech (see prc_reports)
        items.append(
            CorpusItem(
                label=f"{path}, line {line}",
                load=lambda path=path, line=line, record=record: prc_reports.parse_record(
                    record, path=path, line=line
                ),
            )
        )
    return items


def _miller_items(folder: Path) -> list[CorpusItem]:
    from speeches.importers.corpus import millercenter

    return [
        CorpusItem(label=str(path), load=lambda path=path: millercenter.parse_file(path))
        for path in millercenter.list_files(folder)
    ]


def _ungd_items(folder: Path) -> list[CorpusItem]:
    from speeches.importers.corpus import ungd

    speakers = ungd.read_speakers(folder)
    return [
        CorpusItem(label=str(path), load=lambda path=path: ungd.parse_file(path, speakers))
        for path in ungd.list_files(folder)
    ]


def _seed_items(folder: Path) -> list[CorpusItem]:
    """Translations first, then the articles, which may refer to them."""
    from speeches.importers import digichina

    paths = sorted(folder.glob("*.txt"))
    speeches: list[SpeechDocument] = []
    translations, articles = [], []
    for path in paths:
        (translations if digichina.is_translation_file(str(path)) else articles).append(path)

    def load_translation(path: Path) -> SpeechDocument:
        doc = digichina.parse_digichina_file(str(path))
        assert isinstance(doc, SpeechDocument)
        speeches.append(doc)
        return doc

    return [
        *(CorpusItem(str(p), lambda p=p: load_translation(p)) for p in translations),
        *(
            CorpusItem(
                str(p), lambda p=p: digichina.parse_digichina_file(str(p), known_speeches=speeches)
            )
            for p in articles
        ),
    ]


_LISTERS: dict[str, Callable[[Path], list[CorpusItem]]] = {
    "tang-transcripts-zh-en": _tang_items,
    "prc-government-work-reports-zh": _prc_items,
    "us-presidential-speeches-millercenter": _miller_items,
    "un-general-debate-corpus-2015-2024": _ungd_items,
    SEEDS_NAME: _seed_items,
}
