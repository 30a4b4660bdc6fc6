"""Chinese search is an exact substring search over normalised text.

Real paragraphs from the corpus (PRC government work reports, Simplified; Tang
transcripts, Traditional, with their English translations) are imported, and
for fixed and sampled queries of 1 to 6 characters the set of passages search
finds must equal the set a plain substring test finds on the normalised texts
(recall 1.0, and no false hits).
"""

from __future__ import annotations

import os

import pytest

from speeches import search, textnorm
from speeches.importers.corpus import corpus_items
from speeches.importers.writer import import_speech_document
from speeches.models import PassageText

pytestmark = pytest.mark.django_db

FIXED = ["国", "强国", "网络强国", "自主创新", "发展", "人民", "太阳花", "太陽花", "數位", "数字"]


@pytest.fixture
def corpus_texts(corpus_dir: str) -> dict[int, str]:
    for folder, sample in (("prc-government-work-reports-zh", 4), ("tang-transcripts-zh-en", 3)):
        for item in corpus_items(os.path.join(corpus_dir, folder), sample=sample):
            import_speech_document(item.load(), publish=True)
    return dict(PassageText.objects.values_list("id", "text"))


def sampled_queries(texts: dict[int, str]) -> list[str]:
    """Substrings of CJK runs, every 23rd passage, lengths 1–6 (deterministic)."""
    queries = []
    for n, text in enumerate(sorted(texts.values())):
        if n % 23:
            continue
        runs = [m.group(0) for m in textnorm.CJK_RUN.finditer(text) if len(m.group(0)) >= 6]
        if runs:
            run = runs[len(runs) // 2]
            length = 1 + n % 6
            start = (n * 7) % (len(run) - length + 1)
            queries.append(run[start : start + length])
    return queries


def test_recall_is_one_against_a_substring_oracle(corpus_texts) -> None:
    normalised = {pk: textnorm.normalize(text) for pk, text in corpus_texts.items()}
    queries = FIXED + sampled_queries(corpus_texts)
    assert len(queries) >= 40
    for query in queries:
        needle = textnorm.normalize(query)
        expected = {pk for pk, text in normalised.items() if needle in text}
        found = set(search.matching_ids(search.read_params({"q": query}), limit=100_000))
        assert found == expected, query
    # The fixed queries are not vacuous on this sample.
    assert search.matching_ids(search.read_params({"q": "发展"}))
    assert search.matching_ids(search.read_params({"q": "太阳花"})) == search.matching_ids(
        search.read_params({"q": "太陽花"})
    )


def test_phrase_does_not_match_across_punctuation(corpus_texts) -> None:
    ids = set(search.matching_ids(search.read_params({"q": "网络强国"})))
    for pk in ids:
        assert "网络强国" in textnorm.normalize(corpus_texts[pk])
    split = PassageText.objects.first()
    split.text = "建设网络，强国之路。"
    split.save()
    assert split.pk not in search.matching_ids(search.read_params({"q": "网络强国"}))
    assert split.pk in search.matching_ids(search.read_params({"q": "网络"}))
