"""Metrics against their definitions (counted independently of the
scikit-learn calls the package makes) and direct formulas; the CCC loss.

Authors
 * speechbrain-peft-ser developers 2026
"""

import numpy as np
import pytest
import torch

from speechbrain_peft.training.losses import ccc_loss, mse_loss
from speechbrain_peft.training.metrics import (
    EmotionMetrics,
    ccc,
    confusion_matrix,
    group_scores,
    macro_f1,
    unweighted_accuracy,
    weighted_accuracy,
)


def label_cases(n_cases=300):
    """Random label vectors, many with classes missing on one side."""
    rng = np.random.default_rng(0)
    for case in range(n_cases):
        n_classes = int(rng.integers(2, 8))
        size = int(rng.integers(1, 40))
        targets = rng.integers(0, n_classes, size)
        predictions = rng.integers(0, n_classes, size)
        if case % 3 == 1:  # a class never predicted
            predictions[predictions == 0] = 1
        if case % 3 == 2:  # a class predicted but never true
            targets[targets == n_classes - 1] = 0
        if case % 10 == 0:  # a nearly perfect classifier
            predictions = targets.copy()
            predictions[0] = (targets[0] + 1) % n_classes
        yield n_classes, targets, predictions


CASES = list(label_cases())


def reference_metrics(targets, predictions, n_classes):
    """WA, UA, macro-F1 and the confusion matrix by their definitions,
    counted with plain loops (independent of scikit-learn, which the
    package calls)."""
    pairs = list(zip(targets.tolist(), predictions.tolist()))
    confusion = [[0] * n_classes for _ in range(n_classes)]
    for true, predicted in pairs:
        confusion[true][predicted] += 1
    wa = sum(t == p for t, p in pairs) / len(pairs)
    recalls = [
        confusion[c][c] / sum(confusion[c])
        for c in range(n_classes)
        if sum(confusion[c])
    ]
    f1s = []
    for c in range(n_classes):
        true_pos = confusion[c][c]
        column = sum(confusion[r][c] for r in range(n_classes))
        row = sum(confusion[c])
        if row or column:  # classes absent from both sides are left out
            f1s.append(2 * true_pos / (row + column))
    return wa, sum(recalls) / len(recalls), sum(f1s) / len(f1s), confusion


@pytest.mark.parametrize("index", range(len(CASES)))
def test_categorical_metrics_equal_their_definitions(index):
    n_classes, targets, predictions = CASES[index]
    wa, ua, f1, confusion = reference_metrics(targets, predictions, n_classes)
    assert weighted_accuracy(targets, predictions) == pytest.approx(wa)
    assert unweighted_accuracy(targets, predictions) == pytest.approx(ua)
    assert unweighted_accuracy(
        targets, predictions, n_classes=n_classes
    ) == pytest.approx(ua)
    assert macro_f1(targets, predictions) == pytest.approx(f1)
    assert macro_f1(targets, predictions, n_classes) == pytest.approx(f1)
    np.testing.assert_array_equal(
        confusion_matrix(targets, predictions, n_classes), confusion
    )


def test_metrics_accept_tensors_and_lists():
    targets = torch.tensor([0, 1, 2, 2])
    predictions = torch.tensor([0, 2, 2, 2])
    assert weighted_accuracy(targets, predictions) == 0.75
    assert unweighted_accuracy(targets.tolist(), predictions.numpy()) == (
        pytest.approx(2 / 3)
    )
    assert confusion_matrix(targets, predictions, 3).tolist() == [
        [1, 0, 0],
        [0, 0, 1],
        [0, 0, 2],
    ]


def test_macro_f1_ignores_classes_absent_from_both_sides():
    # Classes 2 and 3 appear nowhere and are not averaged: F1 of class 0
    # is 2 * 1 / (2 + 1) and of class 1 is 2 * 2 / (2 + 3).
    targets, predictions = [0, 0, 1, 1], [0, 1, 1, 1]
    assert macro_f1(targets, predictions, n_classes=4) == pytest.approx(
        (2 / 3 + 4 / 5) / 2
    )


@pytest.mark.parametrize(
    "targets, predictions, n_classes",
    [
        ([0, 1], [0], None),  # length mismatch
        ([], [], None),  # empty
        ([0, 3], [0, 1], 3),  # label outside range(n_classes)
        ([0, -1], [0, 1], None),  # negative
        ([0.5, 1.0], [0, 1], None),  # not an index
        ([[0, 1]], [[0, 1]], None),  # not 1-D
    ],
)
def test_invalid_labels_raise(targets, predictions, n_classes):
    with pytest.raises(ValueError):
        unweighted_accuracy(targets, predictions, n_classes)


