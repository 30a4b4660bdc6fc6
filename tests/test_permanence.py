"""Every URL a reader ever saw keeps answering: 200, 301 to the right passage, or
410 with a tombstone. Edits go through the editors' services and the importer
(the same code the admin and `import_speech` use)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.test import Client

from speeches import services
from speeches.importers.document import PassageDoc, SpeechDocument, VersionDoc
from speeches.importers.writer import import_speech_document
from speeches.models import Passage, PassageRedirect, Speech

pytestmark = pytest.mark.django_db

ZH = [
    "同志们，今天我们召开网络安全和信息化工作座谈会。",
    "第一，按照创新、协调、绿色、开放、共享的发展理念推动我国经济社会发展。",
    "第二，着眼识网络强国建设，推动核心技术突破。第三段后半部分讲人才。",
    "第三，正确处理安全和发展的关系。",
    "第四，增强互联网企业使命感、责任感。",
    "第五，聚天下英才而用之，为网信事业发展提供有力人才支撑。",
    "同志们，建设网络强国的战略部署要与“两个一百年”奋斗目标同步推进。",
]
EN = [
    "Comrades, today we are holding a work conference on cybersecurity and informatization.",
    "First, promote economic and social development according to the development concepts.",
    "Second, aim at building a cyber superpower. The second half speaks about talent.",
    "Third, correctly handle the relationship between security and development.",
    "Fourth, strengthen the sense of mission and responsibility of Internet enterprises.",
    "Fifth, gather the talents of all under heaven and use them.",
    "Comrades, the strategic deployment of building a cyber superpower must advance.",
]


def document(zh: list[str], en: list[str]) -> SpeechDocument:
    return SpeechDocument(
        slug="work-conference",
        title="Speech at the Work Conference for Cybersecurity and Informatization",
        speaker_name="Xi Jinping",
        speaker_slug="xi-jinping",
        delivered_on=dt.date(2016, 4, 19),
        original_language="zh-Hans",
        status="published",
        versions=[
            VersionDoc(
                code="zh-Hans",
                language="zh-Hans",
                title="在网信工作座谈会上的讲话",
                is_original=True,
            ),
            VersionDoc(
                code="en",
                language="en",
                title="Speech at the Work Conference",
                translators="DigiChina",
            ),
        ],
        passages=[PassageDoc(texts={"zh-Hans": z, "en": e}) for z, e in zip(zh, en, strict=True)],
    )


def resolve(client: Client, url: str, limit: int = 5):
    """Follow 301s (at most `limit`); return the final response and the hops."""
    hops = []
    response = client.get(url)
    while response.status_code == 301 and len(hops) < limit:
        hops.append(response["Location"])
        response = client.get(response["Location"])
    return response, hops


def test_recorded_urls_survive_insert_split_merge_delete_and_reimport(client):
    doc = document(ZH, EN)
    speech = import_speech_document(doc, publish=True).speech
    passages = list(speech.passages.order_by("position"))
    recorded = {p.get_absolute_url(): EN[i] for i, p in enumerate(passages)}
    recorded_cite = [f"/p/{p.key}/cite.bib" for p in passages]
    speech_url = speech.get_absolute_url()
    versions = {v.code: v for v in speech.versions.all()}
    zh, en = versions["zh-Hans"], versions["en"]

    # Insert after ¶1.
    services.insert_passage(
        speech=speech, after=passages[0], texts={zh: "插入的段落。", en: "An inserted passage."}
    )
    # Split ¶3 (of the original numbering) into two.
    third = Passage.objects.get(pk=passages[2].pk)
    services.split_passage(
        passage=third,
        version_splits={
            zh: ("第二，着眼识网络强国建设，推动核心技术突破。", "第三段后半部分讲人才。"),
            en: (
                "Second, aim at building a cyber superpower.",
                "The second half speaks about talent.",
            ),
        },
    )
    # Merge original ¶4 and ¶5.
    services.merge_passages(
        first=Passage.objects.get(pk=passages[3].pk), second=Passage.objects.get(pk=passages[4].pk)
    )
    # Delete original ¶6.
    services.delete_passage(passage=Passage.objects.get(pk=passages[5].pk), reason="Duplicate")
    # Rename the speech.
    services.change_speech_slug(speech=Speech.objects.get(pk=speech.pk), new_slug="april-20-speech")

    # Re-import an edited version under the new slug: ¶1 lightly edited, ¶2 dropped.
    current = list(Speech.objects.get(pk=speech.pk).passages.order_by("position"))
    texts = [{t.version.code: t.text for t in p.texts.select_related("version")} for p in current]
    edited = copy.deepcopy(doc)
    edited.slug = "april-20-speech"
    edited.passages = [
        PassageDoc(texts=t) for i, t in enumerate(texts) if current[i].pk != passages[1].pk
    ]
    edited.passages[0].texts["en"] = edited.passages[0].texts["en"].replace("today", "today,")
    import_speech_document(edited, publish=True)

    assert PassageRedirect.objects.filter(speech=speech).count() >= 3
    outcomes = []
    for url, expected_text in recorded.items():
        response, hops = resolve(client, url)
        outcomes.append(301 if hops else response.status_code)
        assert response.status_code in (200, 410), (url, response.status_code)
        html = response.content.decode()
        if response.status_code == 200:
            # The passage (possibly under its new key) still holds the cited text.
            first_words = " ".join(expected_text.split()[:3]).replace("today", "today,")
            assert first_words in html, (url, hops)
            if hops:
                assert all(hop.startswith("/p/") for hop in hops)
        else:
            assert "This passage was removed" in html
            assert "Speech at the Work Conference for Cybersecurity" in html
            assert "/speeches/april-20-speech/" in html  # names the speech, current URL
    # Merged ¶5 redirects; deleted ¶6 and dropped ¶2 are gone; the rest still answer.
    assert outcomes.count(301) >= 1 and outcomes.count(410) >= 2 and outcomes.count(200) >= 3
    for url in recorded_cite:
        response, _ = resolve(client, url)
        assert response.status_code in (200, 410), url
    response, hops = resolve(client, speech_url)
    assert response.status_code == 200 and hops == ["/speeches/april-20-speech/"]
    # The deleted passage's tombstone names its correction.
    deleted, _ = resolve(client, f"/p/{passages[5].key}/")
    assert deleted.status_code == 410 and "Duplicate" in deleted.content.decode()


def test_old_keys_are_also_anchors_on_the_reading_page(client):
    speech = import_speech_document(document(ZH, EN), publish=True).speech
    first, second = speech.passages.order_by("position")[:2]
    services.merge_passages(first=first, second=second)
    html = client.get(speech.get_absolute_url()).content.decode()
    assert f'id="p-{second.key}"' in html  # #p-<old key> links land on the merged row


def test_old_slug_redirect_keeps_query_and_export_urls(client):
    speech = import_speech_document(document(ZH, EN), publish=True).speech
    services.change_speech_slug(speech=speech, new_slug="renamed")
    response = client.get("/speeches/work-conference/?view=single&left=en")
    assert response.status_code == 301
    assert response["Location"] == "/speeches/renamed/?view=single&left=en"
    assert client.get("/speeches/work-conference.json")["Location"] == "/speeches/renamed.json"
    assert client.get("/speeches/work-conference/cite.ris")["Location"] == (
        "/speeches/renamed/cite.ris"
    )
