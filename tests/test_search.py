"""Search behaviour: /search/ and speeches/search.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from taggit.models import Tag

from speeches import search
from speeches.models import Collection, CollectionItem, PassageText, Speech, Term
from tests.factories import (
    PassageFactory,
    PassageTextFactory,
    SpeakerFactory,
    SpeechFactory,
    VersionFactory,
    make_bilingual_speech,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    # These tests send many searches from one address; the limit has its own tests.
    settings.RATE_LIMIT_ENABLED = False


def speech_with(texts: list[str], *, language: str = "en", **speech_kwargs) -> Speech:
    """A published speech with one version in `language` and these passages."""
    speech = SpeechFactory(**speech_kwargs)
    version = VersionFactory(speech=speech, code=language, language=language, is_original=True)
    for position, text in enumerate(texts, start=1):
        passage = PassageFactory(speech=speech, position=position)
        PassageTextFactory(passage=passage, version=version, text=text)
    return speech


def run(q: str = "", **params) -> search.SearchResult:
    return search.run_search(search.read_params({"q": q, **params}))


def texts_of(result: search.SearchResult) -> list[str]:
    return [hit.passage_text.text for hit in result.hits]


# ---------------------------------------------------------------- parsing


def test_parser_reads_words_phrases_exclusions_and_or() -> None:
    parsed = search.parse('cyber "government of the people" -war sunflower OR 太陽花')
    assert parsed.groups == (
        (search.QueryTerm("cyber"),),
        (search.QueryTerm("government of the people", phrase=True),),
        (search.QueryTerm("sunflower"), search.QueryTerm("太陽花")),
    )
    assert parsed.excluded == (search.QueryTerm("war"),)


def test_parser_drops_operators_and_survives_unbalanced_quotes() -> None:
    assert search.parse("& | ! :* <-> - OR").is_empty
    assert search.parse('"unclosed phrase').groups == (
        (search.QueryTerm("unclosed phrase", phrase=True),),
    )
    assert search.parse("a\x00b\x07c").groups == (
        (search.QueryTerm("a"),),
        (search.QueryTerm("b"),),
        (search.QueryTerm("c"),),
    )


def test_cjk_chain_respects_the_final_unigram_position() -> None:
    assert search.simple_chain("网络强国") == "'网络' <-> '络强' <-> '强国'"
    assert search.simple_chain("国") == "'国':*"
    assert search.simple_chain("网络5G") == "'网络' <2> '5g'"


# ---------------------------------------------------------------- English


def test_english_stemming_and_highlight() -> None:
    speech_with(["We support innovation in science.", "Nothing to see here."])
    result = run("innovating")
    assert texts_of(result) == ["We support innovation in science."]
    assert "<mark>innovation</mark>" in result.hits[0].snippet


def test_phrase_needs_the_words_in_order() -> None:
    speech_with(
        [
            "A government of the people, by the people.",
            "The people elect a government.",
        ]
    )
    assert texts_of(run('"government of the people"')) == [
        "A government of the people, by the people."
    ]
    assert len(run("government people").hits) == 2


def test_hyphenated_words_find_both_spellings() -> None:
    speech_with(["The military-industrial complex.", "A military industrial complex."])
    assert len(run("military-industrial complex").hits) == 2
    assert len(run('"military-industrial complex"').hits) == 2


def test_exclusion_and_or() -> None:
    speech_with(["Cyber security matters.", "Cyber war is bad.", "Sunflowers bloom."])
    assert texts_of(run("cyber -war")) == ["Cyber security matters."]
    assert sorted(texts_of(run("war OR sunflower"))) == ["Cyber war is bad.", "Sunflowers bloom."]


def test_stopword_only_query_says_so(client) -> None:
    speech_with(["The end of the day."])
    result = run("the of")
    assert result.stopwords_only and not result.hits
    assert "only very common words" in client.get("/search/", {"q": "the"}).content.decode()


def test_empty_query_shows_filters_and_recent_speeches(client) -> None:
    old = speech_with(["Old."], title="Old speech", delivered_on=dt.date(2001, 1, 1))
    new = speech_with(["New."], title="New speech", delivered_on=dt.date(2020, 1, 1))
    response = client.get("/search/")
    assert response.status_code == 200
    result = response.context["result"]
    assert result.recent == [new, old]
    assert {v.key for v in result.facets["year"]} == {"2001", "2020"}
    assert client.get("/search/", {"q": "   "}).status_code == 200


# ---------------------------------------------------------------- Chinese


def test_chinese_substrings_scripts_and_widths() -> None:
    speech_with(
        ["建设网络强国，推进自主创新。", "我們的太陽花學運。", "ＡＩ與２０２４年"],
        language="zh-Hant",
    )
    assert texts_of(run("强国")) == ["建设网络强国，推进自主创新。"]
    assert texts_of(run("网络强国")) == ["建设网络强国，推进自主创新。"]
    assert texts_of(run("主创")) == ["建设网络强国，推进自主创新。"]
    assert texts_of(run("太阳花")) == texts_of(run("太陽花")) == ["我們的太陽花學運。"]
    assert texts_of(run("AI 2024")) == ["ＡＩ與２０２４年"]
    assert texts_of(run("ＡＩ")) == ["ＡＩ與２０２４年"]
    assert "<mark>太陽花</mark>" in run("太阳花").hits[0].snippet
    assert texts_of(run("网络，强国")) == ["建设网络强国，推进自主创新。"]  # two terms
    # In a phrase punctuation is ignored, as in English phrases.
    assert texts_of(run('"网络，强国"')) == ["建设网络强国，推进自主创新。"]
    assert texts_of(run("强国推进")) == []  # unquoted CJK is one exact substring


def test_mixed_chinese_and_english_query() -> None:
    speech_with(["发展人工智能AI产业。", "发展农业。"], language="zh-Hans")
    speech_with(["We develop AI (人工智能) together."])
    assert sorted(texts_of(run("人工智能 AI"))) == [
        "We develop AI (人工智能) together.",
        "发展人工智能AI产业。",
    ]


# ---------------------------------------------------------------- glossary


def test_glossary_expansion_and_switch_off(client) -> None:
    make_bilingual_speech(1)
    Term.objects.create(
        original="网络强国",
        slug="wlqg",
        translation="cyber superpower",
        variants="cyberpower",
        status=Term.Status.CONFIRMED,
    )
    expanded = run("网络强国")
    assert len(expanded.hits) == 2
    assert expanded.expansion_labels == ["cyber superpower", "cyberpower"]
    assert [h.passage_text.version.code for h in run("网络强国", expand="0").hits] == ["zh-Hans"]
    assert len(run("cyber superpower").hits) == 2
    page = client.get("/search/", {"q": "网络强国"}).content.decode()
    assert "Also searched" in page and "expand=0" in page


def test_candidate_terms_do_not_expand() -> None:
    make_bilingual_speech(1)
    Term.objects.create(original="网络强国", slug="x", translation="cyber superpower")
    assert len(run("网络强国").hits) == 1


# ---------------------------------------------------------------- filters and facets


def test_filters_combine_and_facets_count() -> None:
    alice = SpeakerFactory(name="Alice", slug="alice")
    bob = SpeakerFactory(name="Bob", slug="bob")
    a = speech_with(["Growth and jobs.", "More growth."], speaker=alice, kind="interview")
    b = speech_with(["Growth again."], speaker=bob, delivered_on=dt.date(2010, 6, 1))
    b.themes.add("Economy")
    collection = Collection.objects.create(title="Series", slug="series")
    CollectionItem.objects.create(collection=collection, speech=a)
    result = run("growth")
    assert result.total == 3
    speakers = {v.key: v.count for v in result.facets["speaker"]}
    assert speakers == {"alice": 2, "bob": 1}
    assert {v.key: v.count for v in result.facets["kind"]} == {"interview": 2, "speech": 1}
    assert {v.key: v.count for v in result.facets["theme"]} == {"economy": 1}
    assert {v.key: v.count for v in result.facets["collection"]} == {"series": 2}
    assert run("growth", speaker="alice").total == 2
    assert run("growth", speaker="alice", kind="speech").total == 0
    assert run("growth", theme="economy").total == 1
    assert run("growth", collection="series").total == 2
    assert run("growth", **{"from": "2010", "to": "2010"}).total == 1
    assert run("growth", lang="en").total == 3
    assert run("growth", lang="zh").total == 0
    # Facet links carry the whole state.
    link = next(v.url for v in result.facets["speaker"] if v.key == "bob")
    assert link == "?q=growth&speaker=bob"


def test_facet_sidebar_is_escaped_and_marks_the_selected_value(client) -> None:
    eve = SpeakerFactory(name="<b>Eve</b>", slug="eve")
    speech_with(["Growth."], speaker=eve)
    page = client.get("/search/", {"q": "growth", "speaker": "eve"}).content.decode()
    assert "&lt;b&gt;Eve&lt;/b&gt;" in page and "<b>Eve</b>" not in page
    assert '<li class="selected"><a href="?q=growth&amp;speaker=eve">' in page
    assert '<section class="facet"><h2>Speaker</h2>' in page


@pytest.mark.parametrize(
    "params",
    [
        {"speaker": "nobody"},
        {"theme": "nothing"},
        {"collection": "none"},
        {"speech": "no-such-speech"},
        {"kind": "poem"},
        {"from": "20x0"},
        {"to": "99999"},
        {"lang": "english!"},
        {"sort": "random"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "1e9"},
        {"speaker": "a\x00b"},
        {"theme": "\x00"},
    ],
)
def test_invalid_filters_answer_400_with_a_message(client, params) -> None:
    response = client.get("/search/", {"q": "growth", **params})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_draft_speech_slug_is_refused_like_an_unknown_one(client) -> None:
    speech_with(["Secret words."], slug="draft-one", status=Speech.Status.DRAFT)
    assert client.get("/search/", {"q": "secret", "speech": "draft-one"}).status_code == 400


def test_page_past_the_end_is_a_friendly_page(client) -> None:
    speech_with(["Growth."])
    response = client.get("/search/", {"q": "growth", "page": "7"})
    assert response.status_code == 200
    assert "no results on that page" in response.content.decode()


# ---------------------------------------------------------------- results


def test_results_link_to_the_passage_and_its_context(client) -> None:
    speech = speech_with(["Growth."], slug="the-speech")
    key = speech.passages.get().key
    page = client.get("/search/", {"q": "growth"}).content.decode()
    assert f'href="/p/{key}/"' in page
    assert f'href="/speeches/the-speech/#p-{key}"' in page
    assert "¶1" in page
    assert "<mark>Growth</mark>" in page  # the snippet is rendered, not escaped twice


def test_title_match_boosts_and_is_listed() -> None:
    speech_with(["Growth is good. Growth."], title="On farming")
    titled = speech_with(["Growth is good."], title="On growth")
    result = run("growth")
    assert result.hits[0].speech == titled
    assert result.title_matches == [titled]


def test_sort_by_date() -> None:
    speech_with(["Growth one."], delivered_on=dt.date(2001, 1, 1))
    speech_with(["Growth two."], delivered_on=dt.date(2020, 1, 1))
    assert texts_of(run("growth", sort="newest")) == ["Growth two.", "Growth one."]
    assert texts_of(run("growth", sort="oldest")) == ["Growth one.", "Growth two."]


def test_grouped_results_count_hits_per_speech() -> None:
    speech_with(["Growth a.", "Growth b.", "Growth c.", "Growth d."], title="Many")
    speech_with(["Growth e."], title="One")
    result = run("growth", group="speech")
    assert [(g.speech.title, g.hits, len(g.best)) for g in result.groups] == [
        ("Many", 4, 3),
        ("One", 1, 1),
    ]
    assert result.total == 5 and result.total_speeches == 2


def test_search_within_one_speech_or_speaker(client) -> None:
    alice = SpeakerFactory(slug="alice")
    one = speech_with(["Growth here."], speaker=alice, slug="one")
    speech_with(["Growth there."], speaker=alice, slug="two")
    speech_with(["Growth elsewhere."])
    assert texts_of(run("growth", speech="one")) == ["Growth here."]
    assert run("growth", speaker="alice").total == 2
    speech_page = client.get(one.get_absolute_url()).content.decode()
    assert 'action="/search/"' in speech_page and 'name="speech" value="one"' in speech_page
    speaker_page = client.get("/speakers/alice/").content.decode()
    assert 'action="/search/"' in speaker_page and 'name="speaker" value="alice"' in speaker_page


def test_snippets_escape_imported_html() -> None:
    speech_with(['<script>alert("x")</script> growth <b>bold</b>'])
    snippet = run("growth").hits[0].snippet
    assert "<script>" not in snippet and "&lt;script&gt;" in snippet
    assert "<mark>growth</mark>" in snippet


def test_english_marks_are_whole_words_in_any_case() -> None:
    text = "Innovation, innovations and INNOVATION_x; reinnovation innovation2"
    spans = search.highlight_spans(text, [], {"innovation", "innovations"})
    assert [text[a:b] for a, b in spans] == ["Innovation", "innovations", "INNOVATION"]


def test_the_stemmer_marks_every_form_of_the_typed_word_in_a_page() -> None:
    speech_with(["Innovation, innovations and INNOVATION_x; reinnovation innovation2 innovate."])
    snippet = run("innovating").hits[0].snippet
    marked = re.findall(r"<mark>(.*?)</mark>", snippet)
    assert marked == ["Innovation", "innovations", "INNOVATION", "innovate"]


def test_long_passage_snippet_is_a_window_around_the_hit() -> None:
    text = "Lorem ipsum dolor. " * 60 + "The growth word. " + "Sit amet. " * 60
    speech_with([text])
    snippet = run("growth").hits[0].snippet
    assert "<mark>growth</mark>" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < 400


def test_capped_count_and_bounded_ranking(monkeypatch) -> None:
    monkeypatch.setattr(search, "CAP", 5)
    monkeypatch.setattr(search, "WINDOW", 4)
    monkeypatch.setattr(search, "PHRASE_WINDOW", 3)
    speech_with([f"Growth number {i}." for i in range(12)])
    result = run("growth")
    assert result.capped and result.total_label == "5+"
    assert "newest" in result.approximate
    assert len(result.hits) == 4  # ranked within the window of the 4 newest matches
    phrase = run('"growth number"')
    assert phrase.capped and phrase.total_label == "3+" and "first" in phrase.approximate
    assert len(phrase.hits) == 3  # ranked among the 3 matches the probe saw
    assert texts_of(run("growth", sort="oldest"))[0] == "Growth number 0."
    assert run("growth", sort="newest").approximate == ""
    grouped = run("growth", group="speech")  # beyond the cap: groups of the newest matches
    assert grouped.approximate == "speeches of the 4 newest matches"
    assert [g.hits for g in grouped.groups] == [4]
    phrase_groups = run('"growth number"', group="speech")  # the probe's own rows
    assert phrase_groups.approximate == "speeches of the first 3 matches found"
    assert [g.hits for g in phrase_groups.groups] == [3]


def test_frequent_word_walks_the_newest_matches_and_estimates_the_total(monkeypatch) -> None:
    monkeypatch.setattr(search, "CAP", 5)
    monkeypatch.setattr(search, "WINDOW", 4)
    speech_with([f"Growth old {i}." for i in range(30)], delivered_on=dt.date(2001, 1, 1))
    speech_with([f"Growth new {i}." for i in range(30)], delivered_on=dt.date(2020, 1, 1))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE speeches_passagetext")  # the statistics the route reads
    result = run("growth")
    assert result.capped and result.total_label == "about 60"
    assert result.sample_label == "the 4 newest matches"
    assert result.approximate == "most relevant among the 4 newest matches"
    assert len(result.hits) == 4
    assert {h.speech.delivered_on.year for h in result.hits} == {2020}
    # A year range (the estimate knows nothing of it): the newest matches in
    # the range, counted up to WINDOW.
    filtered = run("growth", **{"from": "2001", "to": "2001"})
    assert filtered.total_label == "4+" and filtered.estimate == 0
    assert {h.speech.delivered_on.year for h in filtered.hits} == {2001}


def test_a_speaker_filter_ranks_its_newest_matches_in_the_probe(monkeypatch) -> None:
    monkeypatch.setattr(search, "CAP", 5)
    monkeypatch.setattr(search, "WINDOW", 4)
    alice = SpeakerFactory(slug="alice")
    old = dt.date(2001, 1, 1)
    speech_with([f"Growth old {i}." for i in range(6)], speaker=alice, delivered_on=old)
    speech_with(
        [f"Growth new {i}." for i in range(6)], speaker=alice, delivered_on=dt.date(2020, 1, 1)
    )
    speech_with([f"Growth elsewhere {i}." for i in range(6)], delivered_on=dt.date(2024, 1, 1))
    result = run("growth", speaker="alice")
    assert result.capped and result.total_label == "4+"  # counted up to WINDOW
    assert result.approximate == "most relevant among the 4 newest matches"
    assert result.sample_label == "the 4 newest matches"
    assert len(result.hits) == 4
    assert {h.speech.delivered_on.year for h in result.hits} == {2020}
    newest = run("growth", speaker="alice", sort="newest")
    assert texts_of(newest)[:2] == ["Growth new 5.", "Growth new 4."]
    assert newest.approximate == ""


def test_word_pairs_list_each_lexeme_with_the_next_and_their_distance() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT speeches_word_pairs(to_tsvector('english', %s))::text",
            ["Government of the people, by the people."],
        )
        assert cursor.fetchone()[0] == "'govern peopl 3' 'peopl peopl 3'"
    assert search._pairs(["'govern' <3> 'peopl'", "'unit' <-> 'nation' <-> 'day'"]) == (
        "'govern peopl 3' & 'unit nation 1' & 'nation day 1'"
    )
    # One lexeme, or anything but a plain chain, gives no pairs.
    assert search._pairs(["'peopl'", "'a' & 'b'", "'it''s' <-> 'x' | 'y'"]) == ""
    assert search._pairs(["'it''s' <-> 'fine'"]) == "'it''s fine 1'"


def test_a_phrase_is_found_through_its_word_pairs() -> None:
    speech_with(
        [
            "Government of the people shall not perish.",
            "A government by the people, for all.",
            "The government taxes the people.",  # a word where the phrase has a stopword
            "People of the government.",
        ]
    )
    result = run('"government of the people"')
    assert sorted(texts_of(result)) == [
        "A government by the people, for all.",
        "Government of the people shall not perish.",
    ]
    with CaptureQueriesContext(connection) as queries:
        run('"government of the people"')
    assert any("speeches_word_pairs(t.search_vector) @@" in q["sql"] for q in queries)
    # A phrase with one word, or in an OR, takes the plain match: PostgreSQL's
    # looser rule, where a stopword's place may hold any word.
    assert len(run('"people"').hits) == 4
    assert len(run('"government of the people" OR perish').hits) == 3


def test_a_frequent_phrase_takes_its_newest_matches_through_its_pair(monkeypatch) -> None:
    monkeypatch.setattr(search, "PHRASE_WINDOW", 5)
    monkeypatch.setattr(search, "WINDOW", 4)
    speech_with([f"United nations day {i}." for i in range(30)], delivered_on=dt.date(2001, 1, 1))
    speech_with(
        [f"The united nations met {i}." for i in range(6)], delivered_on=dt.date(2020, 1, 1)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE speeches_passagetext")  # the pairs index's statistics
    with CaptureQueriesContext(connection) as queries:
        result = run('"united nations"')
    assert result.total_label == "about 36"
    assert result.approximate == "most relevant among the 4 newest matches"
    assert {h.speech.delivered_on.year for h in result.hits} == {2020}
    probe = next(q["sql"] for q in queries if "WITH m AS MATERIALIZED" in q["sql"])
    assert "speeches_word_pairs(t.search_vector) @@" in probe
    assert "- DATE '1970-01-01') >=" in probe


def test_frequent_chinese_words_take_the_newest_matches_by_one_gin_scan(monkeypatch) -> None:
    monkeypatch.setattr(search, "CAP", 5)
    monkeypatch.setattr(search, "WINDOW", 4)
    speech_with(
        [f"发展第{i}项。" for i in range(30)], language="zh", delivered_on=dt.date(2001, 1, 1)
    )
    # The newest rows hold the word less often than the average: the first
    # window comes back short and grows.
    speech_with(
        [f"改革第{i}项。" for i in range(60)], language="zh", delivered_on=dt.date(2019, 1, 1)
    )
    speech_with([f"发展新{i}。" for i in range(3)], language="zh", delivered_on=dt.date(2020, 1, 1))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE speeches_passagetext")
    with CaptureQueriesContext(connection) as queries:
        result = run("发展")
    assert result.capped and result.approximate == "most relevant among the 4 newest matches"
    years = sorted(h.speech.delivered_on.year for h in result.hits)
    assert years == [2001, 2020, 2020, 2020]  # the 4 newest matches
    probes = [q["sql"] for q in queries if "WITH m AS MATERIALIZED" in q["sql"]]
    assert all("- DATE '1970-01-01') >=" in sql for sql in probes)
    # The first window held 3 of the 5 matches it needs: the wider one ran in
    # the same statement.
    assert len(probes) == 1 and "SELECT count(*) FROM w" in probes[0]
    grouped = run("发展", group="speech")
    assert sorted(g.hits for g in grouped.groups) == [1, 3]


def test_a_wrong_estimate_falls_back_to_an_exact_count(monkeypatch) -> None:
    speech_with(["Growth one.", "Growth two.", "Nothing here."])
    monkeypatch.setattr(search, "_walks", lambda c, p: {"en": 1_000_000})
    result = run("growth")
    assert not result.capped and result.total_label == "2" and result.estimate == 0
    assert len(result.hits) == 2


def test_csv_export_escapes_formulas(client) -> None:
    speech_with(['=HYPERLINK("http://evil") growth', "growth plain"], title="@risky")
    response = client.get("/search/", {"q": "growth", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == search.CSV_HEADER
    assert len(rows) == 3
    cells = [cell for row in rows[1:] for cell in row]
    assert "'@risky" in cells
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)
    assert not any(cell.startswith(("=", "@")) for cell in cells)


def test_statement_timeout_gives_a_friendly_message(client, monkeypatch) -> None:
    speech = speech_with(["Growth seed."])
    version = speech.versions.get()
    passage = speech.passages.get()
    # Many rows in one statement (the ORM would take too long): every one matches.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO speeches_passage (created_at, updated_at, speech_id, key, position, "
            "turn_speaker) SELECT now(), now(), %s, 'k' || g, g + 1, '' "
            "FROM generate_series(1, 20000) g",
            [speech.pk],
        )
        cursor.execute(
            "INSERT INTO speeches_passagetext (created_at, updated_at, passage_id, version_id, "
            "text, search_tokens, search_source, search_lang, search_public, search_kind) "
            "SELECT now(), now(), p.id, %s, t.text, '', md5(t.text)::uuid, '', false, '' "
            "FROM speeches_passage p, LATERAL (SELECT 'growth and more growth ' || p.id AS text) t "
            "WHERE p.speech_id = %s AND p.id <> %s",
            [version.pk, speech.pk, passage.pk],
        )
    monkeypatch.setattr(search, "TIMEOUT_MS", 1)
    response = client.get("/search/", {"q": "growth"})
    assert response.status_code == 200
    assert "too expensive" in response.content.decode()
    monkeypatch.setattr(search, "TIMEOUT_MS", 60_000)
    assert run("growth").capped


def test_query_count_does_not_grow_with_results(client, django_assert_max_num_queries) -> None:
    Term.objects.create(original="增长", slug="z", translation="growth", status="confirmed")
    speech_with(["Growth one."], title="Growth first")
    few = {}
    for mode in ("", "speech"):
        client.get("/search/", {"q": "growth", "group": mode})  # fills the glossary cache
        with CaptureQueriesContext(connection) as captured:
            client.get("/search/", {"q": "growth", "group": mode})
        few[mode] = len(captured.captured_queries)
    for n in range(30):
        speech_with([f"Growth {n}.", "增长。"], title=f"Growth {n}")
    with django_assert_max_num_queries(few[""]):
        response = client.get("/search/", {"q": "growth"})
    assert len(response.context["result"].hits) == search.PAGE_SIZE
    assert len(response.context["result"].title_matches) == search.TITLE_MATCHES
    with django_assert_max_num_queries(few["speech"]):
        client.get("/search/", {"q": "growth", "group": "speech"})
    # Settings, cache keys and tsqueries; the probe with facets and the ranked
    # page (or groups); the page's rows with the title box and highlighting;
    # here, inside the test's transaction, a savepoint, its release and the
    # settings put back.
    assert few[""] <= 6 and few["speech"] <= 6


def test_glossary_and_statistics_caches_follow_their_keys() -> None:
    speech_with(["Growth here.", "增长在这里。"])
    assert run("growth").expansions == []
    term = Term.objects.create(original="增长", slug="z", translation="growth", status="confirmed")
    assert run("growth").expansion_labels == ["增长"]  # the stamp moved: read again
    term.status = Term.Status.CANDIDATE
    term.save()
    assert run("growth").expansions == []
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE speeches_passagetext")
    run("growth")
    key = search._STATS_CACHE.key
    assert search._STATS_CACHE.lexemes.get("growth", 0) > 0
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE speeches_passagetext")
    run("growth")
    assert search._STATS_CACHE.key != key


def test_withdrawn_and_draft_speeches_never_appear() -> None:
    speech_with(["Growth public."])
    speech_with(["Growth draft."], status=Speech.Status.DRAFT)
    speech_with(["Growth withdrawn."], status=Speech.Status.WITHDRAWN)
    assert texts_of(run("growth")) == ["Growth public."]
    assert run("growth", format="csv").total == 1
    assert PassageText.objects.count() == 3
    Tag.objects.create(name="unused", slug="unused")
    assert run("", theme="unused").recent == []


# ---------------------------------------------------------------- JSON API


def test_api_search_uses_the_same_engine_and_filters(client) -> None:
    speech = speech_with(["Growth one.", "Growth two.", "Other."], slug="s1")
    Term.objects.create(original="增长", slug="z", translation="growth", status="confirmed")
    speech_with(["Growth draft."], status=Speech.Status.DRAFT)
    body = client.get("/api/search/", {"q": "growth"}).json()
    assert body["count"] == 2 and body["count_exact"] and body["count_label"] == "2"
    assert body["also_searched"] == ["增长"]
    first = body["items"][0]
    assert first["rank"] == 1 and first["speech"]["slug"] == "s1"
    assert first["passage"] in set(speech.passages.values_list("key", flat=True))
    assert "<mark>Growth</mark>" in first["snippet"]
    assert first["url"].endswith(f"/p/{first['passage']}/")
    assert client.get("/api/search/", {"q": "growth", "lang": "zh"}).json()["count"] == 0
    assert client.get("/api/search/", {"q": "growth", "speaker": "nobody"}).status_code == 404
    assert client.get("/api/search/", {"q": "growth", "page": "2"}).status_code == 404
    assert client.get("/api/search/", {"q": "growth", "from": "20x0"}).status_code == 422
