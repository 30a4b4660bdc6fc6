"""The editors' admin: passage editor, actions, extra views, history, import."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin as django_admin
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from taggit.models import Tag

from speeches import services
from speeches.models import (
    Annotation,
    Correction,
    Passage,
    PassageRedirect,
    PassageText,
    SlugHistory,
    Speech,
    TaggedPassage,
    Term,
)
from tests.factories import SpeakerFactory, SpeechFactory, make_bilingual_speech

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:speeches_passage_changelist"


def editor_url(speech: Speech) -> str:
    return reverse(CHANGELIST) + f"?speech__id__exact={speech.pk}"


def change_url(passage: Passage) -> str:
    return reverse("admin:speeches_passage_change", args=[passage.pk])


def action(client, speech: Speech, name: str, passages: list[Passage], **data):
    return client.post(
        editor_url(speech),
        {"action": name, "_selected_action": [p.pk for p in passages], **data},
    )


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def inline_data(passage: Passage, **texts: str) -> dict:
    """POST data of the passage change form: its texts (by version code) edited."""
    rows = list(passage.texts.select_related("version").order_by("pk"))
    data = {
        "turn_speaker": passage.turn_speaker,
        "new_themes": "",
        "texts-TOTAL_FORMS": str(len(rows)),
        "texts-INITIAL_FORMS": str(len(rows)),
        "texts-MIN_NUM_FORMS": "0",
        "texts-MAX_NUM_FORMS": "1000",
        "annotations-TOTAL_FORMS": "0",
        "annotations-INITIAL_FORMS": "0",
        "annotations-MIN_NUM_FORMS": "0",
        "annotations-MAX_NUM_FORMS": "0",
    }
    for i, row in enumerate(rows):
        data[f"texts-{i}-id"] = str(row.pk)
        data[f"texts-{i}-passage"] = str(passage.pk)
        data[f"texts-{i}-version"] = str(row.version_id)
        data[f"texts-{i}-text"] = texts.get(row.version.code, row.text)
    return data


# ---------------------------------------------------------------- every page renders


def test_every_registered_changelist_and_add_page_renders(admin_client) -> None:
    speech = make_bilingual_speech(2)
    Annotation.objects.create(passage=speech.passages.first(), body="n")
    for model, model_admin in django_admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert admin_client.get(changelist).status_code == 200, changelist
        add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        expected = 200 if model_admin.has_add_permission(_request(admin_client)) else 403
        assert admin_client.get(add).status_code == expected, add


def _request(client):
    response = client.get(reverse("admin:index"))
    return response.wsgi_request


# ---------------------------------------------------------------- passage editor


def test_passage_editor_shows_versions_side_by_side(admin_client) -> None:
    speech = make_bilingual_speech(3)
    other = make_bilingual_speech(2)
    services.tag_passages(passages=[speech.passages.get(position=2)], themes=["Cyber"])
    response = admin_client.get(editor_url(speech))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Passages of “{speech.title}”" in html
    assert '<span lang="zh-Hans">第2段：建设网络强国。</span>' in html
    assert '<span lang="en">Paragraph 2: build a cyber superpower.</span>' in html
    assert "Cyber" in html
    assert "Insert passage at the start" in html
    for passage in speech.passages.all():
        assert passage.key in html
    for passage in other.passages.all():
        assert passage.key not in html


def test_passage_editor_truncates_long_texts(admin_client) -> None:
    speech = make_bilingual_speech(1)
    text = speech.passages.get().texts.get(version__code="en")
    text.text = "word " * 100
    text.save()
    html = admin_client.get(editor_url(speech)).content.decode()
    assert ("word " * 23 + "word…") in html  # 119 characters and an ellipsis
    assert ("word " * 30) not in html


def _changelist_queries(client, speech: Speech) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(editor_url(speech)).status_code == 200
    return len(queries)


def test_passage_editor_query_count_does_not_grow_with_passages(
    admin_client, django_assert_max_num_queries
) -> None:
    small = make_bilingual_speech(5)
    large = make_bilingual_speech(150)
    services.tag_passages(passages=list(large.passages.all()[:40]), themes=["Cyber", "Reform"])
    small_count = _changelist_queries(admin_client, small)
    with django_assert_max_num_queries(15):
        response = admin_client.get(editor_url(large))
    assert response.content.decode().count('<span lang="en">') == 150
    assert _changelist_queries(admin_client, large) == small_count


def test_search_over_text(admin_client) -> None:
    speech = make_bilingual_speech(3)
    text = speech.passages.get(position=2).texts.get(version__code="en")
    text.text = "A unique phrase about semiconductors."
    text.save()
    response = admin_client.get(editor_url(speech) + "&q=semiconductors")
    html = response.content.decode()
    assert "semiconductors" in html
    assert speech.passages.get(position=1).key not in html


def test_change_form_shows_every_version_and_saves_text_with_reanchoring(admin_client) -> None:
    speech = make_bilingual_speech(2)
    passage = speech.passages.get(position=1)
    en = passage.texts.get(version__code="en")
    note = Annotation.objects.create(
        passage=passage, version=en.version, body="n", exact="cyber", start=en.text.index("cyber")
    )
    response = admin_client.get(change_url(passage))
    assert response.status_code == 200
    html = response.content.decode()
    assert "第1段：建设网络强国。" in html and "Paragraph 1: build a cyber superpower." in html
    assert "Split this passage" in html and "Insert passage after" in html

    response = admin_client.post(change_url(passage), inline_data(passage, en="No quote left."))
    assert response.status_code == 302, response.content.decode()[:3000]
    en.refresh_from_db()
    note.refresh_from_db()
    assert en.text == "No quote left."
    assert note.is_orphaned
    assert en.history.first().history_user.is_superuser


def test_theme_autocomplete_and_new_themes(admin_client) -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    cyber = Tag.objects.create(name="Cyber superpower")
    Tag.objects.create(name="Economy")
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "speeches", "model_name": "passage", "field_name": "themes", "term": "cyb"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Cyber superpower"]

    data = inline_data(passage)
    data.update({"themes": [cyber.pk], "new_themes": "Innovation, reform"})
    response = admin_client.post(change_url(passage), data)
    assert response.status_code == 302
    assert sorted(passage.themes.names()) == ["Cyber superpower", "Innovation", "reform"]
    assert TaggedPassage.history.filter(content_object_id=passage.pk).count() == 3


# ---------------------------------------------------------------- actions


def test_tag_action_intermediate_page_then_tags(admin_client) -> None:
    speech = make_bilingual_speech(3)
    Tag.objects.create(name="Existing theme")
    p1, p2, _ = speech.passages.order_by("position")
    response = action(admin_client, speech, "tag_with_theme", [p1, p2])
    assert response.status_code == 200
    html = response.content.decode()
    assert 'list="theme-names"' in html and '<option value="Existing theme">' in html
    response = action(
        admin_client, speech, "tag_with_theme", [p1, p2], themes="Cyber, Innovation", apply="Tag"
    )
    assert response.status_code == 302
    assert sorted(p1.themes.names()) == ["Cyber", "Innovation"]
    assert sorted(p2.themes.names()) == ["Cyber", "Innovation"]
    response = action(admin_client, speech, "untag_theme", [p1], themes="cyber", apply="Remove")
    assert response.status_code == 302
    assert list(p1.themes.names()) == ["Innovation"]


def test_merge_action_merges_each_selected_with_next(admin_client) -> None:
    speech = make_bilingual_speech(4)
    p1, p2, p3, p4 = speech.passages.order_by("position")
    response = action(admin_client, speech, "merge_with_next", [p2, p3])
    assert response.status_code == 302
    assert list(speech.passages.order_by("position").values_list("key", flat=True)) == [
        p1.key,
        p2.key,
    ]
    assert PassageRedirect.objects.get(old_key=p3.key).passage_id == p2.pk
    assert PassageRedirect.objects.get(old_key=p4.key).passage_id == p2.pk
    text = p2.texts.get(version__code="en").text
    assert text.count("\n\n") == 2


def test_merge_action_on_last_passage_warns(admin_client) -> None:
    speech = make_bilingual_speech(2)
    last = speech.passages.get(position=2)
    response = action(admin_client, speech, "merge_with_next", [last])
    assert any("is the last passage" in m for m in message_texts(response))
    assert speech.passages.count() == 2


def test_delete_action_asks_reason_then_leaves_tombstones(admin_client, client) -> None:
    speech = make_bilingual_speech(3)
    p1, p2, p3 = speech.passages.order_by("position")
    Annotation.objects.create(passage=p2, body="keep")
    response = action(admin_client, speech, "delete_with_reason", [p2, p3])
    assert response.status_code == 200
    assert "1 annotation(s)" in response.content.decode()
    assert speech.passages.count() == 3  # nothing done before the reason is given
    response = action(
        admin_client, speech, "delete_with_reason", [p2, p3], reason="Not in the source", apply="1"
    )
    assert response.status_code == 302
    assert list(speech.passages.values_list("key", flat=True)) == [p1.key]
    assert Correction.objects.filter(description__contains="Not in the source").count() == 4
    assert client.get(f"/p/{p2.key}/").status_code == 410
    assert Annotation.objects.get(body="keep").passage_id == p1.pk


def test_raw_delete_is_not_offered_for_passages(admin_client) -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    response = admin_client.get(editor_url(speech))
    assert "delete_selected" not in response.content.decode()
    delete = reverse("admin:speeches_passage_delete", args=[passage.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Passage.objects.filter(pk=passage.pk).exists()


# ---------------------------------------------------------------- split, insert


def test_split_view(admin_client) -> None:
    speech = make_bilingual_speech(2)
    passage = speech.passages.get(position=1)
    url = reverse("admin:speeches_passage_split", args=[passage.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "Paragraph 1: build a cyber superpower." in response.content.decode()
    zh, en = (passage.texts.get(version__code=c) for c in ("zh-Hans", "en"))
    data = {
        f"text_{en.version_id}": "Paragraph 1: || build a cyber superpower.",
        f"text_{zh.version_id}": zh.text,
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302
    first, second, third = speech.passages.order_by("position")
    assert first.key == passage.key
    assert first.texts.get(version__code="en").text == "Paragraph 1:"
    assert second.texts.get().text == "build a cyber superpower."
    assert third.position == 3


def test_split_view_rejects_edits_and_missing_marker(admin_client) -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    url = reverse("admin:speeches_passage_split", args=[passage.pk])
    en = passage.texts.get(version__code="en")
    response = admin_client.post(url, {f"text_{en.version_id}": en.text})
    assert "Type || where the new passage should begin" in response.content.decode()
    response = admin_client.post(url, {f"text_{en.version_id}": "Changed words || here"})
    assert "must add up to" in response.content.decode()
    assert speech.passages.count() == 1


def test_insert_view(admin_client) -> None:
    speech = make_bilingual_speech(2)
    p1 = speech.passages.get(position=1)
    en = speech.versions.get(code="en")
    url = reverse("admin:speeches_passage_insert") + f"?speech={speech.pk}&after={p1.pk}"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"turn_speaker": "Host", f"text_{en.pk}": "New words."})
    assert response.status_code == 302
    inserted = speech.passages.get(position=2)
    assert inserted.turn_speaker == "Host"
    assert inserted.texts.get().text == "New words."
    response = admin_client.post(url, {"turn_speaker": ""})
    assert "at least one version" in response.content.decode()


# ---------------------------------------------------------------- history and revert


def test_history_page_lists_text_and_theme_changes_and_reverts(admin_client) -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    en = passage.texts.get(version__code="en")
    services.tag_passages(passages=[passage], themes=["Cyber"])
    services.update_passage_text(passage_text=en, text="Edited text.")
    services.untag_passages(passages=[passage], themes=["Cyber"])

    response = admin_client.get(reverse("admin:speeches_passage_history", args=[passage.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Text [en]" in html and "Edited text." in html
    assert "Theme" in html and "Removed" in html
    assert html.count("Revert to this version") >= 3

    tag_added = TaggedPassage.history.get(content_object_id=passage.pk, history_type="+")
    assert f'value="{tag_added.history_date.isoformat()}"' in html
    response = admin_client.post(
        reverse("admin:speeches_passage_revert", args=[passage.pk]),
        {"as_of": tag_added.history_date.isoformat()},
    )
    assert response.status_code == 302
    en.refresh_from_db()
    assert en.text == "Paragraph 1: build a cyber superpower."
    assert list(passage.themes.names()) == ["Cyber"]


def test_revert_requires_post_and_a_date(admin_client) -> None:
    passage = make_bilingual_speech(1).passages.get()
    url = reverse("admin:speeches_passage_revert", args=[passage.pk])
    assert admin_client.get(url).status_code == 403
    response = admin_client.post(url, {"as_of": "yesterday"})
    assert response.status_code == 302
    assert any("Choose a version" in m for m in message_texts(response))


# ---------------------------------------------------------------- speeches


def test_speech_list_links_to_passage_editor(admin_client) -> None:
    speech = make_bilingual_speech(4)
    html = admin_client.get(reverse("admin:speeches_speech_changelist")).content.decode()
    assert "Edit passages (4)" in html
    assert f"speech__id__exact={speech.pk}" in html
    html = admin_client.get(
        reverse("admin:speeches_speech_change", args=[speech.pk])
    ).content.decode()
    assert "Edit passages (4)" in html


def _speech_form(speech: Speech, **changes) -> dict:
    data = {
        "title": speech.title,
        "slug": speech.slug,
        "speaker": speech.speaker_id,
        "delivered_on": speech.delivered_on.isoformat(),
        "date_precision": speech.date_precision,
        "occasion": "",
        "place": "",
        "original_language": speech.original_language,
        "kind": speech.kind,
        "nickname": "",
        "summary": "",
        "themes": "",
        "status": speech.status,
        "withdrawn_reason": "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_slug_change_in_form_goes_through_service(admin_client, client) -> None:
    speech = SpeechFactory(slug="first-slug")
    url = reverse("admin:speeches_speech_change", args=[speech.pk])
    response = admin_client.post(url, _speech_form(speech, slug="second-slug"))
    assert response.status_code == 302
    speech.refresh_from_db()
    assert speech.slug == "second-slug"
    assert SlugHistory.objects.get(old_slug="first-slug").speech == speech
    assert client.get("/speeches/first-slug/")["Location"] == "/speeches/second-slug/"


def test_slug_of_another_speech_history_is_refused(admin_client) -> None:
    first = SpeechFactory(slug="taken")
    services.change_speech_slug(speech=first, new_slug="renamed")
    other = SpeechFactory()
    url = reverse("admin:speeches_speech_change", args=[other.pk])
    response = admin_client.post(url, _speech_form(other, slug="taken"))
    assert response.status_code == 200
    assert "used by another speech" in response.content.decode()


def test_publisher_status_change_in_form_uses_service(admin_client) -> None:
    speech = SpeechFactory(status=Speech.Status.DRAFT)
    url = reverse("admin:speeches_speech_change", args=[speech.pk])
    response = admin_client.post(url, _speech_form(speech, status="published"))
    assert response.status_code == 302
    speech.refresh_from_db()
    assert speech.status == "published" and speech.published_at is not None
    response = admin_client.post(
        url, _speech_form(speech, status="withdrawn", withdrawn_reason="Retracted")
    )
    speech.refresh_from_db()
    assert speech.status == "withdrawn" and speech.withdrawn_reason == "Retracted"


def test_withdraw_action_asks_for_reason(admin_client) -> None:
    speech = SpeechFactory()
    url = reverse("admin:speeches_speech_changelist")
    data = {"action": "withdraw_selected", "_selected_action": [speech.pk]}
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "Withdraw speeches" in response.content.decode()
    response = admin_client.post(url, {**data, "reason": "Source retracted", "apply": "1"})
    assert response.status_code == 302
    speech.refresh_from_db()
    assert speech.status == "withdrawn" and speech.withdrawn_reason == "Source retracted"


# ---------------------------------------------------------------- other admins


def test_annotation_author_is_set_and_quote_anchored(admin_client) -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    en = speech.versions.get(code="en")
    response = admin_client.get(reverse("admin:speeches_annotation_add") + f"?passage={passage.pk}")
    assert response.status_code == 200
    response = admin_client.post(
        reverse("admin:speeches_annotation_add"),
        {
            "passage": passage.pk,
            "version": en.pk,
            "body": "Note on the phrase.",
            "exact": "cyber superpower",
            "prefix": "",
            "suffix": "",
            "start": "",
            "visibility": "public",
        },
    )
    assert response.status_code == 302
    annotation = Annotation.objects.get()
    assert annotation.author.is_superuser
    assert annotation.start == passage.texts.get(version=en).text.index("cyber")
    assert not annotation.is_orphaned
    orphans = admin_client.get(
        reverse("admin:speeches_annotation_changelist") + "?is_orphaned__exact=1"
    )
    assert "Note on the phrase" not in orphans.content.decode()


def test_confirm_terms_action(admin_client) -> None:
    term = Term.objects.create(original="网络强国", slug="网络强国", translation="cyber superpower")
    response = admin_client.post(
        reverse("admin:speeches_term_changelist"),
        {"action": "confirm_terms", "_selected_action": [term.pk]},
    )
    assert response.status_code == 302
    term.refresh_from_db()
    assert term.status == Term.Status.CONFIRMED
    assert term.history.count() == 2


def test_redirect_and_slug_history_admins_are_read_only(admin_client) -> None:
    speech = make_bilingual_speech(2)
    services.delete_passage(passage=speech.passages.get(position=1), reason="x")
    redirect = PassageRedirect.objects.get()
    url = reverse("admin:speeches_passageredirect_change", args=[redirect.pk])
    html = admin_client.get(url).content.decode()
    assert redirect.old_key in html
    assert 'name="old_key"' not in html
    assert admin_client.get(reverse("admin:speeches_slughistory_add")).status_code == 403


# ---------------------------------------------------------------- import


NATIVE = """---
speech: admin-import-test
speaker: Xi Jinping
date: 2018-04-20
language: en
title: Imported through the admin
---

