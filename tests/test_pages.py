"""The comparison page is written once (tlpipe.pages) and rendered by two generic
templates: every kind of block shows in each format that may show it, values from the
data are escaped in both, and a block meant for one format stays out of the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlpipe.pages import (
    FORMATS,
    HTML_ONLY,
    KINDS,
    block,
    data,
    em,
    figure,
    joined,
    link,
    paragraph,
    section,
    strong,
    table,
    write_pages,
)

FIGURE = {"uri": "data:image/png;base64,AAAA", "file": "figures/plot.png"}


def render(tmp_path: Path, *blocks: dict) -> dict[str, str]:
    """The page of one section holding ``blocks``, in both formats."""
    page = {"title": "T <1>", "sections": [section(None), section("Section one", *blocks)]}
    out = {"html": tmp_path / "page.html", "markdown": tmp_path / "page.md"}
    write_pages(page, out["html"], out["markdown"])
    return {fmt: path.read_text() for fmt, path in out.items()}


EXAMPLES = {
    "paragraph": paragraph("prose ", em("stressed"), " and ", strong("bold")),
    "heading": block("heading", text="A subsection"),
    "table": table({"headers": ["h1", "h2"], "rows": [["c1", "c2"]]}),
    "figure": figure(FIGURE, "alt words"),
    "code": block("code", value={"key": "value"}),
    "bullets": block("bullets", items=[["first item"], ["second item"]]),
    "thumbnails": block(
        "thumbnails",
        "html",
        items=[
            {
                "uri": "data:image/jpeg;base64,B",
                "path": "val/a/1.jpg",
                "true": "a",
                "predicted": "b",
                "wrong_in": 2,
            }
        ],
        seeds="3 seeds",
    ),
}
EXPECTED = {
    "paragraph": {
        "html": "<p>prose <em>stressed</em> and <strong>bold</strong></p>",
        "markdown": "\nprose *stressed* and **bold**\n",
    },
    "heading": {"html": "<h3>A subsection</h3>", "markdown": "\n### A subsection\n"},
    "table": {
        "html": "<tr><td>c1</td><td>c2</td></tr>",
        "markdown": "| h1 | h2 |\n|---|---:|\n| c1 | c2 |\n",
    },
    "figure": {
        "html": '<img src="data:image/png;base64,AAAA" alt="alt words">',
        "markdown": "![alt words](figures/plot.png)",
    },
    "code": {
        "html": '<pre>{\n  "key": "value"\n}</pre>',  # tojson output is HTML-safe as it is
        "markdown": '```json\n{\n  "key": "value"\n}\n```',
    },
    "bullets": {
        "html": "<li>first item</li>\n<li>second item</li>",
        "markdown": "- first item\n- second item\n",
    },
    "thumbnails": {
        "html": '<figure><img src="data:image/jpeg;base64,B" alt="val/a/1.jpg" '
        'title="val/a/1.jpg"><figcaption>a → <span class="wrong">b</span><br>wrong in 2 '
        "of 3 seeds</figcaption></figure>",
    },
}


def test_the_examples_cover_every_kind():
    assert sorted(EXAMPLES) == sorted(KINDS) == sorted(EXPECTED)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_block_renders_in_each_format_that_shows_it(tmp_path, kind):
    pages = render(tmp_path, EXAMPLES[kind])
    for fmt in FORMATS:
        assert "Section one" in pages[fmt]
        if fmt in EXPECTED[kind]:
            assert EXPECTED[kind][fmt] in pages[fmt], (fmt, pages[fmt])
    if kind in HTML_ONLY:
        assert "val/a/1.jpg" not in pages["markdown"]


def test_a_section_is_written_once_and_shown_in_both_formats(tmp_path):
    pages = render(tmp_path, paragraph("Some prose.", style="note"))
    assert "<h1>T &lt;1&gt;</h1>" in pages["html"] and "<title>T &lt;1&gt;</title>" in pages["html"]
    assert '<h2>Section one</h2>\n<p class="muted">Some prose.</p>' in pages["html"]
    assert pages["markdown"].startswith("# T <1>\n")
    assert "## Section one\n\nSome prose.\n" in pages["markdown"]


def test_values_from_the_data_are_escaped_in_both_formats(tmp_path):
    hostile = "<img src=x onerror=alert(1)>|*x*"
    pages = render(
        tmp_path,
        paragraph("Skipped: ", *joined([data(hostile), data("b_c")]), "."),
        paragraph("Model cards: ", link("finetune", "model_card_finetune.md"), style="verdict"),
    )
    assert "<p>Skipped: &lt;img src=x onerror=alert(1)&gt;|*x*, b_c.</p>" in pages["html"]
    assert "Skipped: &lt;img src=x onerror=alert(1)&gt;\\|\\*x\\*, b\\_c." in pages["markdown"]
    assert '<p class="verdict">Model cards: <a href="model_card_finetune.md">' in pages["html"]
    assert "> Model cards: [finetune](model_card_finetune.md)" in pages["markdown"]


def test_a_block_for_one_format_stays_out_of_the_other(tmp_path):
    pages = render(
        tmp_path,
        paragraph("only in the page", only="html"),
        paragraph("only in the Markdown", only="markdown"),
    )
    assert "only in the page" in pages["html"] and "only in the page" not in pages["markdown"]
    assert "only in the Markdown" in pages["markdown"]
    assert "only in the Markdown" not in pages["html"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "video"}, "block kind 'video': the templates render paragraph"),
        ({"kind": "table", "only": "pdf"}, "only='pdf': expected None or one of"),
        ({"kind": "thumbnails"}, "renders in HTML only"),
    ],
)
def test_blocks_no_template_renders_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        block(**kwargs)
