"""Writes that span several rows: publishing, slugs and passage editing.

Every function is keyword-only and runs in one transaction; the admin, the
management commands and any view call these same functions.

Key stability: a passage key is never changed nor reused. A split keeps the
original key on the first part; a merge keeps the first passage's key and
redirects the second's; a deletion leaves a "removed" redirect (a tombstone
answering 410). Redirects that pointed at a passage which is merged away or
removed are re-pointed, so old keys never chain nor dangle.

Positions are the reading order, 1..n without gaps, renumbered here with one
UPDATE per operation (the (speech, position) unique constraint is DEFERRED).
Those renumbering updates deliberately leave no history rows: a position is
order, not content, and 200 history rows per inserted paragraph would bury the
edits editors look for. Text, tags, footnotes and annotations are saved row by
row so that simple-history records every change (with the user, when given).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from simple_history.signals import pre_create_historical_record
from taggit.models import Tag

from speeches.anchoring import locate_quote, reanchor_annotations
from speeches.models import (
    Annotation,
    Correction,
    Footnote,
    Passage,
    PassageRedirect,
    PassageText,
    SlugHistory,
    Speech,
    TaggedPassage,
    Version,
)

PUBLISH_PERMISSION = "speeches.publish_speech"
MERGE_SEPARATOR = "\n\n"

_changeset_date: ContextVar[dt.datetime | None] = ContextVar("changeset_date", default=None)


@contextmanager
def changeset() -> Iterator[None]:
    """One transaction whose history rows all carry the same date.

    An edit that touches several rows (a split writes two texts, a passage and
    its themes) then reads as one step in history, and reverting to "right
    after that change" (`history.as_of(date)`) includes all of it. Nested
    changesets share the outer date.
    """
    if _changeset_date.get() is not None:
        with transaction.atomic():
            yield
        return
    token = _changeset_date.set(timezone.now())
    try:
        with transaction.atomic():
            yield
    finally:
        _changeset_date.reset(token)


def _stamp_history(sender, history_instance, **kwargs) -> None:
    when = _changeset_date.get()
    if when is not None:
        history_instance.history_date = when


pre_create_historical_record.connect(_stamp_history, dispatch_uid="speeches.services.changeset")


def _save(obj: models.Model, *, user=None, reason: str = "") -> None:
    """Save with the history user and change reason simple-history records."""
    if user is not None:
        obj._history_user = user
    if reason:
        obj._change_reason = reason
    obj.save()


def _delete(obj: models.Model, *, user=None, reason: str = "") -> None:
    if user is not None:
        obj._history_user = user
    if reason:
        obj._change_reason = reason
    obj.delete()


def _lock_speech(speech_id: int) -> Speech:
    """Serialize structural edits of one speech (positions, keys)."""
    return Speech.objects.select_for_update().get(pk=speech_id)


def _shift_positions(*, speech_id: int, from_position: int, delta: int) -> None:
    Passage.objects.filter(speech_id=speech_id, position__gte=from_position).update(
        position=F("position") + delta
    )


# ---------------------------------------------------------------- speeches


def publish_speech(*, speech: Speech, user) -> Speech:
    """Make a speech public. `published_at` records the first publication and is
    kept when a withdrawn speech is published again."""
    if user is None or not user.has_perm(PUBLISH_PERMISSION):
        raise PermissionDenied("Only publishers may publish speeches.")
    with changeset():
        speech = _lock_speech(speech.pk)
        speech.status = Speech.Status.PUBLISHED
        speech.withdrawn_reason = ""
        if speech.published_at is None:
            speech.published_at = timezone.now()
        _save(speech, user=user, reason="Published")
    return speech


def withdraw_speech(*, speech: Speech, user, reason: str) -> Speech:
    """Withdraw a speech: it answers 410 with a tombstone; nothing is deleted."""
    if user is None or not user.has_perm(PUBLISH_PERMISSION):
        raise PermissionDenied("Only publishers may withdraw speeches.")
    if not reason.strip():
        raise ValidationError("A reason is required to withdraw a speech.")
    with changeset():
        speech = _lock_speech(speech.pk)
        speech.status = Speech.Status.WITHDRAWN
        speech.withdrawn_reason = reason.strip()
        _save(speech, user=user, reason=f"Withdrawn: {reason.strip()}")
    return speech


def change_speech_slug(*, speech: Speech, new_slug: str, user=None) -> Speech:
    """Rename a speech's slug; the old slug keeps answering 301 forever.

    Returning to one of the speech's own earlier slugs removes that old entry
    (it is the current slug again). A slug ever used by another speech is refused.
    """
    if new_slug != slugify(new_slug) or not new_slug:
        raise ValidationError(f"{new_slug!r} is not a valid slug.")
    with changeset():
        speech = _lock_speech(speech.pk)
        old_slug = speech.slug
        if new_slug == old_slug:
            return speech
        if Speech.objects.filter(slug=new_slug).exclude(pk=speech.pk).exists():
            raise ValidationError(f"The slug {new_slug!r} belongs to another speech.")
        previous = SlugHistory.objects.filter(old_slug=new_slug).first()
        if previous is not None and previous.speech_id != speech.pk:
            raise ValidationError(
                f"The slug {new_slug!r} was used by another speech; old links must keep working."
            )
        if previous is not None:
            previous.delete()
        SlugHistory.objects.create(old_slug=old_slug, speech=speech)
        speech.slug = new_slug
        _save(speech, user=user, reason=f"Slug changed from {old_slug}")
    return speech


# ---------------------------------------------------------------- passages


def _check_versions(speech_id: int, versions: Iterable[Version]) -> None:
    for version in versions:
        if version.speech_id != speech_id:
            raise ValidationError(f"Version {version} does not belong to this speech.")


def insert_passage(
    *,
    speech: Speech,
    after: Passage | None,
    texts: dict[Version, str],
    turn_speaker: str = "",
    user=None,
) -> Passage:
    """Insert a new passage after `after` (None: at the start) with a fresh key."""
    texts = {version: text.strip() for version, text in texts.items() if text.strip()}
    if not texts:
        raise ValidationError("A new passage needs text in at least one version.")
    _check_versions(speech.pk, texts)
    with changeset():
        _lock_speech(speech.pk)
        if after is not None:
            after = Passage.objects.get(pk=after.pk)
            if after.speech_id != speech.pk:
                raise ValidationError("That passage belongs to another speech.")
        position = after.position + 1 if after is not None else 1
        _shift_positions(speech_id=speech.pk, from_position=position, delta=1)
        (key,) = Passage.objects.allocate_keys(1)
        passage = Passage(speech=speech, key=key, position=position, turn_speaker=turn_speaker)
        _save(passage, user=user, reason="Inserted")
        for version, text in texts.items():
            _save(PassageText(passage=passage, version=version, text=text), user=user)
    return passage


_MARKER = re.compile(r"\[\^(\d+)\]")


def _squash(text: str) -> str:
    return "".join(text.split())


def split_passage(
    *,
    passage: Passage,
    version_splits: dict[Version, tuple[str, str]],
    user=None,
) -> tuple[Passage, Passage]:
    """Split a passage in two; the first part keeps the key, the second gets a new one.

    `version_splits` maps a version to (head, tail). head + tail must be that
    version's text (whitespace aside): a split never edits words. A version not
    given keeps its whole text on the first part; an empty tail leaves the
    second part without text in that version. Footnotes whose `[^n]` marker
    moved follow the second part; quoted annotations found in the tail move
    with it; the second part gets the same themes.
    """
    with changeset():
        _lock_speech(passage.speech_id)
        passage = Passage.objects.get(pk=passage.pk)
        _check_versions(passage.speech_id, version_splits)
        current = {pt.version_id: pt for pt in passage.texts.all()}
        cleaned: dict[int, tuple[str, str]] = {}
        for version, (head, tail) in version_splits.items():
            passage_text = current.get(version.pk)
            if passage_text is None:
                raise ValidationError(f"This passage has no text in {version.code}.")
            head, tail = head.rstrip(), tail.strip()
            if _squash(head + tail) != _squash(passage_text.text):
                raise ValidationError(
                    f"{version.code}: the two parts must add up to the passage's text."
                )
            if not head.strip():
                raise ValidationError(f"{version.code}: the first part would be empty.")
            cleaned[version.pk] = (head, tail)
        if not any(tail for _, tail in cleaned.values()):
            raise ValidationError("Nothing to split off: every second part is empty.")

        _shift_positions(speech_id=passage.speech_id, from_position=passage.position + 1, delta=1)
        (key,) = Passage.objects.allocate_keys(1)
        second = Passage(
            speech_id=passage.speech_id,
            key=key,
            position=passage.position + 1,
            turn_speaker=passage.turn_speaker,
        )
        _save(second, user=user, reason=f"Split from {passage.key}")
        for tag in passage.themes.all():
            _save(TaggedPassage(content_object=second, tag=tag), user=user)

        for version_id, (head, tail) in cleaned.items():
            passage_text = current[version_id]
            passage_text.text = head
            _save(passage_text, user=user, reason=f"Split: rest moved to {key}")
            if tail:
                _save(PassageText(passage=second, version_id=version_id, text=tail), user=user)
            moved = {int(n) for n in _MARKER.findall(tail)} - {
                int(n) for n in _MARKER.findall(head)
            }
            for footnote in Footnote.objects.filter(
                passage=passage, version_id=version_id, number__in=moved
            ):
                footnote.passage = second
                _save(footnote, user=user, reason=f"Marker moved to {key} by a split")
            for annotation in Annotation.objects.filter(
                passage=passage, version_id=version_id
            ).exclude(exact=""):
                if _quote_in_tail(annotation, head, tail):
                    annotation.passage = second
                    if annotation.start is not None:
                        annotation.start = max(0, annotation.start - len(head))
                    _save(annotation, user=user, reason=f"Quote moved to {key} by a split")
        reanchor_annotations(passage=passage)
        reanchor_annotations(passage=second)
    return passage, second


def _quote_in_tail(annotation: Annotation, head: str, tail: str) -> bool:
    def find(text: str, hint: int | None) -> tuple[int, int] | None:
        return locate_quote(
            text,
            exact=annotation.exact,
            prefix=annotation.prefix,
            suffix=annotation.suffix,
            start_hint=hint,
        )

    hint = annotation.start
    in_head = find(head, hint)
    tail_hint = None if hint is None else max(0, hint - len(head))
    in_tail = find(tail, tail_hint)
    if in_tail is None:
        return False
    if in_head is None:
        return True
    # Both parts contain the quote: the old offset decides.
    return hint is not None and hint >= len(head)


def _repoint_redirects(*, old: Passage, new: Passage | None, correction=None) -> None:
    """Redirects to a passage that goes away follow it (or become tombstones)."""
    for redirect in PassageRedirect.objects.filter(passage=old):
        redirect.passage = new
        if new is None:
            redirect.reason = PassageRedirect.Reason.REMOVED
            redirect.correction = correction
        redirect.save()


def merge_passages(*, first: Passage, second: Passage, user=None) -> Passage:
    """Merge `second` (the next passage) into `first`; `first` keeps its key.

    Texts are joined with a blank line; themes, footnotes, annotations,
    corrections and coverage of the second move to the first, its key
    redirects to the first, and it is deleted.
    """
    with changeset():
        _lock_speech(first.speech_id)
        first = Passage.objects.get(pk=first.pk)
        second = Passage.objects.get(pk=second.pk)
        if first.speech_id != second.speech_id or second.position != first.position + 1:
            raise ValidationError("Only a passage and the one right after it can be merged.")
        first_texts = {pt.version_id: pt for pt in first.texts.all()}
        offsets: dict[int, int] = {}
        for second_text in second.texts.all():
            first_text = first_texts.get(second_text.version_id)
            if first_text is None:
                second_text.passage = first
                _save(second_text, user=user, reason=f"Merged from {second.key}")
                offsets[second_text.version_id] = 0
            else:
                offsets[second_text.version_id] = len(first_text.text) + len(MERGE_SEPARATOR)
                first_text.text = first_text.text + MERGE_SEPARATOR + second_text.text
                _save(first_text, user=user, reason=f"Merged with {second.key}")
        reason = f"Moved from {second.key} by a merge"
        for annotation in second.annotations.all():
            annotation.passage = first
            if annotation.start is not None:
                annotation.start += offsets.get(annotation.version_id, 0)
            _save(annotation, user=user, reason=reason)
        for footnote in second.footnotes.all():
            footnote.passage = first
            _save(footnote, user=user, reason=reason)
        for correction in second.corrections.all():
            correction.passages.add(first)
        for coverage in second.coverage.all():
            coverage.passages.add(first)
        have = set(first.themes.values_list("pk", flat=True))
        for tag in second.themes.all():
            if tag.pk not in have:
                _save(TaggedPassage(content_object=first, tag=tag), user=user, reason=reason)
        _repoint_redirects(old=second, new=first)
        PassageRedirect.objects.create(
            old_key=second.key,
            passage=first,
            speech_id=first.speech_id,
            reason=PassageRedirect.Reason.MERGED,
            old_position=second.position,
        )
        old_position = second.position
        _delete(second, user=user, reason=f"Merged into {first.key}")
        _shift_positions(speech_id=first.speech_id, from_position=old_position + 1, delta=-1)
        reanchor_annotations(passage=first)
    return first


def delete_passage(*, passage: Passage, reason: str, user=None) -> PassageRedirect:
    """Remove a passage, leaving a tombstone redirect and a dated Correction.

    Never loses an edit: its annotations are re-attached to the previous
    passage (or the next, for the first one) and flagged orphaned for editors
    to review; its footnotes stay on their version, unplaced. A speech's only
    passage with annotations cannot be deleted (there is nowhere to keep them).
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError("A reason is required to delete a passage.")
    with changeset():
        _lock_speech(passage.speech_id)
        passage = Passage.objects.select_related("speech").get(pk=passage.pk)
        siblings = Passage.objects.filter(speech_id=passage.speech_id)
        neighbour = (
            siblings.filter(position__lt=passage.position).order_by("-position").first()
            or siblings.filter(position__gt=passage.position).order_by("position").first()
        )
        annotations = list(passage.annotations.all())
        if annotations and neighbour is None:
            raise ValidationError(
                "This is the speech's only passage and it has annotations: "
                "delete or move them first."
            )
        today = timezone.localdate()
        description = f"Removed passage ¶{passage.position} ({passage.key}): {reason}"
        corrections = []
        texts = passage.texts.select_related("version").order_by("-version__is_original", "pk")
        for passage_text in texts:
            if not passage_text.version.has_text:
                continue
            correction = Correction(
                version=passage_text.version, date=today, description=description
            )
            _save(correction, user=user)
            corrections.append(correction)
        main_correction = corrections[0] if corrections else None
        for annotation in annotations:
            annotation.passage = neighbour
            annotation.is_orphaned = True
            _save(annotation, user=user, reason=f"Passage {passage.key} removed: {reason}")
        for footnote in passage.footnotes.all():
            footnote.passage = None
            _save(footnote, user=user, reason=f"Passage {passage.key} removed")
        _repoint_redirects(old=passage, new=None, correction=main_correction)
        tombstone = PassageRedirect.objects.create(
            old_key=passage.key,
            passage=None,
            speech_id=passage.speech_id,
            reason=PassageRedirect.Reason.REMOVED,
            old_position=passage.position,
            correction=main_correction,
        )
        old_position = passage.position
        _delete(passage, user=user, reason=f"Removed: {reason}")
        _shift_positions(speech_id=tombstone.speech_id, from_position=old_position + 1, delta=-1)
    return tombstone