First paragraph of the imported speech.

Second paragraph.
"""


def test_import_view_imports_a_native_file_as_draft(admin_client) -> None:
    SpeakerFactory(name="Xi Jinping", slug="xi-jinping")
    changelist = admin_client.get(reverse("admin:speeches_speech_changelist")).content.decode()
    assert "Import speech from files" in changelist
    url = reverse("admin:speeches_speech_import")
    assert admin_client.get(url).status_code == 200
    upload = SimpleUploadedFile("speech.en.md", NATIVE.encode(), content_type="text/markdown")
    response = admin_client.post(url, {"files": [upload]})
    assert response.status_code == 302, message_texts(response)
    speech = Speech.objects.get(slug="admin-import-test")
    assert speech.status == Speech.Status.DRAFT
    assert speech.delivered_on == dt.date(2018, 4, 20)
    assert list(
        PassageText.objects.filter(passage__speech=speech)
        .order_by("passage__position")
        .values_list("text", flat=True)
    ) == ["First paragraph of the imported speech.", "Second paragraph."]
    assert response["Location"] == reverse("admin:speeches_speech_change", args=[speech.pk])


def test_import_view_reports_file_and_line_and_writes_nothing(admin_client) -> None:
    good = SimpleUploadedFile("good.en.md", NATIVE.encode())
    bad_text = NATIVE.replace("speech: admin-import-test", "speech: admin-import-test\ndate: [")
    bad = SimpleUploadedFile(
        "broken.zh.md", bad_text.replace("language: en", "language: zh").encode()
    )
    response = admin_client.post(reverse("admin:speeches_speech_import"), {"files": [good, bad]})
    assert response.status_code == 200
    errors = [m for m in message_texts(response) if m.startswith("Nothing imported")]
    assert errors and "broken.zh.md, line" in errors[0]
    assert "speech-import-" not in errors[0]  # no temporary folder in the message
    assert not Speech.objects.exists()


def test_import_view_rejects_other_file_types(admin_client) -> None:
    upload = SimpleUploadedFile("speech.docx", b"PK")
    response = admin_client.post(reverse("admin:speeches_speech_import"), {"files": [upload]})
    assert response.status_code == 200
    assert "Only .md (native) and .txt (DigiChina) files." in response.content.decode()


def test_import_digichina_seed(admin_client, seeds_dir) -> None:
    with open(f"{seeds_dir}/001_e260997f8c73c039.txt", "rb") as handle:
        upload = SimpleUploadedFile("001.txt", handle.read())
    response = admin_client.post(reverse("admin:speeches_speech_import"), {"files": [upload]})
    assert response.status_code == 302, message_texts(response)
    speech = Speech.objects.get()
    assert speech.status == Speech.Status.DRAFT
    assert speech.passages.count() > 10
    assert speech.versions.filter(language="en").exists()
