"""The archive's data model (see DESIGN.md, "Data model").

A Speech is the event; each Version is one text of it (the original or a
translation); Passages are the alignment unit shared by all versions, each with
an immutable opaque key, and PassageText holds one passage's text in one version.
"""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import connections, models
from django.db.models import Case, F, Func, Q, Value, When
from django.db.models.functions import MD5, Cast
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase

from speeches import textnorm


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def new_passage_key() -> str:
    """A short opaque base32 key (40 random bits); never derived from position."""
    return base64.b32encode(secrets.token_bytes(5)).decode("ascii").lower()


# ---------------------------------------------------------------- search columns


class SearchTokensField(models.TextField):
    """The search tokens of another field (textnorm.index_tokens), recomputed
    by every save() and bulk_create(); never edited by hand."""

    def __init__(self, *args, source: str = "text", cjk_only: bool = False, **kwargs):
        self.source = source
        self.cjk_only = cjk_only
        kwargs["editable"] = False
        kwargs.setdefault("default", "")
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        kwargs["source"] = self.source
        if self.cjk_only:
            kwargs["cjk_only"] = True
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = textnorm.index_tokens(
            getattr(model_instance, self.source) or "", cjk_only=self.cjk_only
        )
        setattr(model_instance, self.attname, value)
        return value


class SearchSourceField(models.UUIDField):
    """md5 of the text the tokens were computed from (textnorm.text_digest); a
    CHECK constraint compares it with md5(text), so tokens cannot go stale."""

    def __init__(self, *args, source: str = "text", **kwargs):
        self.source = source
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        kwargs["source"] = self.source
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = textnorm.text_digest(getattr(model_instance, self.source) or "")
        setattr(model_instance, self.attname, value)
        return value


def search_update_fields(instance: models.Model, update_fields, source: str, derived: tuple):
    """save()'s update_fields, with the derived search columns added whenever
    the source field is written (also for instances loaded with .only())."""
    if update_fields is None:
        deferred = instance.get_deferred_fields()
        if not deferred or source in deferred or instance._state.adding:
            return None
        loaded = [
            f.name
            for f in instance._meta.concrete_fields
            if f.attname not in deferred and not f.primary_key and not f.generated
        ]
        return {*loaded, *derived}
    names = set(update_fields)
    return names | set(derived) if source in names else update_fields


# ---------------------------------------------------------------- speakers


class Speaker(TimeStamped):
    name = models.CharField(max_length=200)
    name_original = models.CharField(
        max_length=200, blank=True, help_text="Name in the original script, e.g. 习近平."
    )
    slug = models.SlugField(max_length=200, unique=True)
    bio = models.TextField(blank=True, help_text="Short biography (Markdown).")
    roles = models.CharField(max_length=300, blank=True, help_text="E.g. 'General Secretary'.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("speeches:speaker", kwargs={"slug": self.slug})


# ---------------------------------------------------------------- speeches


class SpeechQuerySet(models.QuerySet):
    def public(self) -> SpeechQuerySet:
        return self.filter(status=Speech.Status.PUBLISHED)

    def for_list(self) -> SpeechQuerySet:
        return self.select_related("speaker").prefetch_related("versions")


class TaggedSpeech(TaggedItemBase):
    """Explicit through model so that tag changes are recorded in history."""

    content_object = models.ForeignKey("Speech", on_delete=models.CASCADE)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_object", "tag"], name="tagged_speech_once")
        ]