def ccc_reference(pred, target):
    """Lin's CCC written out with numpy's population moments."""
    covariance = np.mean((pred - pred.mean()) * (target - target.mean()))
    return (
        2
        * covariance
        / (np.var(pred) + np.var(target) + (pred.mean() - target.mean()) ** 2)
    )


def test_ccc_matches_direct_formula():
    rng = np.random.default_rng(1)
    for _ in range(50):
        target = rng.normal(size=(int(rng.integers(2, 60)), 3))
        pred = 0.5 * target + rng.normal(size=target.shape) + 0.3
        expected = [ccc_reference(p, t) for p, t in zip(pred.T, target.T)]
        np.testing.assert_allclose(ccc(pred, target), expected, atol=1e-12)
        assert ccc(pred[:, 0], target[:, 0]) == pytest.approx(expected[0])


def test_ccc_known_values():
    rng = np.random.default_rng(2)
    x = rng.normal(size=200)
    x -= x.mean()
    assert ccc(x, x) == pytest.approx(1.0)
    assert ccc(-x, x) == pytest.approx(-1.0)
    pearson = np.corrcoef(x, 2 * x + 1)[0, 1]
    assert pearson == pytest.approx(1.0)
    assert ccc(2 * x + 1, x) < pearson - 0.1  # scale and shift are penalised
    assert np.isnan(ccc([1.0, 1.0], [1.0, 1.0]))  # undefined: 0 / 0


def test_ccc_excludes_nan_targets_per_dimension():
    rng = np.random.default_rng(3)
    target = rng.normal(size=(30, 3))
    pred = target + rng.normal(size=target.shape)
    missing = target.copy()
    missing[:10, 1] = np.nan
    values = ccc(pred, missing)
    assert values[0] == pytest.approx(ccc_reference(pred[:, 0], target[:, 0]))
    assert values[1] == pytest.approx(
        ccc_reference(pred[10:, 1], target[10:, 1])
    )
    missing[:, 2] = np.nan
    assert np.isnan(ccc(pred, missing)[2])


def test_ccc_loss_equals_one_minus_ccc():
    rng = np.random.default_rng(4)
    target = rng.normal(size=(25, 3))
    pred = 0.7 * target + rng.normal(size=target.shape)
    target[[1, 5, 7], 2] = np.nan
    target[3, 0] = np.nan
    loss = ccc_loss(torch.tensor(pred), torch.tensor(target))
    assert loss.item() == pytest.approx(1 - ccc(pred, target).mean())


def test_ccc_loss_gradcheck_with_missing_targets():
    generator = torch.Generator().manual_seed(5)
    pred = torch.randn(12, 3, dtype=torch.float64, generator=generator)
    target = torch.randn(12, 3, dtype=torch.float64, generator=generator)
    target[:4, 1] = float("nan")
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: ccc_loss(p, target), (pred,))
    assert torch.autograd.gradcheck(lambda p: mse_loss(p, target), (pred,))
    ccc_loss(pred, target).backward()
    assert torch.isfinite(pred.grad).all()


def test_ccc_loss_ignores_nan_targets():
    generator = torch.Generator().manual_seed(6)
    target = torch.randn(20, 3, generator=generator)
    pred = torch.randn(20, 3, generator=generator, requires_grad=True)
    target[:5, 0] = float("nan")
    loss = ccc_loss(pred, target)
    loss.backward()
    assert torch.isfinite(loss)
    # Predictions whose target is missing get no gradient at all.
    assert torch.all(pred.grad[:5, 0] == 0)
    assert torch.all(pred.grad[5:, 0] != 0)
    # Changing them does not change the loss.
    moved = pred.detach().clone()
    moved[:5, 0] += 100.0
    assert ccc_loss(moved, target).item() == pytest.approx(loss.item())
    # A dimension without any target is left out of the mean.
    target[:, 2] = float("nan")
    expected = 1 - ccc(pred.detach()[:, :2], target[:, :2]).mean()
    assert ccc_loss(pred, target).item() == pytest.approx(expected, abs=1e-5)


def test_ccc_loss_in_half_precision_is_computed_in_float32():
    generator = torch.Generator().manual_seed(10)
    target = torch.randn(16, 3, generator=generator)
    pred = (target + 0.5 * torch.randn(16, 3, generator=generator)).half()
    loss = ccc_loss(pred, target.half())
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(
        1 - ccc(pred.float(), target.half().float()).mean(), abs=1e-5
    )


