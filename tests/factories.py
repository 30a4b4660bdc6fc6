"""factory-boy factories for the archive's models."""

from __future__ import annotations

import datetime as dt

import factory

from speeches import models


class SpeakerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Speaker
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Speaker {n}")
    slug = factory.Sequence(lambda n: f"speaker-{n}")


class SpeechFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Speech

    title = factory.Sequence(lambda n: f"Speech number {n}")
    slug = factory.Sequence(lambda n: f"speech-{n}")
    speaker = factory.SubFactory(SpeakerFactory)
    delivered_on = factory.Sequence(lambda n: dt.date(2018, 1, 1) + dt.timedelta(days=n))
    original_language = "zh-Hans"
    status = models.Speech.Status.PUBLISHED


class VersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Version

    speech = factory.SubFactory(SpeechFactory)
    code = "en"
    language = "en"
    title = factory.LazyAttribute(lambda o: o.speech.title)


class PassageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Passage

    speech = factory.SubFactory(SpeechFactory)
    position = factory.Sequence(lambda n: n + 1)


class PassageTextFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PassageText

    passage = factory.SubFactory(PassageFactory)
    version = factory.SubFactory(VersionFactory)
    text = factory.Sequence(lambda n: f"Paragraph text number {n}.")


def make_bilingual_speech(n_passages: int = 3, **speech_kwargs) -> models.Speech:
    """A speech with a zh-Hans original and an English translation, aligned."""
    speech = SpeechFactory(**speech_kwargs)
    zh = VersionFactory(speech=speech, code="zh-Hans", language="zh-Hans", is_original=True)
    en = VersionFactory(speech=speech, code="en", language="en")
    for i in range(1, n_passages + 1):
        passage = PassageFactory(speech=speech, position=i)
        PassageTextFactory(passage=passage, version=zh, text=f"第{i}段：建设网络强国。")
        PassageTextFactory(
            passage=passage, version=en, text=f"Paragraph {i}: build a cyber superpower."
        )
    return speech
