"""The native import format: UTF-8 Markdown with YAML front matter, one file per
version. docs/import-format.md is the user-facing description; this module is
its reference implementation.

Parsing never touches the database. Every error is an ImportFormatError naming
the file and the 1-based line, so `import_speech` can say exactly what to fix.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from speeches.importers.alignment import align_versions
from speeches.importers.document import (
    CorrectionDoc,
    FootnoteDoc,
    ImportFormatError,
    Paragraph,
    SpeechDocument,
    VersionDoc,
)

# `### Speaker:` (or the full-width colon used in Chinese, `### 唐鳳：`). An empty
# name (`### :`) ends a turn without starting a named one.
SPEAKER_HEADING = re.compile(r"^###[ \t]+(.*?)[ \t]*[:：][ \t]*$|^###[ \t]*[:：][ \t]*$")
LABEL = re.compile(r"[ \t]*\{#([A-Za-z0-9][A-Za-z0-9_-]{0,15})\}[ \t]*$")
FOOTNOTE_DEFINITION = re.compile(r"^\[\^(\d+)\]:[ \t]*(.*)$")
FOOTNOTE_MARKER = re.compile(r"\[\^(\d+)\](?!:)")

# Prefixes of a footnote body that give its kind (Footnote.Kind values). The
# first entry of each kind is what the exporter writes.
FOOTNOTE_KINDS: list[tuple[str, str]] = [
    ("Editor's note:", "editor"),
    ("Translators' note:", "translator"),
    ("Author's note:", "author"),
    ("Source note:", "source"),
    ("Editors' note:", "editor"),
    ("Editor’s note:", "editor"),
    ("Translator's note:", "translator"),
    ("Translators’ note:", "translator"),
    ("Translator’s note:", "translator"),
    ("Author’s note:", "author"),
    ("Source:", "source"),
    ("编者注：", "editor"),
    ("編者注：", "editor"),
    ("译者注：", "translator"),
    ("譯者注：", "translator"),
    ("作者注：", "author"),
]
KIND_PREFIX = {kind: prefix for prefix, kind in reversed(FOOTNOTE_KINDS)}

SPEECH_FIELDS = {
    "speech",
    "speech_title",
    "speaker",
    "speaker_slug",
    "speaker_original",
    "date",
    "occasion",
    "place",
    "kind",
    "nickname",
    "summary",
    "themes",
    "collections",
    "status",
    "terms",
}
VERSION_FIELDS = {
    "title",
    "language",
    "code",
    "original",
    "translators",
    "editor",
    "source",
    "source_url",
    "licence",
    "published",
    "introduction",
    "corrections",
}
REQUIRED_IN_FILE = ("speech", "language")
# A version with a text needs a title; a text-less one (only its source is
# recorded, e.g. an original we may not reproduce) may not know it.
REQUIRED_WITH_TEXT = ("title",)
REQUIRED_IN_SPEECH = ("speaker", "date")


@dataclass
class _ParsedFile:
    path: str
    meta: dict[str, Any]
    meta_lines: dict[str, int]  # field -> line of its key, for messages
    paragraphs: list[Paragraph]
    footnotes: list[FootnoteDoc]
    version: VersionDoc
    footnote_lines: dict[int, int] = field(default_factory=dict)


def _error(message: str, path: str, line: int | None = None) -> ImportFormatError:
    return ImportFormatError(message, path=path, line=line)


def _decode(raw: bytes, path: str) -> str:
    if not raw.strip():
        raise _error("the file is empty", path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _error(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})", path, line
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _split_front_matter(text: str, path: str) -> tuple[str, list[str], int]:
    """Return (YAML text, body lines, line number of the first body line)."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        raise _error("the file must start with YAML front matter (a line '---')", path, 1)
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            return "\n".join(lines[1:index]), lines[index + 1 :], index + 2
    raise _error("front matter starts at line 1 but is never closed (no second '---' line)", path)