def test_ccc_loss_without_any_target_is_zero_and_backpropagates():
    pred = torch.randn(4, 3, requires_grad=True)
    loss = ccc_loss(pred, torch.full((4, 3), float("nan")))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.all(pred.grad == 0)


def test_mse_loss_masks_per_dimension():
    pred = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 4.0]])
    target = torch.tensor([[0.0, float("nan")], [1.0, 0.0], [0.0, 0.0]])
    # dim 0: (1 + 4 + 0) / 3; dim 1: (4 + 16) / 2
    assert mse_loss(pred, target).item() == pytest.approx((5 / 3 + 10) / 2)


def test_optimising_ccc_loss_increases_ccc():
    generator = torch.Generator().manual_seed(7)
    features = torch.randn(64, 5, generator=generator)
    target = features @ torch.randn(5, 3, generator=generator) + 2.0
    target[::4, 1] = float("nan")
    layer = torch.nn.Linear(5, 3)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.05)
    before = ccc(layer(features).detach(), target).mean()
    for _ in range(200):
        optimizer.zero_grad()
        ccc_loss(layer(features), target).backward()
        optimizer.step()
    after = ccc(layer(features).detach(), target)
    assert after.mean() > max(before, 0.95)


def test_emotion_metrics_batches_equal_concatenation():
    rng = np.random.default_rng(8)
    labels = ["neu", "hap", "ang", "sad"]
    stats = EmotionMetrics("categorical", label_names=labels)
    all_logits, all_targets, all_ids = [], [], []
    for batch in range(5):
        size = int(rng.integers(1, 9))
        logits = torch.tensor(rng.normal(size=(size, 4)))
        targets = torch.tensor(rng.integers(0, 3, size))  # "sad" never true
        ids = [f"b{batch}_{i}" for i in range(size)]
        stats.append(ids, logits, targets.unsqueeze(1))
        all_logits.append(logits)
        all_targets.append(targets)
        all_ids += ids
    predictions = torch.cat(all_logits).argmax(dim=1)
    targets = torch.cat(all_targets)
    summary = stats.summarize()
    assert summary["WA"] == weighted_accuracy(targets, predictions)
    assert summary["UA"] == unweighted_accuracy(targets, predictions)
    # Over the classes of the data: "sad" is never true.
    assert summary["macro_F1"] == macro_f1(
        targets, predictions, labels=[0, 1, 2]
    )
    assert summary["classes"] == ["neu", "hap", "ang"]
    assert summary["confusion"] == (
        confusion_matrix(targets, predictions, 4).tolist()
    )
    assert summary["n"] == len(all_ids)
    assert stats.summarize("UA") == summary["UA"]
    rows = stats.per_utterance()
    assert [row["id"] for row in rows] == all_ids
    assert [row["prediction"] for row in rows] == [
        labels[i] for i in predictions
    ]
    assert [row["target"] for row in rows] == [labels[i] for i in targets]
    np.testing.assert_allclose(
        [row["scores"] for row in rows], torch.cat(all_logits).numpy()
    )
    stats.clear()
    with pytest.raises(ValueError):
        stats.summarize()


