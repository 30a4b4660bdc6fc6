"""The Python side of a search page: result instances, highlighting, HTML."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st
from taggit.models import Tag

from speeches import search, textnorm
from speeches.models import Collection, PassageText, Speaker, Speech
from tests.factories import make_bilingual_speech

# ---------------------------------------------------------------- result instances


@pytest.mark.django_db
def test_result_instances_behave_like_loaded_models(settings) -> None:
    settings.RATE_LIMIT_ENABLED = False
    speech = make_bilingual_speech(n_passages=2, title="Cyber superpower")
    result = search.run_search(search.read_params({"q": "superpower"}))
    hit = result.hits[0]
    pt = hit.passage_text
    stored = PassageText.objects.select_related("passage", "version").get(pk=pt.pk)
    # Loaded, not new: saving would UPDATE; related objects are shared and cached.
    assert not pt._state.adding and pt._state.db == "default"
    assert pt == stored and hit.speech == speech and result.title_matches == [speech]
    assert pt.passage_id == stored.passage_id and pt.version_id == stored.version_id
    assert pt.passage.speech is pt.version.speech is hit.speech
    assert hit.speech.speaker_id == speech.speaker_id
    assert hit.speech.speaker.name == speech.speaker.name
    with CaptureQueriesContext(connection) as queries:
        assert pt.text == stored.text and hit.passage.key == stored.passage.key
        assert hit.speech.delivered_on == speech.delivered_on
    assert len(queries) == 0
    # A column the page did not read loads on access, as after .only().
    with CaptureQueriesContext(connection) as queries:
        assert pt.created_at == stored.created_at
        assert hit.speech.summary == Speech.objects.get(pk=speech.pk).summary
    assert len(queries) == 3


# ---------------------------------------------------------------- highlighting


def _reference_english_spans(text: str, words: set[str]) -> list[tuple[int, int]]:
    """Case-insensitive pattern with look-arounds over the original text."""
    pattern = search._words_pattern(frozenset(words))
    return [m.span() for m in pattern.finditer(text) if m.group(0).lower() in words]


_WORDS = st.sets(st.sampled_from(["peop", "people", "peoples", "k", "ks", "is", "i", "13"]))
# Upper case, the Kelvin sign and long s (case-insensitive equivalents of k and
# s), dotted İ (lower-cases to two characters), digits, underscores, accents.
_TEXT = st.text(alphabet=st.sampled_from("peoplPEOPLsSkK\u212a\u017fi\u0130I13_ -.'é"), max_size=40)


@given(_TEXT, _WORDS)
def test_english_marks_equal_the_case_insensitive_pattern(text, words) -> None:
    assert search._english_spans(text, words) == _reference_english_spans(text, words)


def test_english_marks_are_whole_words_in_original_offsets() -> None:
    assert search._english_spans("People, PEOPLES_x people2 (people)", {"people"}) == [
        (0, 6),
        (27, 33),
    ]
    # Lower-casing İ adds a character: the original offsets still come back.
    assert search._english_spans("İ people", {"people"}) == [(2, 8)]


# ---------------------------------------------------------------- facet links


@pytest.mark.parametrize("name", search.FACET_ORDER)
def test_facet_links_equal_the_state_with_one_value_changed(name) -> None:
    states = [
        search.SearchParams(q="people"),
        search.SearchParams(
            q='a&b "c d" 网络+强国',
            speaker=Speaker(slug="tang"),
            theme=Tag(slug="digital"),
            collection=Collection(slug="c-1"),
            speech=Speech(slug="s 1"),
            lang="en",
            kind="speech",
            year_from=2019,
            year_to=2020,
            sort="newest",
            grouped=True,
            expand=False,
            page=3,
        ),
    ]
    keys = ["en", "a b&c=d?", "2019", "网络", ""]
    for p in states:
        if name == "year":
            expected = [p.as_query(**{"from": k, "to": k, "page": ""}) for k in keys]
        else:
            expected = [p.as_query(**{name: k, "page": ""}) for k in keys]
        assert p.as_queries(name, keys) == expected


def _reference_normalised_with_offsets(text: str) -> tuple[str, list[int]]:
    """Each character normalised on its own (textnorm.normalize, no cache)."""
    pieces = [textnorm.normalize(ch) for ch in text]
    return "".join(pieces), [i for i, piece in enumerate(pieces) for _ in piece]


@given(st.text(alphabet=st.sampled_from("發展发展…①㎡ﬁⅫ，。 aBİ網絡強國太陽花"), max_size=30))
def test_offsets_map_each_normalised_character_to_its_source(text) -> None:
    norm, offsets = search._normalised_with_offsets(text)
    assert len(offsets) == len(norm)
    if len(textnorm.normalize(text)) == len(text):
        assert (norm, offsets) == (textnorm.normalize(text), list(range(len(text))))
    else:
        assert (norm, offsets) == _reference_normalised_with_offsets(text)