def _load_yaml(source: str, path: str) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 2 if mark is not None else None  # +1 for 1-based, +1 for '---'
        raise _error(f"invalid YAML in front matter: {problem}", path, line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _error("front matter must be a mapping of field: value", path, 2)
    lines: dict[str, int] = {}
    for number, line in enumerate(source.split("\n"), start=2):
        match = re.match(r"^([A-Za-z_]+)[ \t]*:", line)
        if match and match.group(1) not in lines:
            lines[match.group(1)] = number
    unknown = sorted(set(map(str, data)) - SPEECH_FIELDS - VERSION_FIELDS)
    if unknown:
        name = unknown[0]
        raise _error(f"unknown field '{name}'", path, lines.get(name))
    return data, lines


def _text(value: Any, name: str, path: str, line: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | list | dict):
        raise _error(f"field '{name}' must be text", path, line)
    return str(value).strip()


def _date(value: Any, name: str, path: str, line: int | None) -> tuple[dt.date, str]:
    """A date and its precision: 2018-05-28 (day), 2018-05 (month), 2018 (year)."""
    if isinstance(value, dt.datetime):
        return value.date(), "day"
    if isinstance(value, dt.date):
        return value, "day"
    raw = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            return dt.date.fromisoformat(raw), "day"
        if re.fullmatch(r"\d{4}-\d{2}", raw):
            return dt.date(int(raw[:4]), int(raw[5:]), 1), "month"
        if re.fullmatch(r"\d{4}", raw):
            return dt.date(int(raw), 1, 1), "year"
    except ValueError:
        pass
    raise _error(
        f"field '{name}' must be a date like 2018-05-28, 2018-05 or 2018, not {raw!r}", path, line
    )


def _string_list(value: Any, name: str, path: str, line: int | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        items = [str(v) for v in value]
    else:
        raise _error(f"field '{name}' must be a list of names", path, line)
    return [item.strip() for item in items if item.strip()]


def _escaped(line: str) -> bool:
    rest = line[1:]
    return line.startswith("\\") and bool(
        SPEAKER_HEADING.match(rest) or FOOTNOTE_DEFINITION.match(rest)
    )


def _footnote_kind(body: str) -> tuple[str, str]:
    for prefix, kind in FOOTNOTE_KINDS:
        if body.startswith(prefix):
            return kind, body[len(prefix) :].strip()
    return "editor", body


def _parse_body(
    lines: list[str], first_line: int, path: str
) -> tuple[list[Paragraph], list[FootnoteDoc], dict[int, int]]:
    """Paragraphs (with speakers and labels) and footnote definitions of a body."""
    blocks: list[tuple[int, str, list[str]]] = []  # (first line, kind, lines)
    current: list[str] | None = None
    for offset, line in enumerate(lines):
        number = first_line + offset
        heading = SPEAKER_HEADING.match(line)
        if _escaped(line):
            # A text line that would read as a heading or definition, escaped by "\\".
            if current is None:
                current = [line]
                blocks.append((number, "paragraph", current))
            else:
                current.append(line)
        elif heading:
            blocks.append((number, "speaker", [(heading.group(1) or "").strip()]))
            current = None
        elif not line.strip():
            current = None
        elif FOOTNOTE_DEFINITION.match(line):
            current = [line]
            blocks.append((number, "footnote", current))
        elif (
            current is None
            and line.startswith(("    ", "\t"))
            and blocks
            and blocks[-1][1] == "footnote"
        ):
            # An indented paragraph after a definition continues its body.
            current = blocks[-1][2]
            current.extend(["", line.strip()])
        elif current is None:
            current = [line]
            blocks.append((number, "paragraph", current))
        else:
            current.append(line)

    speaker = ""
    paragraphs: list[Paragraph] = []
    footnotes: dict[int, FootnoteDoc] = {}
    footnote_lines: dict[int, int] = {}
    labels: dict[str, int] = {}
    for number, kind, block in blocks:
        if kind == "speaker":
            speaker = block[0]
            continue
        if kind == "footnote":
            definition = FOOTNOTE_DEFINITION.match(block[0])
            assert definition is not None
            n = int(definition.group(1))
            if n in footnotes:
                raise _error(
                    f"footnote [^{n}] is defined twice (first at line {footnote_lines[n]})",
                    path,
                    number,
                )
            body_lines = [definition.group(2).strip(), *(ln.strip() for ln in block[1:])]
            body = "\n".join(body_lines).strip()
            body = re.sub(r"\n{3,}", "\n\n", body)
            note_kind, body = _footnote_kind(body)
            if not body:
                raise _error(f"footnote [^{n}] has an empty body", path, number)
            footnotes[n] = FootnoteDoc(number=n, kind=note_kind, body=body)
            footnote_lines[n] = number
            continue
        text = "\n".join(line[1:] if _escaped(line) else line for line in block).strip()
        label = None
        found = LABEL.search(text)
        if found:
            label = found.group(1)
            text = text[: found.start()].rstrip()
        if not text:
            raise _error("a label {#…} must follow some text", path, number)
        if (
            label is not None
            and paragraphs
            and paragraphs[-1].label == label
            and paragraphs[-1].turn_speaker == speaker
        ):
            # Consecutive paragraphs with one label form one passage.
            paragraphs[-1].text += "\n\n" + text
            continue
        if label is not None and label in labels:
            raise _error(
                f"label {{#{label}}} is used twice (first at line {labels[label]}); only "
                "consecutive paragraphs may share a label",
                path,
                number,
            )
        if label is not None:
            labels[label] = number
        paragraphs.append(Paragraph(text=text, turn_speaker=speaker, label=label, line=number))
    return paragraphs, sorted(footnotes.values(), key=lambda f: f.number), footnote_lines


def _check_footnotes(parsed: _ParsedFile) -> None:
    defined = {f.number for f in parsed.footnotes}
    referenced: set[int] = set()
    for paragraph in parsed.paragraphs:
        for offset, text_line in enumerate(paragraph.text.split("\n")):
            for match in FOOTNOTE_MARKER.finditer(text_line):
                n = int(match.group(1))
                if n not in defined:
                    line = (paragraph.line or 0) + offset if paragraph.line else None
                    raise _error(f"[^{n}] at line {line} has no definition", parsed.path, line)
                referenced.add(n)
    for footnote in parsed.footnotes:
        if footnote.number not in referenced:
            line = parsed.footnote_lines.get(footnote.number)
            raise _error(
                f"footnote [^{footnote.number}] is defined but never referenced", parsed.path, line
            )


def _corrections(value: Any, path: str, line: int | None) -> list[CorrectionDoc]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _error("field 'corrections' must be a list of {date, text}", path, line)
    result = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"date", "text"}:
            raise _error("each correction needs exactly 'date' and 'text'", path, line)
        date, precision = _date(item["date"], "corrections.date", path, line)
        if precision != "day":
            raise _error("a correction's date must be a full date like 2019-01-31", path, line)
        result.append(CorrectionDoc(date=date, description=_text(item["text"], "text", path, line)))
    return result


def parse_native_file(path: str) -> _ParsedFile:
    """Parse one file (one version); speech-level fields are resolved per group."""
    with open(path, "rb") as handle:
        raw = handle.read()
    text = _decode(raw, path)
    source, body, first_body_line = _split_front_matter(text, path)
    meta, lines = _load_yaml(source, path)
    for name in REQUIRED_IN_FILE:
        if meta.get(name) in (None, ""):
            raise _error(f"missing required field '{name}'", path, 1)

    def t(name: str) -> str:
        return _text(meta.get(name), name, path, lines.get(name))

    original = meta.get("original", False)
    if not isinstance(original, bool):
        raise _error("field 'original' must be true or false", path, lines.get("original"))
    published = None
    if meta.get("published") is not None:
        published, _ = _date(meta["published"], "published", path, lines.get("published"))
    url = t("source_url")
    if url and not re.match(r"https?://", url):
        raise _error(
            "field 'source_url' must start with http:// or https://", path, lines.get("source_url")
        )
    version = VersionDoc(
        code=t("code") or t("language"),
        language=t("language"),
        title=t("title"),
        is_original=original,
        translators=t("translators"),
        editor=t("editor"),
        introduction=t("introduction"),
        source_name=t("source"),
        source_url=url,
        licence=t("licence"),
        published_on=published,
        corrections=_corrections(meta.get("corrections"), path, lines.get("corrections")),
    )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", version.code):
        raise _error(
            f"version code {version.code!r} may only hold letters, digits, '-' and '_'",
            path,
            lines.get("code") or lines.get("language"),
        )
    paragraphs, footnotes, footnote_lines = _parse_body(body, first_body_line, path)
    parsed = _ParsedFile(path, meta, lines, paragraphs, footnotes, version, footnote_lines)
    _check_footnotes(parsed)
    version.has_text = bool(paragraphs)
    for name in REQUIRED_WITH_TEXT if version.has_text else ():
        if meta.get(name) in (None, ""):
            raise _error(f"missing required field '{name}'", path, 1)
    return parsed


def _speech_value(files: list[_ParsedFile], name: str) -> tuple[Any, _ParsedFile | None]:
    """The value of a speech-level field; all files that give it must agree."""
    found: tuple[Any, _ParsedFile] | None = None
    for parsed in files:
        if name not in parsed.meta or parsed.meta[name] in (None, ""):
            continue
        value = parsed.meta[name]
        if found is None:
            found = (value, parsed)
        elif value != found[0]:
            raise _error(
                f"field '{name}' is {value!r} here but {found[0]!r} in {found[1].path}",
                parsed.path,
                parsed.meta_lines.get(name),
            )
    return found if found is not None else (None, None)


def _build_document(slug: str, files: list[_ParsedFile]) -> SpeechDocument:
    first = files[0]
    codes: dict[str, _ParsedFile] = {}
    for parsed in files:
        code = parsed.version.code
        if code in codes:
            raise _error(
                f"speech '{slug}' has two files for version '{code}' (the other is "
                f"{codes[code].path})",
                parsed.path,
                parsed.meta_lines.get("code") or parsed.meta_lines.get("language"),
            )
        codes[code] = parsed
    originals = [p for p in files if p.version.is_original]
    if len(originals) > 1:
        raise _error(
            f"speech '{slug}' has two versions marked original (the other is {originals[0].path})",
            originals[1].path,
            originals[1].meta_lines.get("original"),
        )
    # The original (if any) is the pivot of the alignment and gives the title.
    ordered = originals + [p for p in files if not p.version.is_original]

    values: dict[str, Any] = {}
    for name in SPEECH_FIELDS:
        values[name], where = _speech_value(files, name)
        if where is not None:
            values[name + "@"] = (where.path, where.meta_lines.get(name))
    for name in REQUIRED_IN_SPEECH:
        if values[name] is None:
            raise _error(
                f"missing required field '{name}' (in one of the speech's files)", first.path, 1
            )

    def text(name: str) -> str:
        where = values.get(name + "@", (first.path, None))
        return _text(values[name], name, *where)

    def names(name: str) -> list[str]:
        where = values.get(name + "@", (first.path, None))
        return _string_list(values[name], name, *where)

    delivered_on, precision = _date(values["date"], "date", *values["date@"])
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug):
        raise _error(
            f"speech slug {slug!r} must be lowercase letters, digits and single hyphens",
            first.path,
            first.meta_lines.get("speech"),
        )
    kind = text("kind") or "speech"
    status = text("status") or "draft"
    from speeches.models import Speech  # choices only; no queries

    if kind not in Speech.Kind.values:
        raise _error(
            f"kind {kind!r} is not one of {', '.join(Speech.Kind.values)}", *values["kind@"]
        )
    if status not in Speech.Status.values:
        raise _error(
            f"status {status!r} is not one of {', '.join(Speech.Status.values)}",
            *values["status@"],
        )
    terms = values["terms"]
    term_candidates = []
    if terms is not None:
        from speeches.importers.document import TermCandidate

        if not isinstance(terms, dict):
            raise _error(
                "field 'terms' must map an original term to its translation", *values["terms@"]
            )
        term_candidates = [TermCandidate(str(k).strip(), str(v).strip()) for k, v in terms.items()]

    pivot = ordered[0]
    paragraphs = {p.version.code: p.paragraphs for p in ordered}
    try:
        passages = align_versions(paragraphs)
    except ImportFormatError as exc:
        named = re.match(r'version "([^"]+)"', str(exc))
        path = codes[named.group(1)].path if named else pivot.path
        raise _error(str(exc), path, exc.line) from None

    versions = []
    for parsed in ordered:
        version = parsed.version
        code = version.code
        for footnote in parsed.footnotes:
            marker = f"[^{footnote.number}]"
            footnote.passage_index = next(
                (i for i, p in enumerate(passages) if marker in p.texts.get(code, "")), None
            )
        version.footnotes = parsed.footnotes
        versions.append(version)

    return SpeechDocument(
        slug=slug,
        title=text("speech_title") or pivot.version.title,
        speaker_name=text("speaker"),
        speaker_slug=text("speaker_slug"),
        speaker_name_original=text("speaker_original"),
        delivered_on=delivered_on,
        date_precision=precision,
        original_language=pivot.version.language,
        occasion=text("occasion"),
        place=text("place"),
        kind=kind,
        status=status,
        nickname=text("nickname"),
        summary=text("summary"),
        themes=names("themes"),
        collections=names("collections"),
        versions=versions,
        passages=passages,
        term_candidates=term_candidates,
        source_path=first.path,
    )


def parse_native_files(paths: list[str]) -> list[SpeechDocument]:
    """Parse native files; files sharing `speech:` become one SpeechDocument.

    Documents come in the order their first file was given. The original
    version (`original: true`) is the alignment pivot and gives the speech its
    title unless `speech_title:` is set; without one, the first file does.
    """
    groups: dict[str, list[_ParsedFile]] = {}
    for path in paths:
        parsed = parse_native_file(path)
        slug = _text(parsed.meta["speech"], "speech", path, parsed.meta_lines.get("speech"))
        groups.setdefault(slug, []).append(parsed)
    return [_build_document(slug, files) for slug, files in groups.items()]
