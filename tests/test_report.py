"""The report's numbers and plain-language conclusion, from hand-made metrics."""

from __future__ import annotations

import pandas as pd
from report import conclusion


def summary(**overrides):
    rows = [
        {"strategy": "finetune", "eval_accuracy": 0.954, "roc_auc": 0.99, "train_seconds": 300.0,
         "trainable_parameters": 11_177_538, "epochs": 25},
        {"strategy": "feature_extract", "eval_accuracy": 0.941, "roc_auc": 0.98,
         "train_seconds": 100.0, "trainable_parameters": 1026, "epochs": 25},
    ]  # fmt: skip
    for strategy, values in overrides.items():
        next(r for r in rows if r["strategy"] == strategy).update(values)
    return pd.DataFrame(rows)


def test_winner_gap_and_cost():
    text = conclusion(summary())
    assert text.startswith("finetune wins with 95.4% validation accuracy, 1.3 percentage points")
    assert "above feature_extract (94.1%)" in text
    assert "3.0x the training time of feature_extract" in text


def test_cheaper_winner():
    text = conclusion(summary(feature_extract={"eval_accuracy": 0.967}))
    assert text.startswith("feature_extract wins with 96.7% validation accuracy, 1.3 percentage")
    assert "3.0x less training time than finetune" in text


def test_tie_is_called_a_tie():
    text = conclusion(summary(feature_extract={"eval_accuracy": 0.954, "roc_auc": 0.995}))
    assert text.startswith(
        "feature_extract and finetune reach the same validation accuracy (95.4%)"
    )


def test_single_strategy():
    text = conclusion(summary().iloc[:1])
    assert text == "Only finetune was trained: 95.4% validation accuracy in 300 s."
