"""What the report pages show stays text: class names carrying markup make no element.

The runs tree of tests/test_report.py, with class folders named like markup; the HTML is
parsed with html.parser and the Markdown rendered by markdown-it (CommonMark, raw HTML
passed through, as many renderers do) before it is parsed the same way.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import test_report
from browser import find_chromium, inspect_page
from conftest import REPO
from markdown_it import MarkdownIt

from tlpipe.markup import markdown_code, markdown_text

# Folder names (no "/"): an element with a handler, a link, a table cell break, emphasis
# and code markers, entities and quotes.
CLASSES = [
    "<img src=x onerror=alert(1)>",
    'b|*_[x](javascript:alert(2))`&amp; "q" \'s <b onmouseover=alert(3)>',
]
TEMPLATE = (REPO / "workflow/report/comparison.html.j2").read_text()


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text between the tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_report, "CLASSES", CLASSES)
        images = [f"{c}/{c}_{i}.{'png' if i == 2 else 'jpg'}" for c in CLASSES for i in range(3)]
        patch.setattr(test_report, "IMAGES", images)
        project = test_report.make_project(tmp_path_factory.mktemp("markup"))
        quality_path = project["root"] / "metrics" / "data_quality.json"
        quality = json.loads(quality_path.read_text())
        quality["dataset"] = "tiny `x` <i>"
        for counts in quality["counts"].values():
            n = counts.pop("ants")
            del counts["bees"]
            counts.update(dict.fromkeys(CLASSES, n))
        quality["skipped"] = [{"path": f"val/{CLASSES[0]}/notes.txt", "reason": "not an image"}]
        quality_path.write_text(json.dumps(quality))
        return test_report.run_report(project)


def test_the_html_page_has_only_the_elements_its_template_writes(pages):
    found = elements(pages["html"].read_text())
    tags = {tag for tag, _ in found.tags}
    assert tags <= set(re.findall(r"<(\w+)", TEMPLATE)), tags
    written = set(re.findall(r"\s([a-z-]+)=\"", TEMPLATE))
    for tag, attrs in found.tags:
        assert set(attrs) <= written, (tag, attrs)
        if tag == "img":
            assert attrs["src"].startswith("data:image/"), attrs
    assert not [attrs for tag, attrs in found.tags if tag == "b"]
    text = "".join(found.text)
    for name in CLASSES:
        assert name in text  # shown as it is, as text


@pytest.mark.skipif(find_chromium() is None, reason="Chromium not installed")
def test_the_html_page_runs_no_handler_in_a_browser(pages, tmp_path):
    """Headless Chromium: an injected <img src=x onerror=alert(1)> would be a broken
    image, a request for x and an alert dialog."""
    report = inspect_page(pages["html"], tmp_path / "page.png", chromium=find_chromium())
    assert report.ok, report.summary()
    assert not [w for w in report.console_warnings if w.startswith("dialog")], report.summary()


@pytest.mark.parametrize("page", ["markdown", "model_card"])
def test_markdown_pages_make_no_element_from_a_class_name(pages, page):
    path = (
        pages["markdown"]
        if page == "markdown"
        else pages["html"].parent / ("model_card_finetune.md")
    )
    source = path.read_text()
    found = elements(MarkdownIt("commonmark").enable("table").render(source))
    for tag, attrs in found.tags:
        assert not {name for name in attrs if name.startswith("on")}, (tag, attrs)
        if tag == "img":
            assert attrs["src"].startswith("figures/"), attrs
        if tag == "a":
            assert not attrs["href"].startswith("javascript"), attrs
    assert not [tag for tag, _ in found.tags if tag in ("b", "i", "script")]
    text = "".join(found.text)
    for name in CLASSES:  # every character shown: none was read as markup
        assert name in text, name


@pytest.mark.parametrize(
    "value", ["plain", "a|b", "<img src=x>", "*x* _y_ [l](u) `c` \\ & #1 !~", "``x` y"]
)
def test_markdown_escapes_render_back_to_the_value(value):
    md = MarkdownIt("commonmark").enable("table")
    assert "".join(elements(md.render(markdown_text(value))).text).strip() == value
    table = elements(md.render(f"| h |\n|---|\n| {markdown_text(value)} |\n"))
    assert [tag for tag, _ in table.tags].count("td") == 1
    assert value in "".join(table.text)
    code = elements(md.render(markdown_code(value)))
    assert [tag for tag, _ in code.tags] == ["p", "code"]
    assert "".join(code.text).strip() == value