def update_passage_text(*, passage_text: PassageText, text: str, user=None) -> PassageText:
    """Save a new text (recorded in history) and re-anchor the passage's annotations."""
    with changeset():
        passage_text.text = text
        _save(passage_text, user=user)
        reanchor_annotations(passage=passage_text.passage)
    return passage_text


# ---------------------------------------------------------------- themes


def _tags_for(names: Iterable[str]) -> list[Tag]:
    """Existing tags matched case-insensitively (TAGGIT_CASE_INSENSITIVE), else new."""
    tags: list[Tag] = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            tag = Tag.objects.create(name=name)
        if tag not in tags:
            tags.append(tag)
    return tags


def tag_passages(*, passages: Iterable[Passage], themes: list[str], user=None) -> int:
    """Add themes to passages; returns how many (passage, theme) links were added."""
    added = 0
    with changeset():
        tags = _tags_for(themes)
        for passage in passages:
            have = set(
                TaggedPassage.objects.filter(content_object=passage).values_list(
                    "tag_id", flat=True
                )
            )
            for tag in tags:
                if tag.pk not in have:
                    _save(TaggedPassage(content_object=passage, tag=tag), user=user)
                    added += 1
    return added


def untag_passages(*, passages: Iterable[Passage], themes: list[str], user=None) -> int:
    """Remove themes from passages (each removal recorded in history)."""
    names = [name.strip().lower() for name in themes if name.strip()]
    removed = 0
    with changeset():
        for passage in passages:
            links = TaggedPassage.objects.filter(content_object=passage).select_related("tag")
            for link in links:
                if link.tag.name.lower() in names:
                    _delete(link, user=user)
                    removed += 1
    return removed


