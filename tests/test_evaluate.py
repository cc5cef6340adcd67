"""Evaluation metrics on hand-checked examples."""

from __future__ import annotations

import numpy as np
import pytest
from evaluate import classification_metrics, predictions_table, roc_auc


def test_binary_metrics_by_hand():
    # true:      a a a b b     predicted: a a b b a
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7], [0.55, 0.45]])
    labels = np.array([0, 0, 0, 1, 1])
    m = classification_metrics(probs, labels, ["a", "b"])
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["confusion_matrix"] == {"labels": ["a", "b"], "matrix": [[2, 1], [1, 1]]}
    assert m["per_class"]["a"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3,
                                                 "f1": 2 / 3, "support": 3})  # fmt: skip
    assert m["per_class"]["b"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["b"]["recall"] == pytest.approx(0.5)
    # p(b) ranks: positives 0.7, 0.45; negatives 0.1, 0.2, 0.6 -> 5 of 6 pairs ordered
    assert m["roc_auc"] == pytest.approx(5 / 6)


def test_three_classes_and_missing_class():
    probs = np.eye(3)[[0, 1, 2, 2]] * 0.8 + 0.2 / 3
    m = classification_metrics(probs, np.array([0, 1, 2, 1]), ["x", "y", "z"])
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["roc_auc"] == pytest.approx(roc_auc(probs, np.array([0, 1, 2, 1])))
    assert roc_auc(probs[:2], np.array([0, 1])) is None  # class z absent: undefined


def test_predictions_table():
    probs = np.array([[0.2, 0.8], [0.7, 0.3]])
    table = predictions_table(["val/b/1.jpg", "val/b/2.jpg"], probs, np.array([1, 1]), ["a", "b"])
    assert table.to_dict("list") == {
        "path": ["val/b/1.jpg", "val/b/2.jpg"], "true": ["b", "b"], "predicted": ["b", "a"],
        "probability": [0.8, 0.7], "correct": [True, False], "p_a": [0.2, 0.7], "p_b": [0.8, 0.3],
    }  # fmt: skip
