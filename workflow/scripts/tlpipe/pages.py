"""The comparison page, written once: its sections, rendered as HTML and as Markdown.

:func:`comparison_page` says what the page shows, section by section; each section is a
title and a list of *blocks* (a paragraph, a table, a figure, ...). Two generic templates
render any such page: ``workflow/report/comparison.html.j2`` (every value autoescaped)
and ``comparison.md.j2`` (values from the data escaped by :mod:`tlpipe.markup`). A new
section is one more entry in :func:`comparison_page`, shown in both formats.

A paragraph is a list of parts: a plain string is our own prose; :func:`data` marks a
value from the data or config (a class or file name), escaped in the Markdown too;
:func:`em`, :func:`strong` and :func:`link` are the inline markup each format spells its
way. A block with ``only`` set appears in that format alone: the HTML shows the
misclassified images as embedded thumbnails, the Markdown links one PNG of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from tlpipe.fileio import atomic_open
from tlpipe.markup import FILTERS as MARKDOWN_FILTERS
from tlpipe.runs import Run, shared_config
from tlpipe.tables import (
    confidence_level,
    decision_rule,
    mcnemar_tables,
    pairs_table,
    per_class_table,
    quality_table,
    runs_table,
    statistics_table,
)
from tlpipe.verdict import basis_label, plural

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "report"
#: The page's formats and the template that renders each.
FORMATS = {"html": "comparison.html.j2", "markdown": "comparison.md.j2"}
#: The kinds of block both templates render, and those only the HTML's renders.
KINDS = ("paragraph", "heading", "table", "figure", "code", "bullets", "thumbnails")
HTML_ONLY = ("thumbnails",)  # embedded images: the Markdown shows a PNG of them instead


@dataclass(frozen=True)
class Report:
    """What the comparison page shows, as the report computed it."""

    runs: list[Run]
    strategies: list[str]
    seeds: list[int]
    split: str
    class_names: list[str]
    summary: pd.DataFrame
    comparison: dict[str, Any]
    quality: dict[str, Any]
    #: name -> {"uri": data: URI, "file": path from the Markdown} (figures.make_figures)
    figures: dict[str, dict[str, str]]
    #: strategy -> its misclassified images (figures.misclassified)
    misclassified: dict[str, dict[str, Any]]
    #: strategy -> its model card, relative to the pages
    model_cards: dict[str, str]


# --- inline parts and blocks ---------------------------------------------------------------


def data(value: Any) -> dict[str, Any]:
    """A value from the data or the config inside a paragraph (escaped in every format)."""
    return {"data": value}


def em(text: str) -> dict[str, str]:
    """Emphasised prose inside a paragraph."""
    return {"em": text}


def strong(text: str) -> dict[str, str]:
    """Strongly emphasised prose inside a paragraph."""
    return {"strong": text}


def link(text: str, href: str) -> dict[str, str]:
    """A link inside a paragraph (``href``: relative to the pages)."""
    return {"link": text, "href": href}


def joined(parts: list[Any], separator: str = ", ") -> list[Any]:
    """``parts`` with ``separator`` between each two (inside one paragraph)."""
    out: list[Any] = []
    for part in parts:
        out += [separator, part] if out else [part]
    return out


def block(kind: str, only: str | None = None, **fields: Any) -> dict[str, Any]:
    """One block of a section; ``only``: the one format that shows it (None: both)."""
    if kind not in KINDS:
        raise ValueError(f"block kind {kind!r}: the templates render {', '.join(KINDS)}")
    if only not in (None, *FORMATS):
        raise ValueError(f"only={only!r}: expected None or one of {list(FORMATS)}")
    if kind in HTML_ONLY and only != "html":
        raise ValueError(f"block kind {kind!r} renders in HTML only: give only='html'")
    return {"kind": kind, "only": only, **fields}


def paragraph(*parts: Any, style: str | None = None, only: str | None = None) -> dict[str, Any]:
    """A paragraph of parts; ``style``: ``note`` (secondary text), ``verdict`` or
    ``protocol``, or None for body text."""
    return block("paragraph", only, parts=list(parts), style=style)


def table(content: dict[str, Any]) -> dict[str, Any]:
    """A table: ``{"headers": [...], "rows": [[...], ...]}`` (tlpipe.tables)."""
    return block("table", table=content)


def figure(content: dict[str, str], alt: str, only: str | None = None) -> dict[str, Any]:
    """A figure of figures.make_figures: embedded in the HTML, linked from the Markdown."""
    return block("figure", only, figure=content, alt=alt)


def section(title: str | None, *blocks: dict[str, Any]) -> dict[str, Any]:
    """A titled section (None: the page's head, under its title)."""
    return {"title": title, "blocks": list(blocks)}


# --- what the page says --------------------------------------------------------------------


def subtitle(train: dict[str, Any], quality: dict[str, Any], n_seeds: int) -> str:
    """Architecture, classes, images per split and number of seeds, in one line."""
    classes = train["class_names"]
    shown = " / ".join(classes) if len(classes) <= 6 else f"{len(classes)} classes"
    counts = ", ".join(f"{c['total']} {split}" for split, c in quality["counts"].items())
    arch = train["config"].get("arch", "model")
    return f"{arch} · {shown} · {counts} images · {plural(n_seeds, 'seed')} per strategy"


def protocol(split: str, seeds: list[int], n_eval: int, basis: dict[str, Any]) -> str:
    """One line saying how the numbers were obtained."""
    runs = (
        f"{plural(len(seeds), 'seed')} per strategy ({'seed' if len(seeds) == 1 else 'seeds'} "
        f"{', '.join(map(str, seeds))}), paired by seed across strategies"
    )
    if basis["checkpoint"] == "final":
        scored = (
            f"the verdict scores the last-epoch models on {split}/ ({n_eval} images), which no "
            "score selected; the best-epoch figures, selected on val/, are shown as such"
        )
    elif split == "val":
        scored = (
            f"evaluated on val/ ({n_eval} images), the split that selected the checkpoint: "
            "optimistic (these runs have no last-epoch model; retrain to get one)"
        )
    else:
        scored = (
            f"evaluated on {split}/ ({n_eval} images), held out from training; the "
            "checkpoint (best epoch) is selected on val/"
        )
    return (
        f"{runs}; {scored}. Intervals of the verdict cover the training noise (seeds) and "
        "the sampling of the evaluation images."
    )


def _head(report: Report) -> dict[str, Any]:
    first = report.runs[0]
    cards = joined([link(strategy, href) for strategy, href in report.model_cards.items()])
    n_eval = int(first.evaluation["n"])
    return section(
        None,
        paragraph(data(subtitle(first.train, report.quality, len(report.seeds))), style="note"),
        paragraph(report.comparison["verdict"], style="verdict"),
        paragraph(
            "Protocol: " + protocol(report.split, report.seeds, n_eval, report.comparison["basis"]),
            style="protocol",
        ),
        paragraph(
            "Model cards: ",
            *cards,
            " (what each model is, its data, results and limits, and how to load it).",
            style="note",
        ),
    )


def _statistics(report: Report) -> dict[str, Any]:
    comparison = report.comparison
    pairs = pairs_table(comparison)
    paired = [
        block("heading", text="Paired comparison (same seed in both strategies)"),
        table(pairs),
        paragraph(decision_rule(comparison), style="note"),
    ]
    return section(
        "Statistics",
        paragraph(
            "Accuracies in %, differences in percentage points. The verdict's intervals cover "
            "both sources of uncertainty: the training (seeds) and the sampling of the "
            "evaluation images (variance components of the seeds × images outcomes). The "
            '"training noise only" intervals say how much the seeds alone move the figures on ',
            em("these"),
            " images; they leave out the images.",
            style="note",
        ),
        table(statistics_table(comparison, report.split)),
        *(paired if pairs["rows"] else []),
    )


def _mcnemar(report: Report) -> list[dict[str, Any]]:
    """The per-seed McNemar tables, a section when there is a pair."""
    tables = mcnemar_tables(report.comparison)
    if not tables:
        return []
    blocks = [
        paragraph(
            "Per seed, the two runs scored on the same images: only the images one got right "
            "and the other wrong count (exact binomial test). A per-run diagnostic; the "
            "verdict rests on the interval over seeds and images.",
            style="note",
        )
    ]
    for t in tables:
        blocks += [block("heading", text=t["title"]), table(t)]
    return [section("Per-seed McNemar tests", *blocks)]


def _wrong_line(strategy: str, wrong: dict[str, Any]) -> str:
    """How many images a strategy got wrong, in one line."""
    shown = len(wrong["shown"])
    return (
        f"{strategy}: {wrong['any_seed']} of {wrong['n_images']} images wrong in at least one "
        f"of {wrong['seeds']}, {wrong['every_seed']} in all"
        + (f"; {shown} shown" if wrong["any_seed"] > shown else "")
    )


def _misclassified(report: Report) -> dict[str, Any]:
    """HTML: per strategy, its line and its thumbnails; Markdown: the lines and one figure."""
    blocks = [
        paragraph(
            "Images wrong in the most seeds first; label: true → most frequent wrong prediction.",
            style="note",
            only="html",
        )
    ]
    for strategy, wrong in report.misclassified.items():
        blocks.append(block("heading", "html", text=_wrong_line(strategy, wrong)))
        if wrong["shown"]:
            blocks.append(block("thumbnails", "html", items=wrong["shown"], seeds=wrong["seeds"]))
    lines = [[_wrong_line(s, wrong) + "."] for s, wrong in report.misclassified.items()]
    blocks.append(block("bullets", "markdown", items=lines))
    if "misclassified" in report.figures:
        alt = "Images wrong in the most seeds; true → most frequent wrong prediction"
        blocks.append(figure(report.figures["misclassified"], alt, only="markdown"))
    else:
        blocks.append(
            paragraph("None: every image was classified correctly in every seed.", only="markdown")
        )
    return section("Misclassified images", *blocks)


def _data_quality(report: Report) -> dict[str, Any]:
    quality = report.quality
    width, height = quality["image_size"]["width"], quality["image_size"]["height"]
    skipped = joined([data(item["path"]) for item in quality["skipped"]])
    duplicates = quality["duplicates"]
    return section(
        "Data quality",
        table(quality_table(quality, report.class_names)),
        paragraph(
            f"Image width {width['min']}–{width['max']} px (median {width['median']}), "
            f"height {height['min']}–{height['max']} px (median {height['median']}). "
            "Skipped by the loader: ",
            *(skipped or ["none"]),
            ". "
            f"Duplicate groups: {len(duplicates['within_split'])} within a split, "
            f"{len(duplicates['across_splits'])} across splits.",
        ),
    )


def _configuration(report: Report) -> dict[str, Any]:
    config, differs = shared_config(report.runs)
    first = report.runs[0]
    of = f"{first.strategy}, seed {first.seed}"
    differ = []
    if differs:
        shown = f" (values of {of} shown)"
        differ = ["; ", strong(f"these differ between runs: {', '.join(differs)}"), shown]
    return section(
        "Configuration and provenance",
        paragraph(
            f"Settings shared by every run of {' and '.join(report.strategies)} (all but "
            "strategy and seed)",
            *differ,
            ":",
        ),
        block("code", value=config),
        paragraph(f"Provenance of {of} (the other runs differ in strategy, seed and timings):"),
        block("code", value=first.train["provenance"]),
    )


def comparison_page(report: Report) -> dict[str, Any]:
    """The comparison page: its title and its sections, in page order."""
    eval_label = basis_label(report.comparison["basis"])
    level = confidence_level(report.comparison)
    figures = report.figures
    return {
        "title": "Transfer learning: " + " vs ".join(report.strategies),
        "sections": [
            _head(report),
            _statistics(report),
            section(
                "Accuracy per seed",
                figure(
                    figures["strip_plot"],
                    f"Per-seed {eval_label} of each strategy, mean and {level} CI, seeds "
                    "joined across strategies",
                ),
            ),
            section(
                "Learning curves",
                figure(
                    figures["learning_curves"],
                    "Loss and accuracy per epoch, mean over seeds with min-max band, train "
                    "dashed and val solid",
                ),
            ),
            section(
                "Confusion matrices (summed over seeds)",
                figure(
                    figures["confusion_matrices"],
                    "Confusion matrices summed over seeds, one per strategy",
                ),
                table(per_class_table(report.summary, report.class_names, report.split)),
            ),
            section(
                "Cost and accuracy",
                figure(
                    figures["cost_accuracy"],
                    f"Training time against {eval_label}, one point per run",
                ),
            ),
            section("Runs", table(runs_table(report.summary, report.split))),
            *_mcnemar(report),
            _misclassified(report),
            _data_quality(report),
            _configuration(report),
        ],
    }


# --- rendering -----------------------------------------------------------------------------


def environment(**options: Any) -> jinja2.Environment:
    """The Jinja environment of the report's templates: HTML templates (``*.html.j2``)
    autoescaped, the Markdown filters of :mod:`tlpipe.markup` (``md``, ``md_code``), and
    an error, not an empty string, for a name the context lacks."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        **options,
    )
    env.filters.update(MARKDOWN_FILTERS)
    return env


def relative_links(files: dict[str, Path], page: Path) -> dict[str, str]:
    """Each file as a link from ``page`` (relative: the pages and files move together)."""
    return {
        name: Path(os.path.relpath(path, page.parent)).as_posix() for name, path in files.items()
    }


def write_pages(page: dict[str, Any], html: Path, markdown: Path) -> None:
    """Render the page in both formats, each template with the same page."""
    env = environment()
    for fmt, out in (("html", html), ("markdown", markdown)):
        with atomic_open(out, "w", encoding="utf-8") as handle:
            handle.write(env.get_template(FORMATS[fmt]).render(page=page, format=fmt))
