"""/search/ never answers 500: any query text, any parameter values.

Property-based (hypothesis): unbalanced quotes, lone operators (- OR & | ! :*
<->), SQL fragments, tsquery syntax, NUL and control characters, long strings,
bad page numbers and unknown filter values give 200, or 400 for a parameter
that cannot be honoured.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speeches import search
from tests.factories import make_bilingual_speech

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    # These tests send many searches from one address; the limit has its own tests.
    settings.RATE_LIMIT_ENABLED = False


FRAGMENTS = [
    '"',
    "“",
    "-",
    "--",
    "OR",
    "or",
    "&",
    "|",
    "!",
    "!!",
    ":*",
    "<->",
    "<2>",
    "(",
    ")",
    "'",
    "''",
    "\\",
    "\x00",
    "\x1f",
    "\u200b",
    "\ufeff",
    "\ud7ff",
    " ",
    "'; DROP TABLE speeches_speech; --",
    "1=1",
    "%",
    "_",
    "网络强国",
    "國",
    "ＡＩ",
    "people",
    "the",
    "cyber superpower",
    "𠀀",
]

query_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(" ".join),
)

PARAM_NAMES = [
    "speaker",
    "theme",
    "collection",
    "speech",
    "lang",
    "kind",
    "from",
    "to",
    "sort",
    "group",
    "expand",
    "page",
    "format",
    "unknown",
]
param_value = st.one_of(
    st.sampled_from(
        ["", "0", "1", "-1", "2", "999999", "1e3", "abc", "en", "zh", "speech", "newest", "2018"]
    ),
    st.text(max_size=20),
)
params = st.dictionaries(st.sampled_from(PARAM_NAMES), param_value, max_size=5)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def world(db):
    make_bilingual_speech(3, slug="a-speech")


@FUZZ
@given(q=query_text, extra=params)
def test_search_page_never_fails(client, world, q, extra) -> None:
    extra = {k: v for k, v in extra.items() if k != "format"}
    response = client.get("/search/", {"q": q, **extra})
    assert response.status_code in (200, 400)


@FUZZ
@given(q=query_text)
def test_parse_and_run_never_raise(world, q) -> None:
    parsed = search.parse(q)
    assert len(parsed.positive_terms()) + len(parsed.excluded) <= search.MAX_TERMS
    result = search.run_search(search.read_params({"q": q}))
    assert not result.timed_out
    for hit in result.hits:
        assert "<script" not in hit.snippet.lower()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=query_text)
def test_csv_export_never_fails(client, world, q) -> None:
    response = client.get("/search/", {"q": q, "format": "csv"})
    assert response.status_code == 200


def test_ten_kilobyte_queries(client, world) -> None:
    for q in ["网络强国" * 2500, '"' * 10_000, "a OR " * 2000, "-x " * 3000, "\x00" * 10_000]:
        response = client.get("/search/", {"q": q})
        assert response.status_code == 200
    result = search.run_search(search.read_params({"q": "网络强国 " * 2000}))
    assert any("Only the first" in message for message in result.messages)
    assert result.hits