# ---------------------------------------------------------------- history


def revert_passage(*, passage: Passage, as_of: dt.datetime, user=None) -> Passage:
    """Restore a passage's texts, turn speaker and themes as they were at `as_of`.

    The revert is an ordinary edit: it writes new history rows, so it can
    itself be reverted. Texts that did not exist then are removed (history
    keeps them); annotations are re-anchored, never deleted.
    """
    with changeset():
        _lock_speech(passage.speech_id)
        passage = Passage.objects.get(pk=passage.pk)
        try:
            then = passage.history.as_of(as_of)
        except Passage.DoesNotExist as e:
            raise ValidationError("This passage did not exist at that time.") from e
        reason = f"Reverted to {as_of.isoformat(timespec='seconds')}"
        if then.turn_speaker != passage.turn_speaker:
            passage.turn_speaker = then.turn_speaker
            _save(passage, user=user, reason=reason)

        old_texts = {
            pt.version_id: pt.text
            for pt in PassageText.history.as_of(as_of)
            .filter(passage_id=passage.pk)
            .order_by("history_date", "history_id")  # the last row of a changeset wins
        }
        live_versions = set(
            Version.objects.filter(speech_id=passage.speech_id).values_list("pk", flat=True)
        )
        current = {pt.version_id: pt for pt in passage.texts.all()}
        for version_id, text in old_texts.items():
            if version_id not in live_versions:
                continue
            passage_text = current.get(version_id)
            if passage_text is None:
                passage_text = PassageText(passage=passage, version_id=version_id, text=text)
                _save(passage_text, user=user, reason=reason)
            elif passage_text.text != text:
                passage_text.text = text
                _save(passage_text, user=user, reason=reason)
        for version_id, passage_text in current.items():
            if version_id not in old_texts:
                _delete(passage_text, user=user, reason=reason)

        old_tags = {
            link.tag_id
            for link in TaggedPassage.history.as_of(as_of).filter(content_object_id=passage.pk)
        }
        current_links = {
            link.tag_id: link for link in TaggedPassage.objects.filter(content_object=passage)
        }
        # A theme deleted since then cannot come back; the others do.
        existing_tags = set(Tag.objects.filter(pk__in=old_tags).values_list("pk", flat=True))
        for tag_id in (old_tags & existing_tags) - set(current_links):
            _save(TaggedPassage(content_object=passage, tag_id=tag_id), user=user, reason=reason)
        for tag_id, link in current_links.items():
            if tag_id not in old_tags:
                _delete(link, user=user, reason=reason)
        reanchor_annotations(passage=passage)
    return passage
