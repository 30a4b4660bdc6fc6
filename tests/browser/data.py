"""A realistic public archive for the browser tests: a real Tang zh-Hant/en pair
imported with the project's importer, plus themes, a confirmed glossary term,
footnotes, an annotation, a correction and a collection."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from taggit.models import Tag

from speeches.importers.corpus import corpus_items
from speeches.importers.writer import import_speech_document
from speeches.models import (
    Annotation,
    Collection,
    CollectionItem,
    Correction,
    Footnote,
    Passage,
    Speech,
    TaggedPassage,
    Term,
)
from tests.factories import make_bilingual_speech

TANG_PAIR = "2021-05-12-Interview-with-TechSequences.md"


@dataclass
class Archive:
    speech: Speech
    passage: Passage  # a passage deep in the text (below the fold)
    theme: Tag
    term: Term
    collection: Collection


def build_archive(corpus_dir: str) -> Archive:
    folder = os.path.join(corpus_dir, "tang-transcripts-zh-en")
    item = next(i for i in corpus_items(folder) if i.label.endswith(TANG_PAIR))
    speech = import_speech_document(item.load(), publish=True).speech
    passages = list(speech.passages.order_by("position"))
    deep = passages[len(passages) // 2]

    theme, _ = Tag.objects.get_or_create(name="Digital democracy", slug="digital-democracy")
    for passage in passages[1:40:6]:
        TaggedPassage.objects.get_or_create(content_object=passage, tag=theme)
    speech.themes.add("Technology")
    term = Term.objects.create(
        original="民主",
        slug="minzhu",
        pinyin="mínzhǔ",
        translation="democracy",
        status=Term.Status.CONFIRMED,
    )
    en = speech.versions.get(language="en")
    text = deep.texts.get(version=en)
    text.text = text.text + " [^1]"
    text.save()
    Footnote.objects.create(
        version=en, passage=deep, number=1, kind="editor", body="An *editor's* note."
    )
    words = text.text.split()
    if len(words) > 3:
        Annotation.objects.create(
            passage=deep, version=en, body="Why this phrase matters.", exact=" ".join(words[1:3])
        )
    correction = Correction.objects.create(
        version=en, date=dt.date(2024, 5, 1), description="Corrected a name."
    )
    correction.passages.add(passages[2])
    collection = Collection.objects.create(
        title="Interviews on technology", slug="interviews", description="A *timeline*."
    )
    CollectionItem.objects.create(collection=collection, speech=speech, position=1)
    for n in range(3):
        other = make_bilingual_speech(3, title=f"Another speech {n}", slug=f"another-{n}")
        CollectionItem.objects.create(collection=collection, speech=other, position=n + 2)
    return Archive(speech=speech, passage=deep, theme=theme, term=term, collection=collection)
