"""The reading page /speeches/<slug>/ and the passage page /p/<key>/."""

from __future__ import annotations

import os
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from taggit.models import Tag

from speeches import reading
from speeches.importers.document import PassageDoc
from speeches.importers.native import parse_native_files
from speeches.importers.writer import import_speech_document
from speeches.models import (
    GLOSSARY_STAMP_SQL,
    Annotation,
    Collection,
    CollectionItem,
    Correction,
    Coverage,
    Footnote,
    Passage,
    PassageRedirect,
    PassageText,
    Speaker,
    Speech,
    TaggedPassage,
    Term,
    Version,
)
from tests.factories import (
    PassageFactory,
    PassageTextFactory,
    SpeakerFactory,
    SpeechFactory,
    VersionFactory,
    make_bilingual_speech,
)

pytestmark = pytest.mark.django_db

EXAMPLE = [
    os.path.join(os.path.dirname(__file__), "data", "native", f"cyber-conference.{code}.md")
    for code in ("zh-Hans", "en")
]


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts from an empty process cache (the page store is rolled back with it)."""
    cache.clear()
    yield
    cache.clear()


def rich_speech(n_passages: int = 5) -> Speech:
    """A zh-Hant/en speech with footnotes, annotations, themes, corrections and coverage."""
    speaker = SpeakerFactory(name="Audrey Tang", name_original="唐鳳", slug="audrey-tang")
    speech = SpeechFactory(
        title="Interview on digital democracy",
        slug=f"digital-democracy-{n_passages}",
        speaker=speaker,
        kind=Speech.Kind.INTERVIEW,
        occasion="Interview with a broadcaster",
        original_language="zh-Hant",
    )
    zh = VersionFactory(
        speech=speech, code="zh-Hant", language="zh-Hant", is_original=True, title="數位民主訪談"
    )
    en = VersionFactory(
        speech=speech,
        code="en",
        language="en",
        title=speech.title,
        translators="Translation team",
        introduction=(
            "An *introduction* with <script>alert(1)</script> and [a link](javascript:alert(1))."
        ),
        source_name="Transcript",
        source_url="https://example.org/source",
        licence="CC0 1.0",
    )
    theme, _ = Tag.objects.get_or_create(name="Digital democracy", slug="digital-democracy")
    for i in range(1, n_passages + 1):
        passage = PassageFactory(
            speech=speech, position=i, turn_speaker="Audrey Tang" if i % 2 else "Host"
        )
        PassageTextFactory(passage=passage, version=zh, text=f"第{i}段：建設網絡強國。[^{i}]")
        PassageTextFactory(
            passage=passage,
            version=en,
            text=f"Paragraph {i}: we build a cyber superpower together.[^{i}] "
            + "More. " * (i * 7),
        )
        Footnote.objects.create(version=en, passage=passage, number=i, body=f"Note *{i}*.")
        Footnote.objects.create(version=zh, passage=passage, number=i, body=f"註{i}")
        Annotation.objects.create(
            passage=passage, version=en, body=f"Annotation {i}", exact="build", start=12
        )
        TaggedPassage.objects.create(content_object=passage, tag=theme)
    correction = Correction.objects.create(
        version=en, date="2024-01-02", description="Fixed a typo in ¶1."
    )
    correction.passages.add(speech.passages.first())
    Coverage.objects.create(speech=speech, outlet="Outlet", title="Analysis piece", kind="analysis")
    Term.objects.create(
        original="网络强国",
        slug="wangluo-qiangguo",
        pinyin="wǎngluò qiángguó",
        translation="cyber superpower",
        status=Term.Status.CONFIRMED,
    )
    return speech


def test_reading_page_shows_metadata_and_aligned_rows(client):
    speech = rich_speech(3)
    response = client.get(speech.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Audrey Tang" in html and "Interview with a broadcaster" in html
    assert "Translation team" in html and "CC0 1.0" in html
    assert 'href="https://example.org/source"' in html
    # Markdown rendered and sanitised.
    assert "<em>introduction</em>" in html
    assert "<script>alert" not in html and 'href="javascript:' not in html
    # Each passage is a row with an anchor, ¶ number, permalink, both versions with lang.
    for passage in speech.passages.all():
        assert f'id="p-{passage.key}"' in html
        assert f'href="/p/{passage.key}/"' in html
        assert f"¶{passage.position}" in html
    assert html.count('class="cell" lang="zh-Hant"') == 3
    assert html.count('class="cell" lang="en"') == 3
    assert "Fixed a typo" in html and "Analysis piece" in html
    assert "Digital democracy" in html


def test_footnote_markers_link_to_notes_and_back(client):
    speech = rich_speech(2)
    html = client.get(speech.get_absolute_url()).content.decode()
    assert 'href="#fn-en-1"' in html and 'id="fnref-en-1"' in html
    assert 'id="fn-en-1"' in html and 'href="#fnref-en-1"' in html
    assert 'id="fn-zh-Hant-2"' in html
    assert "[^1]" not in html
    assert "<em>1</em>" in html  # note body Markdown


def test_annotation_span_highlighted_and_listed(client):
    speech = rich_speech(1)
    annotation = Annotation.objects.get(passage__speech=speech)
    html = client.get(speech.get_absolute_url()).content.decode()
    assert (
        f'<mark class="anno" id="q-{annotation.pk}" '
        f'aria-describedby="a-{annotation.pk}">build</mark>' in html
    )
    assert f'id="a-{annotation.pk}"' in html


def test_internal_annotation_never_shown(client):
    speech = rich_speech(1)
    Annotation.objects.create(
        passage=speech.passages.first(), body="Secret editorial remark", visibility="internal"
    )
    html = client.get(speech.get_absolute_url()).content.decode()
    assert "Secret editorial remark" not in html
    html = client.get(speech.passages.first().get_absolute_url()).content.decode()
    assert "Secret editorial remark" not in html


def test_glossary_terms_linked_with_pinyin_in_both_languages(client):
    speech = rich_speech(1)
    html = client.get(speech.get_absolute_url()).content.decode()
    term_url = reverse("speeches:term", kwargs={"slug": "wangluo-qiangguo"})
    # English rendering, and the Traditional form 網絡強國 of the Simplified entry.
    assert (
        f'<a class="term" href="{term_url}" '
        'title="网络强国 · wǎngluò qiángguó">cyber superpower</a>' in html
    )
    assert (
        f'<a class="term" href="{term_url}" title="网络强国 · wǎngluò qiángguó">網絡強國</a>'
        in html
    )


def test_candidate_terms_are_not_linked(client):
    speech = make_bilingual_speech(1)
    Term.objects.create(original="网络强国", slug="wlqg", translation="cyber superpower")
    html = client.get(speech.get_absolute_url()).content.decode()
    assert 'class="term"' not in html


def test_turn_speakers_shown_once_per_turn(client):
    speech = rich_speech(3)
    html = client.get(speech.get_absolute_url()).content.decode()
    assert html.count('<p class="turn-speaker">Audrey Tang</p>') == 2
    assert html.count('<p class="turn-speaker">Host</p>') == 1


def test_single_view_and_version_pickers(client):
    speech = rich_speech(2)
    url = speech.get_absolute_url()
    html = client.get(url, {"view": "single", "left": "en"}).content.decode()
    assert 'lang="zh-Hant"><span' not in html
    assert html.count('class="cell" lang="en"') == 2
    assert html.count('class="cell" lang="zh-Hant"') == 0
    html = client.get(url, {"left": "en", "right": "zh-Hant"}).content.decode()
    first_en = html.index('class="cell" lang="en"')
    first_zh = html.index('class="cell" lang="zh-Hant"')
    assert first_en < first_zh  # the left column is English now


@pytest.mark.parametrize(
    "params",
    [
        {"view": "nonsense"},
        {"left": "xx", "right": "yy"},
        {"left": "en", "right": "en"},
        {"view": "single", "left": "<script>"},
        {"left": ""},
    ],
)
def test_bad_reading_parameters_fall_back(client, params):
    speech = rich_speech(1)
    response = client.get(speech.get_absolute_url(), params)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="cell" lang="zh-Hant"' in html  # the original, the default left text
    assert "<script>" not in html.split("<body>")[1].replace('<script src="', "")


def test_single_version_speech_reads_in_one_column(client):
    speech = SpeechFactory()
    version = VersionFactory(speech=speech, is_original=True)
    PassageTextFactory(passage=PassageFactory(speech=speech, position=1), version=version)
    html = client.get(speech.get_absolute_url(), {"view": "parallel"}).content.decode()
    assert 'class="text single"' in html


def test_passage_page_every_version_context_and_cite(client):
    speech = rich_speech(3)
    first, second, third = speech.passages.order_by("position")
    response = client.get(second.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "第2段" in html and "Paragraph 2" in html
    assert f'href="/p/{first.key}/"' in html and f'href="/p/{third.key}/"' in html
    assert f'href="/speeches/{speech.slug}/#p-{second.key}"' in html
    assert "Annotation 2" in html and "Digital democracy" in html
    assert 'id="fn-en-2"' in html
    assert '<meta name="citation_title" content="Interview on digital democracy">' in html
    assert '<meta name="citation_author" content="Audrey Tang">' in html
    assert "¶2" in html and "accessed" in html
    for ext in ("json", "bib", "ris"):
        assert f'href="/p/{second.key}/cite.{ext}"' in html


def test_passage_page_edges_have_one_neighbour(client):
    speech = make_bilingual_speech(2)
    first, second = speech.passages.order_by("position")
    html = client.get(first.get_absolute_url()).content.decode()
    assert 'rel="prev"' not in html and f'href="/p/{second.key}/"' in html


def test_citation_downloads(client):
    speech = rich_speech(2)
    passage = speech.passages.get(position=2)
    response = client.get(f"/p/{passage.key}/cite.bib")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-bibtex")
    assert "author = {{Audrey Tang}}" in response.content.decode()
    ris = client.get(f"/p/{passage.key}/", {"format": "ris"}).content.decode()
    assert ris.startswith("TY  - GEN\r\n") and "SP  - ¶2" in ris
    csl = client.get(f"/p/{passage.key}/cite.json").json()
    assert csl[0]["section"] == "¶2" and csl[0]["author"] == [{"literal": "Audrey Tang"}]
    assert client.get(f"/p/{passage.key}/cite.doc").status_code == 404
    assert client.get(f"/speeches/{speech.slug}/cite.ris").status_code == 200


def test_uppercase_key_redirects_to_canonical(client):
    passage = make_bilingual_speech(1).passages.first()
    response = client.get(f"/p/{passage.key.upper()}/")
    assert response.status_code == 301 and response["Location"] == f"/p/{passage.key}/"


def test_unknown_speech_and_passage_are_404(client):
    assert client.get("/speeches/no-such-speech/").status_code == 404
    assert client.get("/p/zzzzzzzz/").status_code == 404


def test_reading_page_markup_has_no_inline_script_or_style(client):
    speech = rich_speech(2)
    for url in (speech.get_absolute_url(), speech.passages.first().get_absolute_url()):
        html = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\ssrc=)", html)
        assert not re.search(r"\son[a-z]+=", html)
        assert " style=" not in html


# ------------------------------------------------------------------ stored pages


def reading_html(client, speech: Speech, **params) -> str:
    response = client.get(speech.get_absolute_url(), params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def renders(monkeypatch) -> list[int]:
    """Counts the times the rows are really rendered (not served from the page store)."""
    calls: list[int] = []
    real = reading.render_reading_body

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reading, "render_reading_body", counting)
    return calls


def test_rows_are_served_from_the_cache_until_something_changes(client, renders):
    speech = rich_speech(3)
    first = reading_html(client, speech)
    assert reading_html(client, speech) == first
    assert len(renders) == 1
    # The article was spliced into the page in place of the slot.
    assert reading.ARTICLE_SLOT not in first
    assert first.count('<article class="speech"') == 1 and first.count('id="cite-h"') == 1
    assert first.index('id="speech-title"') < first.index('id="cite-h"')
    # Another layout or another pair of versions is another body.
    reading_html(client, speech, view="single")
    reading_html(client, speech, view="single")
    assert len(renders) == 2


def test_text_edit_shows_on_the_next_request(client, renders):
    speech = rich_speech(2)
    reading_html(client, speech)
    text = PassageText.objects.get(passage__speech=speech, passage__position=2, version__code="en")
    text.text = "Paragraph 2, corrected."
    text.save()
    assert "Paragraph 2, corrected." in reading_html(client, speech)
    assert len(renders) == 2


def test_bulk_and_queryset_updates_show_although_updated_at_stays(client):
    # Services use QuerySet.update() and the re-import writer bulk_update():
    # neither touches updated_at, and the page must change all the same.
    speech = rich_speech(2)
    reading_html(client, speech)
    passage = speech.passages.get(position=1)
    stamp = passage.updated_at
    Passage.objects.filter(speech=speech).update(turn_speaker="Moderator")
    assert Passage.objects.get(pk=passage.pk).updated_at == stamp
    html = reading_html(client, speech)
    assert html.count('<p class="turn-speaker">Moderator</p>') == 1
    annotation = Annotation.objects.get(passage=passage)
    annotation.body = "Bulk-updated annotation"
    Annotation.objects.bulk_update([annotation], ["body"])
    assert "Bulk-updated annotation" in reading_html(client, speech)


def test_theme_tag_changes_show_on_the_next_request(client):
    speech = rich_speech(2)
    passage = speech.passages.get(position=2)
    html = reading_html(client, speech)
    assert "Open government" not in html
    tag = Tag.objects.create(name="Open government", slug="open-government")
    TaggedPassage.objects.create(content_object=passage, tag=tag)
    assert 'href="/themes/open-government/">Open government</a>' in reading_html(client, speech)
    tag.name = "Open data"
    tag.save()
    assert ">Open data</a>" in reading_html(client, speech)
    TaggedPassage.objects.filter(tag=tag).delete()
    assert ">Open data</a>" not in reading_html(client, speech)


def test_annotation_changes_show_on_the_next_request(client):
    speech = rich_speech(1)
    passage = speech.passages.get()
    annotation = Annotation.objects.get(passage=passage)
    reading_html(client, speech)
    annotation.body = "A *better* explanation."
    annotation.save()
    assert "A <em>better</em> explanation." in reading_html(client, speech)
    annotation.visibility = Annotation.Visibility.INTERNAL
    annotation.save()
    html = reading_html(client, speech)
    assert "better" not in html and f'id="q-{annotation.pk}"' not in html
    added = Annotation.objects.create(passage=passage, body="Fresh note", exact="")
    assert f'id="a-{added.pk}"' in reading_html(client, speech)


def test_term_confirmation_shows_on_the_next_request(client):
    speech = make_bilingual_speech(1)
    term = Term.objects.create(original="网络强国", slug="wlqg", translation="cyber superpower")
    assert 'class="term"' not in reading_html(client, speech)
    term.status = Term.Status.CONFIRMED
    term.save()
    assert '<a class="term" href="/glossary/wlqg/"' in reading_html(client, speech)
    Term.objects.filter(pk=term.pk).update(pinyin="wǎngluò qiángguó")
    assert 'title="网络强国 · wǎngluò qiángguó"' in reading_html(client, speech)


def test_footnote_and_redirect_changes_show_on_the_next_request(client):
    speech = rich_speech(2)
    reading_html(client, speech)
    Footnote.objects.filter(version__speech=speech, version__code="en", number=2).update(
        body="A rewritten note."
    )
    passage = speech.passages.get(position=1)
    PassageRedirect.objects.create(old_key="oldkey22", passage=passage, speech=speech)
    html = reading_html(client, speech)
    assert "A rewritten note." in html
    assert '<span class="old-anchor" id="p-oldkey22"></span>' in html


def test_version_label_change_shows_on_the_next_request(client):
    speech = rich_speech(1)
    assert html_has_cell(reading_html(client, speech), "en")
    version = speech.versions.get(code="en")
    version.language = "en-GB"
    version.save()
    assert html_has_cell(reading_html(client, speech), "en-GB")


def html_has_cell(html: str, language: str) -> bool:
    return f'class="cell" lang="{language}"' in html


def test_unpublishing_never_serves_the_cached_rows(client):
    speech = rich_speech(1)
    reading_html(client, speech)
    speech.status = Speech.Status.DRAFT
    speech.save()
    assert client.get(speech.get_absolute_url()).status_code == 404
    text = PassageText.objects.get(passage__speech=speech, version__code="en")
    text.text = "Edited while a draft."
    text.save()
    speech.status = Speech.Status.PUBLISHED
    speech.save()
    assert "Edited while a draft." in reading_html(client, speech)


def test_copy_links_follow_the_requests_host(client):
    speech = rich_speech(1)
    key = speech.passages.get().key
    html = client.get(speech.get_absolute_url()).content.decode()
    assert f'data-permalink="http://testserver/p/{key}/"' in html
    html = client.get(speech.get_absolute_url(), HTTP_HOST="localhost").content.decode()
    assert f'data-permalink="http://localhost/p/{key}/"' in html


def test_imported_text_is_escaped_in_rows_and_notes(client):
    speech = rich_speech(1)
    text = PassageText.objects.get(passage__speech=speech, version__code="en")
    text.text = '<img src=x onerror="alert(1)"> & [label](javascript:alert(1))'
    text.save()
    Passage.objects.filter(speech=speech).update(turn_speaker="<b>Host</b>")
    Footnote.objects.filter(version__speech=speech).update(body="<script>alert(2)</script>")
    html = reading_html(client, speech)
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; [label](javascript:" in html
    assert "&lt;b&gt;Host&lt;/b&gt;" in html
    assert "<script>alert" not in html and 'href="javascript:' not in html


def test_article_metadata_changes_show_on_the_next_request(client):
    speech = rich_speech(2)
    reading_html(client, speech)
    en = speech.versions.get(code="en")
    correction = Correction.objects.create(version=en, date="2024-02-03", description="Second fix.")
    correction.passages.add(speech.passages.get(position=2))
    assert "Second fix." in reading_html(client, speech)
    Coverage.objects.filter(speech=speech).update(title="Renamed analysis")
    speech.themes.add("Transparency")
    speech.speaker.name = "唐鳳 (Audrey Tang)"
    speech.speaker.save()
    html = reading_html(client, speech)
    assert "Renamed analysis" in html and ">Transparency</a>" in html
    assert ">唐鳳 (Audrey Tang)</a>" in html
    collection = Collection.objects.create(title="Interviews", slug="interviews")
    CollectionItem.objects.create(collection=collection, speech=speech, position=1)
    assert ">Interviews</a>" in reading_html(client, speech)
    Collection.objects.filter(pk=collection.pk).update(title="All interviews")
    assert ">All interviews</a>" in reading_html(client, speech)


def test_speech_without_reproduced_text_reads(client):
    speech = SpeechFactory()
    VersionFactory(speech=speech, is_original=True, has_text=False, title="Not reproduced")
    PassageFactory(speech=speech, position=1)
    for _ in range(2):
        html = reading_html(client, speech)
        assert "Not reproduced" in html and "(text not reproduced)" in html


def test_untitled_text_less_original_is_named_by_its_language(client):
    """The DigiChina seed records a Qiushi original whose title it does not give."""
    speech = SpeechFactory()
    VersionFactory(
        speech=speech,
        code="zh-Hans",
        language="zh-Hans",
        is_original=True,
        has_text=False,
        title="",
    )
    PassageFactory(speech=speech, position=1)
    html = reading_html(client, speech)
    assert "<summary>Chinese (Simplified), original (text not reproduced)</summary>" in html


# ------------------------------------------------------------------ content stamps


def stamp(speech: Speech) -> int:
    return Speech.objects.values_list("content_version", flat=True).get(pk=speech.pk)


def _add_speech_theme(speech: Speech) -> None:
    speech.themes.add("Transparency")


def _rename_tag(name: str):
    def edit(speech: Speech) -> None:
        Tag.objects.filter(name=name).update(name=f"{name} (renamed)")

    return edit


def _add_correction_passage(speech: Speech) -> None:
    correction = Correction.objects.get(version__speech=speech)
    correction.passages.add(speech.passages.get(position=2))


def _remove_correction_passage(speech: Speech) -> None:
    Correction.objects.get(version__speech=speech).passages.clear()


def _add_coverage_passage(speech: Speech) -> None:
    Coverage.objects.get(speech=speech).passages.add(speech.passages.get(position=1))


def _add_to_collection(speech: Speech) -> None:
    collection = Collection.objects.create(title="Series", slug="series")
    CollectionItem.objects.create(collection=collection, speech=speech)


def _raw_sql(speech: Speech) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE speeches_footnote SET body = 'Raw' WHERE version_id IN "
            "(SELECT id FROM speeches_version WHERE speech_id = %s)",
            [speech.pk],
        )


# Each changes one table the reading page reads, the way services, the admin,
# the importer or a maintenance script might: never through save() alone.
EDITS = {
    "speech update": lambda s: Speech.objects.filter(pk=s.pk).update(place="Taipei"),
    "speaker update": lambda s: Speaker.objects.filter(pk=s.speaker_id).update(roles="Minister"),
    "version insert": lambda s: VersionFactory(speech=s, code="fr", language="fr"),
    "version update": lambda s: Version.objects.filter(speech=s).update(licence="CC BY"),
    "passage insert": lambda s: Passage.objects.bulk_create([Passage(speech=s, position=9)]),
    "passage update": lambda s: Passage.objects.filter(speech=s).update(turn_speaker="Chair"),
    "text update": lambda s: PassageText.objects.filter(passage__speech=s).update(text="New"),
    "text delete": lambda s: PassageText.objects.filter(passage__speech=s).delete(),
    "footnote update": lambda s: Footnote.objects.filter(version__speech=s).update(kind="source"),
    "footnote delete": lambda s: Footnote.objects.filter(version__speech=s).delete(),
    "footnote raw SQL": _raw_sql,
    "annotation update": lambda s: Annotation.objects.filter(passage__speech=s).update(
        visibility=Annotation.Visibility.INTERNAL
    ),
    "correction insert": lambda s: Correction.objects.create(
        version=s.versions.get(code="en"), date="2024-05-06", description="Another fix."
    ),
    "correction update": lambda s: Correction.objects.filter(version__speech=s).update(
        description="Reworded."
    ),
    "correction passage added": _add_correction_passage,
    "correction passage removed": _remove_correction_passage,
    "coverage update": lambda s: Coverage.objects.filter(speech=s).update(outlet="Other"),
    "coverage detached": lambda s: Coverage.objects.filter(speech=s).update(speech=None),
    "coverage passage added": _add_coverage_passage,
    "passage theme removed": lambda s: TaggedPassage.objects.filter(
        content_object__speech=s
    ).delete(),
    "passage theme renamed": _rename_tag("Digital democracy"),
    "speech theme added": _add_speech_theme,
    "collection item added": _add_to_collection,
    "redirect added": lambda s: PassageRedirect.objects.create(
        old_key="oldkey99", passage=s.passages.get(position=1), speech=s
    ),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_every_kind_of_edit_renews_the_speechs_stamp_only(edit):
    speech = rich_speech(2)
    other = make_bilingual_speech(1, slug="other-speech")
    before, other_before = stamp(speech), stamp(other)
    edit(speech)
    assert stamp(speech) != before
    assert stamp(other) == other_before


def test_collection_and_speech_theme_renames_renew_the_stamp():
    speech = rich_speech(1)
    _add_to_collection(speech)
    speech.themes.add("Transparency")
    before = stamp(speech)
    Collection.objects.filter(slug="series").update(title="All interviews")
    renamed = stamp(speech)
    assert renamed != before
    Tag.objects.filter(name="Transparency").update(name="Openness")
    assert stamp(speech) != renamed


def stamps_taken() -> int:
    """How many stamps were ever handed out (the sequence's position)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM speeches_content_stamp")
        return cursor.fetchone()[0]


def test_a_bulk_insert_renews_the_stamp_once_per_statement():
    # Statement-level triggers: the importer's 200-row INSERT costs one bump.
    speech = rich_speech(1)
    before = stamps_taken()
    Passage.objects.bulk_create([Passage(speech=speech, position=10)])
    one_row = stamps_taken() - before
    before = stamps_taken()
    Passage.objects.bulk_create([Passage(speech=speech, position=20 + i) for i in range(50)])
    assert stamps_taken() - before == one_row
    assert stamp(speech) == stamps_taken()


def test_a_save_that_changes_nothing_shown_keeps_the_stamp_and_a_stale_one_cannot_rewind_it():
    speech = rich_speech(1)
    loaded = Speech.objects.get(pk=speech.pk)
    before = stamp(speech)
    loaded.save()  # only updated_at changes
    assert stamp(speech) == before
    Footnote.objects.filter(version__speech=speech).update(body="Changed")
    edited = stamp(speech)
    assert edited != before
    loaded.save()  # sends its old content_version along
    assert stamp(speech) not in (before, edited)


def test_saving_an_unchanged_speaker_or_theme_keeps_their_speeches_stamps():
    # A speaker reaches all their speeches: a form saved as it was bumps none.
    speech = rich_speech(1)
    before = stamp(speech)
    speaker = Speaker.objects.get(pk=speech.speaker_id)
    speaker.save()
    Tag.objects.get(name="Digital democracy").save()
    assert stamp(speech) == before
    speaker.name_original = "唐凤"
    speaker.save()
    assert stamp(speech) != before


def glossary_stamp() -> int | None:
    """The glossary's stamp; None if its row is missing."""
    with connection.cursor() as cursor:
        cursor.execute(GLOSSARY_STAMP_SQL)
        row = cursor.fetchone()
    return None if row is None else row[0]


def test_only_confirmed_terms_renew_the_glossary_stamp():
    before = glossary_stamp()
    term = Term.objects.create(original="数字中国", slug="szzg", translation="Digital China")
    assert glossary_stamp() == before  # importers create candidates all the time
    term.status = Term.Status.CONFIRMED
    term.save()
    confirmed = glossary_stamp()
    assert confirmed != before
    Term.objects.filter(pk=term.pk).update(variants="digital China")
    assert glossary_stamp() not in (before, confirmed)
    latest = glossary_stamp()
    term.delete()
    assert glossary_stamp() != latest


def test_reimport_through_the_importers_bulk_path_shows_on_the_next_request(client, renders):
    [doc] = parse_native_files(EXAMPLE)
    speech = import_speech_document(doc, publish=True).speech
    assert "Re-imported words." not in reading_html(client, speech)
    doc.passages[0].texts["en"] += " Re-imported words."
    doc.passages.append(PassageDoc(texts={"en": "A brand new passage.", "zh-Hans": "新段落。"}))
    import_speech_document(doc, publish=True)
    html = reading_html(client, speech)
    assert "Re-imported words." in html and "A brand new passage." in html
    assert reading_html(client, speech) == html
    assert len(renders) == 2


def test_without_a_glossary_stamp_nothing_is_cached(client, renders):
    speech = rich_speech(1)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM speeches_glossary_stamp")
    assert glossary_stamp() is None
    for _ in range(2):
        assert 'class="term"' in reading_html(client, speech)
    assert len(renders) == 2


@pytest.mark.parametrize("n_shown", [0, 1, 2])
def test_precompiled_body_queries_give_what_the_querysets_give(n_shown):
    speech = rich_speech(2)
    PassageRedirect.objects.create(
        old_key="oldkey11", passage=speech.passages.get(position=2), speech=speech
    )
    shown_ids = [v.pk for v in speech.versions.order_by("pk")][:n_shown]
    fresh = {name: list(rows) for name, rows in reading.body_sources(speech, shown_ids).items()}
    assert reading.fetch_body_sources(speech, shown_ids) == fresh
    assert all(fresh.values()) or n_shown < 2
    other = make_bilingual_speech(2, slug="other-speech")
    assert reading.fetch_body_sources(other, shown_ids)["passages"] != fresh["passages"]


def test_term_matching_ignores_case_and_keeps_offsets_whatever_the_text():
    term = Term(pk=1, original="网络强国", slug="wlqg", translation="cyber superpower")
    matcher = reading.TermMatcher([term])
    text = "Not cybersuperpower: the CYBER SUPERPOWERS, then a cyber superpower."
    assert [(text[s:e], t) for s, e, t in matcher.find(text, "en")] == [("CYBER SUPERPOWERS", term)]
    # "İ" lowercases to two characters: offsets must still point into the text.
    text = "İstanbul hears of a Cyber Superpower."
    [(start, end, _)] = matcher.find(text, "en")
    assert text[start:end] == "Cyber Superpower"
