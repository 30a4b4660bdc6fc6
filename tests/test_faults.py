"""Database faults (issue 5, "Load and faults"): a connection lost in the middle of
an editor's write leaves nothing half-applied, because every import and every
service is one transaction; and a web worker whose persistent connection died
(the server restarted) answers the next request from a fresh one.

The connection is lost the way a crash or an operator's `pg_terminate_backend`
loses it: a second connection ends the writer's backend at a point between its
writes (a wrapper around one of the writer's own steps), after it has written
rows it can see in its open transaction. The database itself then rolls back.

A database host that accepts the TCP connection but never answers must not
hold a worker either: the connection attempt is bounded (settings
`connect_timeout`), and the page answers 503.

The outage pages (503 with Retry-After while the database is unreachable, and
recovery once it is back) are tested in tests/test_security.py.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Callable

import psycopg
import pytest
from django.apps import apps
from django.core.handlers.wsgi import WSGIHandler
from django.db import Error, connection
from django.test import RequestFactory
from taggit.models import Tag

from speeches import services
from speeches.importers import writer
from speeches.importers.document import FootnoteDoc, PassageDoc, SpeechDocument, VersionDoc
from speeches.models import Passage, PassageText, Speech
from tests.factories import make_bilingual_speech

N_PASSAGES = 1200
EDITED = 100
SLUG = "killed-mid-import"


def _edit(i: int, edit: str) -> str:
    return edit if i % EDITED == 0 else ""


def big_document(edit: str = "") -> SpeechDocument:
    """A bilingual speech of N_PASSAGES passages with themes and a footnote;
    `edit` is appended to every EDITED-th passage (an editor's corrections)."""
    passages = [
        PassageDoc(
            texts={
                "zh-Hans": f"第{i}段：建设网络强国，推动核心技术突破。" + _edit(i, edit),
                "en": f"Paragraph {i}: build a cyber superpower, advance core technology."
                + ("[^1]" if i == 1 else "")
                + _edit(i, edit),
            },
            themes=["Cyberspace"] if i % 10 == 0 else [],
        )
        for i in range(1, N_PASSAGES + 1)
    ]
    return SpeechDocument(
        slug=SLUG,
        title="A long speech",
        speaker_name="Xi Jinping",
        speaker_name_original="习近平",
        delivered_on=dt.date(2016, 4, 19),
        original_language="zh-Hans",
        themes=["Technology"],
        versions=[
            VersionDoc(code="zh-Hans", language="zh-Hans", title="讲话", is_original=True),
            VersionDoc(
                code="en",
                language="en",
                title="A long speech",
                footnotes=[
                    FootnoteDoc(number=1, kind="translator", body=f"A note.{edit}", passage_index=0)
                ],
            ),
        ],
        passages=passages,
    )


# ---------------------------------------------------------------- losing the connection


def terminate_backend(pid: int) -> None:
    """End backend `pid` from a second connection and wait until it is gone."""
    # Django's own connection parameters (database, socket or host, user…),
    # less the ones only its psycopg wrapper understands.
    params = {
        key: value
        for key, value in connection.get_connection_params().items()
        if key not in ("cursor_factory", "context", "prepare_threshold", "options")
    }
    with psycopg.connect(**params, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        for _ in range(200):  # the backend exits asynchronously; 10 s at most
            gone = other.execute(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", [pid]
            ).fetchone()[0]
            if gone:
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} did not exit")


def kill_after(monkeypatch, module, name: str, seen: Callable[[], object]) -> list[object]:
    """Wrap `module.name`: once it has run, record `seen()` (read in the writer's
    own, still open, transaction) and then end the writer's backend."""
    original = getattr(module, name)
    observed: list[object] = []

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        if not observed:
            observed.append(seen())
            terminate_backend(connection.connection.info.backend_pid)
        return result

    monkeypatch.setattr(module, name, wrapper)
    return observed


def row_counts() -> dict[str, int]:
    """Rows in every table of the archive (history tables included) and in taggit's."""
    models = [*apps.get_app_config("speeches").get_models(), Tag]
    return {model._meta.db_table: model.objects.count() for model in models}


def speech_state(speech: Speech) -> list[tuple]:
    """What a reader and the history see of one speech, in a stable order."""
    texts = PassageText.objects.filter(passage__speech=speech).order_by(
        "passage__position", "version__code"
    )
    return [
        *texts.values_list("passage__key", "passage__position", "version__code", "text"),
        *speech.versions.order_by("code").values_list("code", "footnotes__body"),
        ("history rows", sum(row_counts().values())),
    ]


# ---------------------------------------------------------------- imports


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("durable", [True, False], ids=["import_speech", "load_corpus"])
def test_connection_lost_mid_import_writes_nothing(monkeypatch, durable):
    before = row_counts()
    written = kill_after(
        monkeypatch,
        writer,
        "_sync_footnotes",
        lambda: Passage.objects.filter(speech__slug=SLUG).count(),
    )
    with pytest.raises(Error):
        writer.import_speech_document(big_document(), publish=True, durable=durable)
    # The kill came mid-import: every passage was already written in the transaction.
    assert written == [N_PASSAGES]
    connection.close()  # Django reconnects on the next query, like a web worker
    assert not Speech.objects.filter(slug=SLUG).exists()
    assert row_counts() == before


@pytest.mark.django_db(transaction=True)
def test_connection_lost_mid_reimport_keeps_the_previous_text(monkeypatch):
    speech = writer.import_speech_document(big_document(), publish=True).speech
    before = speech_state(speech)
    edited = kill_after(
        monkeypatch,
        writer,
        "_sync_footnotes",
        lambda: PassageText.objects.filter(passage__speech=speech, text__endswith="(rev)").count(),
    )
    with pytest.raises(Error):
        writer.import_speech_document(big_document(edit=" (rev)"), publish=True)
    assert edited == [2 * (N_PASSAGES // EDITED)]  # the edits were written, uncommitted
    connection.close()
    assert speech_state(speech) == before


# ---------------------------------------------------------------- services


@pytest.mark.django_db(transaction=True)
def test_connection_lost_mid_split_changes_nothing(monkeypatch):
    speech = make_bilingual_speech(3)
    passage = speech.passages.get(position=2)
    en = speech.versions.get(code="en")
    before = speech_state(speech)
    passages_inside = kill_after(
        monkeypatch,
        services,
        "reanchor_annotations",
        lambda: Passage.objects.filter(speech=speech).count(),
    )
    with pytest.raises(Error):
        services.split_passage(
            passage=passage, version_splits={en: ("Paragraph 2:", "build a cyber superpower.")}
        )
    assert passages_inside == [4]  # the second part existed inside the transaction
    connection.close()
    assert speech_state(speech) == before


# ---------------------------------------------------------------- a restarted server


def serve(path: str) -> tuple[str, bytes]:
    """One request through Django's WSGI handler as gunicorn calls it: the
    request_started/finished signals run, so persistent connections
    (CONN_MAX_AGE) and their health checks behave as in production."""
    environ = RequestFactory().get(path).environ
    status: list[str] = []
    response = WSGIHandler()(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        return status[0], b"".join(response)
    finally:
        response.close()  # request_finished


@pytest.mark.django_db(transaction=True)
def test_a_dead_persistent_connection_is_replaced_on_the_next_request():
    assert connection.settings_dict["CONN_MAX_AGE"] > 0  # else there is nothing to test
    assert serve("/healthz")[0] == "200 OK"
    pid = connection.connection.info.backend_pid  # kept open between requests
    terminate_backend(pid)  # as a database restart does to every open connection
    status, body = serve("/healthz")
    assert status == "200 OK", body
    assert connection.connection.info.backend_pid != pid


@pytest.fixture
def silent_server():
    """A TCP port whose connections the kernel accepts but nobody ever answers:
    a database host that hangs, or is cut off behind a firewall that drops packets."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_a_database_that_never_answers_gives_503_not_a_hang(client, silent_server):
    # archive/settings.py bounds every connection attempt; the test shortens it.
    assert connection.settings_dict["OPTIONS"]["connect_timeout"] == 5
    connection.close()
    saved = dict(connection.settings_dict)
    options = {k: v for k, v in saved["OPTIONS"].items() if k != "host"}
    connection.settings_dict.update(
        HOST="127.0.0.1", PORT=str(silent_server), OPTIONS={**options, "connect_timeout": 1}
    )
    try:
        response = client.get("/speeches/")
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert client.get("/healthz").status_code == 200  # and back once it answers
