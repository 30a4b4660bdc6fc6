"""Helpers shared by the plain-text parsers: reading files strictly, slugs, names.

Everything here is pure (no database), so the parsers built on it can be tested
and dry-run without touching anything.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from django.utils.text import slugify
from pypinyin import lazy_pinyin

from speeches.importers.document import ImportFormatError

# Leaders whose romanised name is not what pypinyin gives character by character
# (polyphonic surnames such as 薄 bó), plus the usual spellings of the names that
# the seeds and corpora mention. name in original script -> romanised name.
KNOWN_NAMES: dict[str, str] = {
    "习近平": "Xi Jinping",
    "李强": "Li Qiang",
    "李克强": "Li Keqiang",
    "温家宝": "Wen Jiabao",
    "朱镕基": "Zhu Rongji",
    "李鹏": "Li Peng",
    "赵紫阳": "Zhao Ziyang",
    "华国锋": "Hua Guofeng",
    "周恩来": "Zhou Enlai",
    "李富春": "Li Fuchun",
    "李先念": "Li Xiannian",
    "薄一波": "Bo Yibo",
    "谭震林": "Tan Zhenlin",
    "姚依林": "Yao Yilin",
    "王沪宁": "Wang Huning",
    "唐鳳": "Audrey Tang",
}
ORIGINAL_NAMES: dict[str, str] = {latin: original for original, latin in KNOWN_NAMES.items()}


def read_text(path: str | Path) -> str:
    """The file's text, strictly UTF-8, with Windows line ends and a BOM removed.

    Raises ImportFormatError naming the line of the first undecodable byte, or
    line 1 when the file is empty (or only whitespace).
    """
    path = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"cannot read file ({exc.strerror})", path=path) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFormatError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            path=path,
            line=line,
        ) from exc
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ImportFormatError("file is empty", path=path, line=1)
    return text


def ascii_slug(text: str, max_length: int = 80) -> str:
    """A lowercase ASCII slug; Chinese is romanised with pypinyin, cut at a word boundary."""
    if re.search(r"[\u3400-\u9fff]", text):
        text = " ".join(lazy_pinyin(text, errors="default"))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = slugify(text)
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0]
    return slug.strip("-")


def romanize_name(name_original: str) -> str:
    """A Chinese personal name in pinyin, surname first: 李强 -> "Li Qiang"."""
    name_original = re.sub(r"[\s\u3000]+", "", name_original)
    if name_original in KNOWN_NAMES:
        return KNOWN_NAMES[name_original]
    syllables = lazy_pinyin(name_original)
    if not syllables:
        return name_original
    surname, given = syllables[0], "".join(syllables[1:])
    return " ".join(part.capitalize() for part in (surname, given) if part)
