"""Editor Markdown is rendered and sanitised (markdown-it js-default + nh3)."""

from __future__ import annotations

import re

import pytest

from speeches.markdown import render_markdown, render_markdown_inline


def test_common_markdown_renders():
    html = render_markdown("Some *emphasis*, **strong**, `code`.\n\n- one\n- two")
    assert "<em>emphasis</em>" in html and "<strong>strong</strong>" in html
    assert "<ul>" in html and "<li>one</li>" in html


def test_links_get_safe_rel_and_headings_are_demoted():
    html = render_markdown("# Title\n\nSee [Qiushi](https://www.qstheory.cn/).")
    assert "<h1>" not in html and "<h3>Title</h3>" in html
    assert 'href="https://www.qstheory.cn/"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '<img src=x onerror="alert(1)">',
        "![img](https://example.org/a.png)",
        '<a href="https://e.org" onclick="alert(1)">x</a>',
        "[x](vbscript:msgbox)",
    ],
)
def test_dangerous_input_is_neutralised(source):
    html = render_markdown(source)
    lowered = html.lower()
    assert "<script" not in lowered
    assert not re.search(r"<[^>]*\son\w+=", lowered)  # no handler attribute on any tag
    assert 'href="javascript:' not in lowered and 'href="data:' not in lowered
    assert 'href="vbscript:' not in lowered and "<img" not in lowered


def test_mailto_allowed_and_empty_input():
    assert 'href="mailto:editors@example.org"' in render_markdown(
        "[mail](mailto:editors@example.org)"
    )
    assert render_markdown("") == "" and render_markdown("   ") == ""


def test_inline_rendering_has_no_paragraphs():
    html = render_markdown_inline("A *short* note with [a link](https://e.org).")
    assert not html.startswith("<p>") and "<em>short</em>" in html and "<a href" in html