def test_emotion_metrics_class_indices_without_names():
    stats = EmotionMetrics("categorical")
    stats.append(["a", "b", "c"], torch.tensor([0, 2, 1]), [0, 1, 1])
    summary = stats.summarize()
    assert summary["WA"] == pytest.approx(2 / 3)
    assert summary["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    assert stats.per_utterance()[1] == {"id": "b", "prediction": 2, "target": 1}


def test_emotion_metrics_dimensional_with_missing_targets():
    rng = np.random.default_rng(9)
    stats = EmotionMetrics("dimensional")
    preds, targets = [], []
    for batch in range(4):
        target = rng.normal(size=(6, 3))
        target[batch, 2] = np.nan
        pred = target + rng.normal(size=target.shape)
        stats.append([f"u{batch}_{i}" for i in range(6)], pred, target)
        preds.append(pred)
        targets.append(target)
    expected = ccc(np.concatenate(preds), np.concatenate(targets))
    summary = stats.summarize()
    assert summary["n"] == 24
    for name, value in zip(("arousal", "valence", "dominance"), expected):
        assert summary[f"CCC_{name}"] == pytest.approx(value)
    assert summary["CCC_mean"] == pytest.approx(expected.mean())
    row = stats.per_utterance()[0]
    assert row["target"]["dominance"] is None
    assert row["prediction"]["arousal"] == pytest.approx(preds[0][0, 0])


@pytest.mark.parametrize(
    "task, kwargs, predictions, targets",
    [
        ("categorical", {"label_names": ["a", "b"]}, [0, 2], [0, 1]),
        ("dimensional", {}, np.zeros((2, 2)), np.zeros((2, 2))),
        ("categorical", {}, [0, 1, 1], [0, 1]),
        ("categorical", {"label_names": ["a", "b"]}, np.eye(3)[:2], [0, 1]),
    ],
)
def test_emotion_metrics_rejects_bad_batches(
    task, kwargs, predictions, targets
):
    stats = EmotionMetrics(task, **kwargs)
    with pytest.raises(ValueError):
        stats.append(["x", "y"], predictions, targets)


def test_emotion_metrics_unknown_task():
    with pytest.raises(ValueError, match="task"):
        EmotionMetrics("ordinal")


def test_macro_f1_and_ua_average_over_the_classes_of_the_data():
    """An 8-output head scored on a 4-class test set: stray predictions
    of classes the data lacks count against the true classes' recall and
    F1, but add no zero-F1 class of their own."""
    labels = ["neu", "hap", "ang", "sad", "sur", "fea", "dis", "con"]
    rng = np.random.default_rng(3)
    targets = rng.integers(0, 4, 200)
    predictions = targets.copy()
    stray = rng.random(200) < 0.3
    predictions[stray] = rng.integers(4, 8, stray.sum())
    stats = EmotionMetrics("categorical", label_names=labels)
    stats.append([str(i) for i in range(200)], predictions, targets)
    summary = stats.summarize()
    _, ua, _, confusion = reference_metrics(targets, predictions, 8)
    f1s = [
        2 * confusion[c][c] / (sum(confusion[c]) + sum(r[c] for r in confusion))
        for c in range(4)
    ]
    assert summary["classes"] == labels[:4]
    assert summary["UA"] == pytest.approx(ua)
    assert summary["macro_F1"] == pytest.approx(sum(f1s) / 4)
    assert summary["macro_F1"] > macro_f1(targets, predictions) + 0.2
    for c, name in enumerate(labels[:4]):
        scores = summary["per_class"][name]
        assert scores["F1"] == pytest.approx(f1s[c])
        assert scores["recall"] == pytest.approx(
            confusion[c][c] / sum(confusion[c])
        )
        assert scores["n"] == int((targets == c).sum())


def test_scores_per_gender_and_speaker_equal_their_definitions():
    """UA and WA of each gender's and each speaker's utterances (by the
    plain-loop reference), the gap female minus male, and CCC per group
    for dimensions."""
    rng = np.random.default_rng(5)
    labels = ["neu", "hap", "ang", "sad"]
    n = 120
    targets, predictions = rng.integers(0, 4, n), rng.integers(0, 4, n)
    speakers = [f"s{i % 6}" for i in range(n)]
    genders = ["F" if i % 6 < 3 else "M" for i in range(n)]
    rows = [
        {"id": str(i), "prediction": labels[p], "target": labels[t]}
        for i, (p, t) in enumerate(zip(predictions, targets))
    ]
    groups = {
        str(i): {"gender": g, "speaker": s}
        for i, (g, s) in enumerate(zip(genders, speakers))
    }
    scored = group_scores(rows, groups, labels)

    def reference(mask):
        wa, ua, _, _ = reference_metrics(targets[mask], predictions[mask], 4)
        return {"UA": pytest.approx(ua), "WA": pytest.approx(wa)}

    for kind, values in (("gender", genders), ("speaker", speakers)):
        values = np.array(values)
        assert sorted(scored[kind]) == sorted(set(values))
        for name, scores in scored[kind].items():
            mask = values == name
            assert scores["n"] == mask.sum()
            assert {k: scores[k] for k in ("UA", "WA")} == reference(mask)
    assert scored["gender_gap"] == pytest.approx(
        scored["gender"]["F"]["UA"] - scored["gender"]["M"]["UA"]
    )
    dims = ("arousal", "valence", "dominance")
    values = rng.normal(size=(n, 3))
    noisy = values + rng.normal(size=(n, 3))
    rows = [
        {
            "id": str(i),
            "prediction": dict(zip(dims, noisy[i])),
            "target": dict(zip(dims, values[i])),
        }
        for i in range(n)
    ]
    female = np.array(genders) == "F"
    dimensional = group_scores(rows, groups)["gender"]["F"]
    np.testing.assert_allclose(
        [dimensional[f"CCC_{d}"] for d in dims],
        ccc(noisy[female], values[female]),
    )
