"""Who may do what in the admin: anonymous, Editor, Publisher; and create_editor."""

from __future__ import annotations

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse

from speeches import services
from speeches.models import Annotation, Passage, Speech
from tests.factories import SpeechFactory, make_bilingual_speech

pytestmark = pytest.mark.django_db


def member(group: str, username: str | None = None) -> User:
    user = User.objects.create_user(username or group.lower(), password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def editor_client(client):
    client.force_login(member("Editor"))
    return client


@pytest.fixture
def publisher_client(client):
    client.force_login(member("Publisher"))
    return client


def _speech_change_data(speech: Speech, **changes) -> dict:
    data = {
        "title": speech.title,
        "slug": speech.slug,
        "speaker": speech.speaker_id,
        "delivered_on": speech.delivered_on.isoformat(),
        "date_precision": "day",
        "original_language": speech.original_language,
        "kind": speech.kind,
        "themes": "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def _action_choices(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    action_form = response.context["action_form"]  # None when no action is allowed
    return [name for name, _ in action_form.fields["action"].choices] if action_form else []


# ---------------------------------------------------------------- anonymous


def _all_admin_urls(speech: Speech) -> list[str]:
    passage = speech.passages.first()
    objects = {Speech: speech, Passage: passage}
    urls = [reverse("admin:index"), reverse("admin:app_list", args=["speeches"])]
    for model in django_admin.site._registry:
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        urls += [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
        obj = objects.get(model) or model._default_manager.first()
        pk = obj.pk if obj is not None else 1
        for view in ("change", "history", "delete"):
            urls.append(reverse(f"{prefix}_{view}", args=[pk]))
    urls += [
        reverse("admin:speeches_passage_insert") + f"?speech={speech.pk}",
        reverse("admin:speeches_passage_split", args=[passage.pk]),
        reverse("admin:speeches_passage_revert", args=[passage.pk]),
        reverse("admin:speeches_passage_simple_history", args=[passage.pk, 1]),
        reverse("admin:speeches_speech_import"),
        reverse("admin:autocomplete") + "?app_label=speeches&model_name=passage&field_name=themes",
    ]
    return urls


def test_anonymous_users_are_redirected_from_every_admin_url(client) -> None:
    speech = make_bilingual_speech(2)
    urls = _all_admin_urls(speech)
    assert len(urls) > 60
    for url in urls:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/admin/login/"), url
    assert speech.passages.count() == 2


def test_non_staff_user_cannot_enter(client) -> None:
    user = User.objects.create_user("reader", password="pw")
    client.force_login(user)
    assert client.get(reverse("admin:index"))["Location"].startswith("/admin/login/")


# ---------------------------------------------------------------- editors


def test_editor_opens_admin_and_adds_and_changes(editor_client) -> None:
    speech = make_bilingual_speech(2, status=Speech.Status.DRAFT)
    passage = speech.passages.first()
    assert editor_client.get(reverse("admin:index")).status_code == 200
    for url in (
        reverse("admin:speeches_speech_add"),
        reverse("admin:speeches_speech_change", args=[speech.pk]),
        reverse("admin:speeches_passage_change", args=[passage.pk]),
        reverse("admin:speeches_annotation_add"),
        reverse("admin:speeches_passage_split", args=[passage.pk]),
        reverse("admin:speeches_passage_insert") + f"?speech={speech.pk}",
        reverse("admin:speeches_speech_import"),
        reverse("admin:speeches_passage_history", args=[passage.pk]),
    ):
        assert editor_client.get(url).status_code == 200, url
    response = editor_client.post(
        reverse("admin:speeches_speech_change", args=[speech.pk]),
        _speech_change_data(speech, title="A better title"),
    )
    assert response.status_code == 302
    speech.refresh_from_db()
    assert speech.title == "A better title"


def test_editor_tags_passages(editor_client) -> None:
    speech = make_bilingual_speech(2)
    passage = speech.passages.first()
    response = editor_client.post(
        reverse("admin:speeches_passage_changelist") + f"?speech__id__exact={speech.pk}",
        {
            "action": "tag_with_theme",
            "_selected_action": [passage.pk],
            "themes": "Cyber",
            "apply": "1",
        },
    )
    assert response.status_code == 302
    assert list(passage.themes.names()) == ["Cyber"]


def test_editor_cannot_publish(editor_client) -> None:
    speech = SpeechFactory(status=Speech.Status.DRAFT)
    changelist = reverse("admin:speeches_speech_changelist")
    choices = _action_choices(editor_client, changelist)
    assert "publish_selected" not in choices and "withdraw_selected" not in choices
    assert "delete_selected" not in choices

    # Posting the action anyway does nothing.
    editor_client.post(changelist, {"action": "publish_selected", "_selected_action": [speech.pk]})
    speech.refresh_from_db()
    assert speech.status == Speech.Status.DRAFT

    # The status field is read-only: a forged value is ignored.
    url = reverse("admin:speeches_speech_change", args=[speech.pk])
    form = editor_client.get(url).context["adminform"].form
    assert "status" not in form.fields and "withdrawn_reason" not in form.fields
    response = editor_client.post(url, _speech_change_data(speech, status="published"))
    assert response.status_code == 302
    speech.refresh_from_db()
    assert speech.status == Speech.Status.DRAFT and speech.published_at is None

    editor = User.objects.get(username="editor")
    with pytest.raises(PermissionDenied):
        services.publish_speech(speech=speech, user=editor)


def test_editor_cannot_publish_through_a_history_revert(editor_client) -> None:
    publisher = member("Publisher", "pub")
    speech = SpeechFactory(status=Speech.Status.DRAFT)
    services.publish_speech(speech=speech, user=publisher)
    services.withdraw_speech(speech=speech, user=publisher, reason="Retracted")
    published_record = speech.history.filter(status="published").first()
    url = reverse("admin:speeches_speech_simple_history", args=[speech.pk, published_record.pk])
    response = editor_client.post(url, _speech_change_data(speech, title="Reverted title"))
    assert response.status_code == 302  # the revert itself went through…
    speech.refresh_from_db()
    assert speech.title == "Reverted title"
    assert speech.status == Speech.Status.WITHDRAWN  # …but not the old status


def test_editor_cannot_delete_speeches_or_see_redirect_tables(editor_client) -> None:
    speech = make_bilingual_speech(1)
    delete = reverse("admin:speeches_speech_delete", args=[speech.pk])
    assert editor_client.post(delete, {"post": "yes"}).status_code == 403
    assert Speech.objects.filter(pk=speech.pk).exists()
    assert (
        editor_client.get(reverse("admin:speeches_passageredirect_changelist")).status_code == 403
    )


def test_editor_deletes_passage_through_service_and_annotations(editor_client) -> None:
    speech = make_bilingual_speech(2)
    first, second = speech.passages.order_by("position")
    note = Annotation.objects.create(passage=first, body="n")
    changelist = reverse("admin:speeches_passage_changelist") + f"?speech__id__exact={speech.pk}"
    choices = _action_choices(editor_client, changelist)
    assert {"tag_with_theme", "merge_with_next", "delete_with_reason"} <= set(choices)
    response = editor_client.post(
        changelist,
        {
            "action": "delete_with_reason",
            "_selected_action": [second.pk],
            "reason": "dup",
            "apply": "1",
        },
    )
    assert response.status_code == 302
    assert speech.passages.count() == 1
    delete_note = reverse("admin:speeches_annotation_delete", args=[note.pk])
    assert editor_client.post(delete_note, {"post": "yes"}).status_code == 302
    assert not Annotation.objects.filter(pk=note.pk).exists()


def test_editor_import_cannot_publish(editor_client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = (
        "---\nspeech: editor-import\nspeaker: Someone\ndate: 2020-01-01\nstatus: published\n"
        "language: en\ntitle: T\n---\n\nOne paragraph.\n"
    )
    upload = SimpleUploadedFile("t.en.md", text.encode())
    response = editor_client.post(reverse("admin:speeches_speech_import"), {"files": [upload]})
    assert response.status_code == 302
    assert Speech.objects.get(slug="editor-import").status == Speech.Status.DRAFT


# ---------------------------------------------------------------- publishers


def test_publisher_sees_and_uses_publish_actions(publisher_client) -> None:
    speech = SpeechFactory(status=Speech.Status.DRAFT)
    changelist = reverse("admin:speeches_speech_changelist")
    assert {"publish_selected", "withdraw_selected"} <= set(
        _action_choices(publisher_client, changelist)
    )
    response = publisher_client.post(
        changelist, {"action": "publish_selected", "_selected_action": [speech.pk]}
    )
    assert response.status_code == 302
    speech.refresh_from_db()
    assert speech.status == Speech.Status.PUBLISHED and speech.published_at is not None
    url = reverse("admin:speeches_speech_change", args=[speech.pk])
    assert "status" in publisher_client.get(url).context["adminform"].form.fields
    # Publishers still cannot hard-delete a speech: withdrawing keeps the citation.
    delete = reverse("admin:speeches_speech_delete", args=[speech.pk])
    assert publisher_client.post(delete, {"post": "yes"}).status_code == 403


# ---------------------------------------------------------------- create_editor


def test_create_editor_from_env(monkeypatch, capsys) -> None:
    monkeypatch.setenv("EDITOR_PW", "a-long-enough-passphrase")
    call_command(
        "create_editor", "alice", "--email", "a@example.org", "--password-from-env", "EDITOR_PW"
    )
    alice = User.objects.get(username="alice")
    assert alice.is_staff and not alice.is_superuser
    assert alice.email == "a@example.org"
    assert alice.check_password("a-long-enough-passphrase")
    assert list(alice.groups.values_list("name", flat=True)) == ["Editor"]
    assert not alice.has_perm("speeches.publish_speech")
    assert "Created editor 'alice'" in capsys.readouterr().out


def test_create_publisher_by_prompt(monkeypatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "another-long-passphrase")
    call_command("create_editor", "bob", "--publisher")
    bob = User.objects.get(username="bob")
    assert bob.has_perm("speeches.publish_speech")
    assert bob.has_perm("speeches.change_passage")


def test_create_editor_refuses_bad_input(monkeypatch) -> None:
    monkeypatch.setenv("SHORT_PW", "abc")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_editor", "carol", "--password-from-env", "SHORT_PW")
    with pytest.raises(CommandError, match="empty or unset"):
        call_command("create_editor", "carol", "--password-from-env", "NO_SUCH_VARIABLE_X")
    answers = iter(["first-long-passphrase", "second-long-passphrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="do not match"):
        call_command("create_editor", "carol")
    User.objects.create_user("dave")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_editor", "dave", "--password-from-env", "SHORT_PW")
    assert not User.objects.filter(username="carol").exists()