class Speech(TimeStamped):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Kind(models.TextChoices):
        SPEECH = "speech", _("Speech")
        INTERVIEW = "interview", _("Interview")
        ARTICLE = "article", _("Article")
        PRESS_CONFERENCE = "press-conference", _("Press conference")
        LETTER = "letter", _("Letter")
        REPORT = "report", _("Report")
        STATEMENT = "statement", _("Statement")
        DEBATE = "debate", _("Debate")
        OTHER = "other", _("Other")

    class DatePrecision(models.TextChoices):
        DAY = "day", _("Day")
        MONTH = "month", _("Month")
        YEAR = "year", _("Year")

    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=200, unique=True, allow_unicode=False)
    speaker = models.ForeignKey(Speaker, on_delete=models.PROTECT, related_name="speeches")
    delivered_on = models.DateField()
    date_precision = models.CharField(
        max_length=5, choices=DatePrecision.choices, default=DatePrecision.DAY
    )
    occasion = models.CharField(max_length=500, blank=True)
    place = models.CharField(max_length=200, blank=True)
    original_language = models.CharField(max_length=20, help_text="BCP 47, e.g. zh-Hans, en.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SPEECH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    nickname = models.CharField(max_length=200, blank=True, help_text='E.g. "4.20 speech".')
    summary = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)

    themes = TaggableManager(through=TaggedSpeech, blank=True, verbose_name="themes")
    collections = models.ManyToManyField(
        "Collection", through="CollectionItem", related_name="speeches", blank=True
    )

    # Search (speeches/search.py): the title's CJK bigrams, computed on save,
    # and a vector PostgreSQL generates from them and the title.
    search_title_tokens = SearchTokensField(source="title", cjk_only=True)
    search_title_source = SearchSourceField(source="title")
    search_vector = models.GeneratedField(
        expression=SearchVector("title", config="english", weight="A")
        + SearchVector("search_title_tokens", config="simple", weight="A"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    # Bumped by PostgreSQL triggers (migration 0005) on any change to a row the
    # reading page shows; the page's cache key (speeches/reading.py). Never
    # written by hand: whatever save() sends, the triggers decide.
    content_version = models.BigIntegerField(default=0, editable=False)

    objects = SpeechQuerySet.as_manager()
    history = HistoricalRecords(
        excluded_fields=[
            "updated_at",
            "search_title_tokens",
            "search_title_source",
            "search_vector",
            "content_version",
        ]
    )

    class Meta:
        ordering = ["-delivered_on", "-pk"]
        permissions = [("publish_speech", "Can publish and withdraw speeches")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published", "withdrawn"]),
                name="speech_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(date_precision__in=["day", "month", "year"]),
                name="speech_date_precision_valid",
            ),
            models.CheckConstraint(condition=~Q(slug=""), name="speech_slug_not_empty"),
            # The title's search tokens were computed from this very title.
            models.CheckConstraint(
                condition=Q(search_title_source=Cast(MD5("title"), models.UUIDField())),
                name="speech_search_tokens_current",
            ),
        ]
        indexes = [
            # Public list pages and feeds: newest published first.
            models.Index(
                fields=["-delivered_on", "-id"],
                name="speech_public_by_date",
                condition=Q(status="published"),
            ),
            GinIndex(
                fields=["search_vector"], name="speech_search", condition=Q(status="published")
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        kwargs["update_fields"] = search_update_fields(
            self,
            kwargs.get("update_fields"),
            "title",
            ("search_title_tokens", "search_title_source"),
        )
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("speeches:speech", kwargs={"slug": self.slug})

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.PUBLISHED


class Version(TimeStamped):
    """One text of a speech: the original, or a translation."""

    speech = models.ForeignKey(Speech, on_delete=models.CASCADE, related_name="versions")
    code = models.SlugField(
        max_length=40,
        help_text="Short label unique within the speech, used in URLs (?left=en). "
        "Usually the language code.",
    )
    language = models.CharField(max_length=20, help_text="BCP 47: zh-Hans, zh-Hant, en…")
    is_original = models.BooleanField(default=False)
    title = models.CharField(max_length=500)
    translators = models.CharField(max_length=500, blank=True)
    editor = models.CharField(max_length=300, blank=True)
    introduction = models.TextField(blank=True, help_text="Markdown.")
    source_name = models.CharField(max_length=300, blank=True, help_text="E.g. Qiushi.")
    source_url = models.URLField(max_length=1000, blank=True)
    licence = models.CharField(max_length=300, blank=True)
    published_on = models.DateField(null=True, blank=True)
    has_text = models.BooleanField(
        default=True,
        help_text="False when only the source is recorded (e.g. an original we cannot republish).",
    )

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["speech", "-is_original", "code", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["speech", "code"], name="version_code_unique"),
            models.UniqueConstraint(
                fields=["speech"], condition=Q(is_original=True), name="version_one_original"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} [{self.code}]"


# ---------------------------------------------------------------- passages


class PassageQuerySet(models.QuerySet):
    def public(self) -> PassageQuerySet:
        return self.filter(speech__status=Speech.Status.PUBLISHED)

    def allocate_keys(self, count: int) -> list[str]:
        """Fresh keys never used by a passage nor by a retired (redirected) key."""
        # One query per round, both tables at once, the candidates as one array
        # parameter: an importer calls this for every speech it writes.
        sql = (
            f"SELECT key FROM {Passage._meta.db_table} WHERE key = ANY(%s) "
            f"UNION ALL SELECT old_key FROM {PassageRedirect._meta.db_table} "
            "WHERE old_key = ANY(%s)"
        )
        keys: set[str] = set()
        while len(keys) < count:
            candidates = list({new_passage_key() for _ in range(count - len(keys))} - keys)
            with connections[self.db].cursor() as cursor:
                cursor.execute(sql, [candidates, candidates])
                taken = {row[0] for row in cursor.fetchall()}
            keys.update(key for key in candidates if key not in taken)
        return list(keys)


class TaggedPassage(TaggedItemBase):
    """Editors tag passages by theme; an explicit through model keeps tag history."""

    content_object = models.ForeignKey("Passage", on_delete=models.CASCADE)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_object", "tag"], name="tagged_passage_once")
        ]


class Passage(TimeStamped):
    speech = models.ForeignKey(Speech, on_delete=models.CASCADE, related_name="passages")
    key = models.CharField(max_length=16, unique=True, default=new_passage_key, editable=False)
    position = models.PositiveIntegerField()
    turn_speaker = models.CharField(max_length=200, blank=True)
    themes = TaggableManager(through=TaggedPassage, blank=True, verbose_name="themes")

    objects = PassageQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["speech", "position", "pk"]
        constraints = [
            # Deferred so that services can renumber positions inside one transaction.
            models.UniqueConstraint(
                fields=["speech", "position"],
                name="passage_position_unique",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.CheckConstraint(condition=Q(position__gte=1), name="passage_position_positive"),
        ]

    def __str__(self) -> str:
        return f"¶{self.position} ({self.key})"

    def get_absolute_url(self) -> str:
        return reverse("speeches:passage", kwargs={"key": self.key})


# Columns of PassageText that only search reads (kept out of its history).
SEARCH_TEXT_FIELDS = (
    "search_tokens",
    "search_source",
    "search_lang",
    "search_public",
    "search_speech_id",
    "search_speaker_id",
    "search_date",
    "search_kind",
    "search_vector",
)


class PassageTextQuerySet(models.QuerySet):
    def public(self) -> PassageTextQuerySet:
        return self.filter(passage__speech__status=Speech.Status.PUBLISHED)

    def update(self, **kwargs) -> int:
        # A literal new text brings its search tokens along (a CHECK constraint
        # refuses a text without them; an expression needs save() instead).
        text = kwargs.get("text")
        if isinstance(text, str) and "search_tokens" not in kwargs:
            kwargs["search_tokens"] = textnorm.index_tokens(text)
            kwargs["search_source"] = textnorm.text_digest(text)
        return super().update(**kwargs)


# The speech date as a day number: the GIN search indexes' second column.
# search.py writes its conditions with the same SQL, or the planner would not
# match them to the index.
DAY_NUMBER_SQL = "({date} - DATE '1970-01-01')"
SEARCH_DAY = Func(
    F("search_date"),
    template=DAY_NUMBER_SQL.format(date="%(expressions)s"),
    output_field=models.IntegerField(),
)

# Each lexeme of a search vector with the next one and the distance between
# them ("govern peopl 3" for "government of the people"), by the function of
# migration 0008: the English phrase index's expression.
WORD_PAIRS = Func(
    F("search_vector"), function="speeches_word_pairs", output_field=SearchVectorField()
)


class PassageText(TimeStamped):
    """A passage's text in one version."""

    passage = models.ForeignKey(Passage, on_delete=models.CASCADE, related_name="texts")
    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="texts")
    text = models.TextField()

    # Search (speeches/search.py, DESIGN.md "Search"); nothing here is written
    # by hand. `search_tokens`/`search_source` are computed from `text` in
    # Python on save (and by the importer's fast path); the filter columns are
    # copies of the passage's speech and version that PostgreSQL triggers keep
    # (migration 0003); `search_vector` is generated by PostgreSQL.
    search_tokens = SearchTokensField(source="text")
    search_source = SearchSourceField(source="text")
    search_lang = models.CharField(max_length=20, default="", editable=False)
    search_public = models.BooleanField(default=False, editable=False)
    search_speech_id = models.BigIntegerField(null=True, editable=False)
    search_speaker_id = models.BigIntegerField(null=True, editable=False)
    search_date = models.DateField(null=True, editable=False)
    search_kind = models.CharField(max_length=20, default="", editable=False)
    search_vector = models.GeneratedField(
        expression=Case(
            When(
                search_lang="en",
                then=SearchVector("text", config="english")
                + SearchVector(
                    Func(
                        F("search_tokens"),
                        Value(textnorm.NON_CJK_TOKENS_RE),
                        Value(""),
                        Value("g"),
                        function="regexp_replace",
                        output_field=models.TextField(),
                    ),
                    config="simple",
                ),
            ),
            default=SearchVector("search_tokens", config="simple"),
            output_field=SearchVectorField(),
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = PassageTextQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at", *SEARCH_TEXT_FIELDS])

    class Meta:
        ordering = ["passage__position", "version", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["passage", "version"], name="passage_text_unique"),
            # The search tokens were computed from this very text: a write that
            # changes `text` without them fails instead of leaving them stale.
            models.CheckConstraint(
                condition=Q(search_source=Cast(MD5("text"), models.UUIDField())),
                name="passage_text_search_tokens_current",
            ),
        ]
        indexes = [
            # One GIN index per configuration: English rows are matched with an
            # `english` query, all others with the `simple` (bigram) query. The
            # day number (btree_gin, migration 0002) lets one index scan take
            # only the matches of a few newest days: a frequent word's newest
            # matches without a bitmap of all of them (docs/search.md, "Bounded
            # work"). A day number, not `search_date` itself: a year filter over
            # `search_date` must not reach this index (GIN ORs every day of a
            # range into a bitmap first: 60 ms for a decade at 1M).
            GinIndex(
                F("search_vector"),
                SEARCH_DAY,
                name="passage_text_search_en",
                condition=Q(search_public=True, search_lang="en"),
            ),
            GinIndex(
                F("search_vector"),
                SEARCH_DAY,
                name="passage_text_search_other",
                condition=Q(search_public=True) & ~Q(search_lang="en"),
            ),
            # Word pairs (migration 0008): a phrase of frequent words looks up
            # its rare pairs instead of intersecting long posting lists.
            GinIndex(
                WORD_PAIRS,
                SEARCH_DAY,
                name="passage_text_search_pairs",
                condition=Q(search_public=True, search_lang="en"),
            ),
            # Date walks for frequent words and date sorts (one per configuration,
            # like the GIN indexes); per-speaker and per-speech scopes.
            models.Index(
                fields=["-search_date", "-id"],
                name="passage_text_search_date_en",
                condition=Q(search_public=True, search_lang="en"),
            ),
            models.Index(
                fields=["-search_date", "-id"],
                name="passage_text_search_date_other",
                condition=Q(search_public=True) & ~Q(search_lang="en"),
            ),
            models.Index(
                fields=["search_speaker_id", "-search_date", "-id"],
                name="passage_text_search_speaker",
                condition=Q(search_public=True),
            ),
            models.Index(
                fields=["search_speech_id"],
                name="passage_text_search_speech",
                condition=Q(search_public=True),
            ),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    def save(self, *args, **kwargs) -> None:
        kwargs["update_fields"] = search_update_fields(
            self, kwargs.get("update_fields"), "text", ("search_tokens", "search_source")
        )
        super().save(*args, **kwargs)


class Footnote(TimeStamped):
    class Kind(models.TextChoices):
        EDITOR = "editor", _("Editor's note")
        TRANSLATOR = "translator", _("Translators' note")
        AUTHOR = "author", _("Author's note")
        SOURCE = "source", _("Source note")

    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="footnotes")
    passage = models.ForeignKey(
        Passage,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="footnotes",
        help_text="The passage where the marker [^n] stands.",
    )
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.EDITOR)
    body = models.TextField(help_text="Markdown.")

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["version", "number", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["version", "number"], name="footnote_number_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["editor", "translator", "author", "source"]),
                name="footnote_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.number}] {self.get_kind_display()}"


class AnnotationQuerySet(models.QuerySet):
    def public(self) -> AnnotationQuerySet:
        return self.filter(
            visibility=Annotation.Visibility.PUBLIC, passage__speech__status=Speech.Status.PUBLISHED
        )


class Annotation(TimeStamped):
    """An editor's note on a passage, optionally on a span anchored W3C-style.

    The anchor is a TextQuoteSelector (exact + prefix + suffix) with a
    TextPositionSelector hint (start offset). When an edit makes the quote
    unfindable the annotation is flagged orphaned, never deleted.
    """

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public")
        INTERNAL = "internal", _("Internal (editors only)")

    passage = models.ForeignKey(Passage, on_delete=models.PROTECT, related_name="annotations")
    version = models.ForeignKey(
        Version,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="annotations",
        help_text="The text the quote is anchored in (empty: the whole passage).",
    )
    body = models.TextField(help_text="Markdown.")
    exact = models.TextField(blank=True, help_text="The quoted span.")
    prefix = models.CharField(max_length=64, blank=True)
    suffix = models.CharField(max_length=64, blank=True)
    start = models.PositiveIntegerField(null=True, blank=True, help_text="Offset hint.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    is_orphaned = models.BooleanField(default=False)

    objects = AnnotationQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["passage", "start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=["public", "internal"]),
                name="annotation_visibility_valid",
            ),
            models.CheckConstraint(
                condition=Q(exact="") | Q(version__isnull=False),
                name="annotation_quote_needs_version",
            ),
        ]

    def __str__(self) -> str:
        return f"Annotation {self.pk} on {self.passage_id}"


class Correction(TimeStamped):
    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="corrections")
    date = models.DateField()
    description = models.TextField(help_text="What changed and why (Markdown).")
    passages = models.ManyToManyField(Passage, blank=True, related_name="corrections")

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["version", "date", "pk"]

    def __str__(self) -> str:
        return f"Correction of {self.date}"


class CoverageQuerySet(models.QuerySet):
    def public(self) -> CoverageQuerySet:
        return self.filter(speech__status=Speech.Status.PUBLISHED)


class Coverage(TimeStamped):
    """An external article about a speech; we keep a short excerpt, never the full text."""

    class Kind(models.TextChoices):
        NEWS = "news", _("News")
        ANALYSIS = "analysis", _("Analysis")

    speech = models.ForeignKey(
        Speech, on_delete=models.SET_NULL, null=True, blank=True, related_name="coverage"
    )
    outlet = models.CharField(max_length=200)
    title = models.CharField(max_length=500)
    url = models.URLField(max_length=1000, blank=True)
    published_on = models.DateField(null=True, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.NEWS)
    excerpt = models.TextField(blank=True)
    passages = models.ManyToManyField(Passage, blank=True, related_name="coverage")

    objects = CoverageQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-published_on", "pk"]
        verbose_name_plural = "coverage"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["news", "analysis"]), name="coverage_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outlet}: {self.title}"


# The glossary's stamp: one row, renewed by triggers on speeches_term whenever
# a change can alter what the public glossary links (migration 0005).
GLOSSARY_STAMP_SQL = "SELECT stamp FROM speeches_glossary_stamp"


class TermQuerySet(models.QuerySet):
    def public(self) -> TermQuerySet:
        return self.filter(status=Term.Status.CONFIRMED)


class Term(TimeStamped):
    """A glossary entry. Occurrences are found in the texts, not typed in."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", _("Candidate (to confirm)")
        CONFIRMED = "confirmed", _("Confirmed")

    original = models.CharField(max_length=100, unique=True, help_text="E.g. 网络强国.")
    slug = models.SlugField(max_length=200, unique=True, allow_unicode=True)
    pinyin = models.CharField(max_length=200, blank=True)
    translation = models.CharField(max_length=200, help_text='Preferred, e.g. "cyber superpower".')
    variants = models.TextField(blank=True, help_text="Other translations, one per line.")
    note = models.TextField(blank=True, help_text="Markdown.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CANDIDATE)
    first_seen_in = models.ForeignKey(
        Speech, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = TermQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["original", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["candidate", "confirmed"]), name="term_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original} ({self.translation})"

    def variant_list(self) -> list[str]:
        return [line.strip() for line in self.variants.splitlines() if line.strip()]


class Collection(TimeStamped):
    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True, help_text="Markdown.")

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["title", "pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("speeches:collection", kwargs={"slug": self.slug})


class CollectionItem(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    speech = models.ForeignKey(Speech, on_delete=models.CASCADE, related_name="collection_items")
    position = models.PositiveIntegerField(default=1)

    history = HistoricalRecords()

    class Meta:
        ordering = ["collection", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["collection", "speech"], name="collection_item_once"),
        ]

    def __str__(self) -> str:
        return f"{self.collection_id}#{self.position}"


# ---------------------------------------------------------------- permanence


class PassageRedirect(models.Model):
    """An old passage key: it points to the passage that now holds its text,
    or (target empty) records that the passage was removed, for a 410 page."""

    class Reason(models.TextChoices):
        SPLIT = "split", _("Split")
        MERGED = "merged", _("Merged")
        REIMPORT = "reimport", _("Re-import")
        REMOVED = "removed", _("Removed")

    old_key = models.CharField(max_length=16, unique=True)
    passage = models.ForeignKey(
        Passage, on_delete=models.CASCADE, null=True, blank=True, related_name="redirects"
    )
    speech = models.ForeignKey(Speech, on_delete=models.CASCADE, related_name="passage_redirects")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    correction = models.ForeignKey(
        Correction, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    old_position = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason="removed", passage__isnull=True)
                | (~Q(reason="removed") & Q(passage__isnull=False)),
                name="passage_redirect_target_matches_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.old_key} → {self.passage_id or 'gone'}"


class SlugHistory(models.Model):
    old_slug = models.SlugField(max_length=200, unique=True)
    speech = models.ForeignKey(Speech, on_delete=models.CASCADE, related_name="old_slugs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "pk"]
        verbose_name_plural = "slug history"

    def __str__(self) -> str:
        return f"{self.old_slug} → {self.speech_id}"


class StoredPage(models.Model):
    """A public page as last rendered, kept in PostgreSQL for every web process.

    `speeches.pagestore` writes and reads these; nothing else does. A row is
    only ever served under its exact `key`, which names everything the page
    shows (see `pagestore.generation`), so a stale row is never served — it is
    just garbage, removed when a newer generation of its speech is stored."""

    key = models.CharField(max_length=64, primary_key=True)
    speech = models.ForeignKey(Speech, on_delete=models.CASCADE, related_name="+")
    generation = models.CharField(max_length=200)
    body = models.BinaryField()  # gzip-compressed UTF-8 HTML
    stored_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key} ({self.speech_id})"
