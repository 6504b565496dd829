"""Speech emotion recognition metrics and a SpeechBrain-style accumulator.

Categorical: weighted accuracy (WA, plain accuracy), unweighted accuracy
(UA, balanced accuracy), macro-F1 and the confusion matrix, computed by
scikit-learn (``accuracy_score``, ``balanced_accuracy_score``,
``f1_score(average="macro", zero_division=0)``, ``confusion_matrix``) after
the inputs are checked here. Dimensional: the concordance correlation
coefficient (CCC), which scikit-learn does not have. Labels are integer
class indices; inputs may be lists, numpy arrays or torch tensors.

Authors
 * speechbrain-peft-ser developers 2026
"""

import warnings

import numpy as np
import torch
from sklearn import metrics as sk

TASKS = ("categorical", "dimensional")


def _to_numpy(values):
    """A numpy array from a list, numpy array or (possibly CUDA or half
    precision) tensor."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        if values.dtype in (torch.bfloat16, torch.float16):
            values = values.float()  # numpy has no bfloat16
        values = values.numpy()
    return np.asarray(values)


def _as_labels(values, name):
    """A 1-D int64 array of non-negative class indices."""
    array = _to_numpy(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{name} must be integer class indices")
    elif array.dtype.kind not in "iub":
        raise ValueError(f"{name} must be integer class indices")
    array = array.astype(np.int64)
    if np.any(array < 0):
        raise ValueError(f"{name} must be non-negative class indices")
    return array


def _check_pair(targets, predictions, n_classes):
    """Validated label arrays and the number of classes to count."""
    targets = _as_labels(targets, "targets")
    predictions = _as_labels(predictions, "predictions")
    if targets.shape != predictions.shape:
        raise ValueError(
            f"targets and predictions differ in length: {targets.shape[0]} "
            f"vs {predictions.shape[0]}"
        )
    if targets.size == 0:
        raise ValueError("no labels given")
    largest = int(max(targets.max(), predictions.max()))
    if n_classes is None:
        n_classes = largest + 1
    elif largest >= n_classes:
        raise ValueError(
            f"label {largest} outside range(n_classes={n_classes})"
        )
    return targets, predictions, n_classes


def confusion_matrix(targets, predictions, n_classes):
    """Counts of (true, predicted) label pairs.

    Arguments
    ---------
    targets : array-like
        True class indices, shape ``[N]``.
    predictions : array-like
        Predicted class indices, shape ``[N]``.
    n_classes : int
        Number of classes ``C``; labels must lie in ``range(C)``.

    Returns
    -------
    numpy.ndarray
        ``[C, C]`` int64 counts, rows = true class, columns = predicted.

    Example
    -------
    >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], n_classes=3)
    array([[1, 1, 0],
           [0, 1, 0],
           [0, 1, 0]])
    """
    targets, predictions, n_classes = _check_pair(
        targets, predictions, n_classes
    )
    return sk.confusion_matrix(
        targets, predictions, labels=np.arange(n_classes)
    )


def weighted_accuracy(targets, predictions):
    """Weighted accuracy (WA): the fraction of correct predictions.

    Arguments
    ---------
    targets : array-like
        True class indices, shape ``[N]``.
    predictions : array-like
        Predicted class indices, shape ``[N]``.

    Returns
    -------
    float
        Accuracy, as ``sklearn.metrics.accuracy_score``.

    Example
    -------
    >>> weighted_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
    0.75
    """
    targets, predictions, _ = _check_pair(targets, predictions, None)
    return float(sk.accuracy_score(targets, predictions))


def unweighted_accuracy(targets, predictions, n_classes=None):
    """Unweighted accuracy (UA): the mean per-class recall.

    The mean runs over the classes present in ``targets`` (a class never
    seen in ``targets`` has no recall), exactly as
    ``sklearn.metrics.balanced_accuracy_score``.

    Arguments
    ---------
    targets : array-like
        True class indices, shape ``[N]``.
    predictions : array-like
        Predicted class indices, shape ``[N]``.
    n_classes : int, optional
        When given, labels outside ``range(n_classes)`` raise ``ValueError``;
        it does not change which classes are averaged.

    Returns
    -------
    float
        Balanced accuracy.

    Example
    -------
    >>> unweighted_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
    0.5
    """
    targets, predictions, _ = _check_pair(targets, predictions, n_classes)
    with warnings.catch_warnings():
        # sklearn warns when a predicted class never occurs in targets; UA
        # averages over the true classes only, which is what it returns.
        warnings.simplefilter("ignore", UserWarning)
        return float(sk.balanced_accuracy_score(targets, predictions))


def macro_f1(targets, predictions, n_classes=None, labels=None):
    """Macro-averaged F1.

    Per-class F1 is ``2 TP / (2 TP + FP + FN)`` (0 when undefined, i.e.
    ``zero_division=0``). The mean runs over ``labels`` when given (the
    evaluated data's classes: a prediction of another class then counts
    against the true class's recall and F1 but adds no class of its own);
    without it, as in ``sklearn.metrics.f1_score(average="macro")``, over
    the union of the classes present in ``targets`` and in
    ``predictions``.

    Arguments
    ---------
    targets : array-like
        True class indices, shape ``[N]``.
    predictions : array-like
        Predicted class indices, shape ``[N]``.
    n_classes : int, optional
        When given, labels outside ``range(n_classes)`` raise ``ValueError``;
        it does not change which classes are averaged.
    labels : list of int, optional
        The classes to average over.

    Returns
    -------
    float
        Macro-F1.

    Example
    -------
    >>> macro_f1([0, 0, 1, 1], [0, 1, 1, 1])
    0.7333333333333334
    >>> macro_f1([0, 0], [0, 0], n_classes=4)  # absent classes 1-3 ignored
    1.0
    >>> macro_f1([0, 1], [0, 3])  # the stray class 3 counts as F1 = 0
    0.3333333333333333
    >>> macro_f1([0, 1], [0, 3], labels=[0, 1])  # over the data's classes
    0.5
    """
    targets, predictions, _ = _check_pair(targets, predictions, n_classes)
    return float(
        sk.f1_score(
            targets,
            predictions,
            labels=labels,
            average="macro",
            zero_division=0,
        )
    )


def per_class_scores(targets, predictions, labels):
    """Recall, F1 and the number of true utterances of each class.

    Example
    -------
    >>> per_class_scores([0, 0, 1], [0, 1, 1], labels=[0, 1])[0]
    {'recall': 0.5, 'F1': 0.6666666666666666, 'n': 2}
    """
    targets, predictions, _ = _check_pair(targets, predictions, None)
    recall, f1 = (
        sk.recall_score(
            targets, predictions, labels=labels, average=None, zero_division=0
        ),
        sk.f1_score(
            targets, predictions, labels=labels, average=None, zero_division=0
        ),
    )
    counts = np.bincount(targets, minlength=max(labels) + 1)
    return {
        label: {"recall": float(r), "F1": float(f), "n": int(counts[label])}
        for label, r, f in zip(labels, recall, f1)
    }


def ccc(predictions, targets):
    """Concordance correlation coefficient (Lin, 1989).

    ``2 cov(p, t) / (var(p) + var(t) + (mean(p) - mean(t))^2)`` with
    population (biased, ``ddof=0``) moments, computed in float64. Entries
    whose target is NaN are left out (per dimension for 2-D inputs). The
    result is NaN when no entry is left or the denominator is 0 (both series
    constant and equal).

    Arguments
    ---------
    predictions : array-like
        ``[N]`` or ``[N, D]`` predicted values.
    targets : array-like
        Same shape as ``predictions``; may contain NaN for missing values.

    Returns
    -------
    float or numpy.ndarray
        A float for 1-D inputs, a ``[D]`` array for 2-D inputs.

    Example
    -------
    >>> ccc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    >>> ccc([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    -1.0
    >>> ccc([[0.0, 1.0], [2.0, 2.0]], [[0.0, float("nan")], [2.0, 5.0]])
    array([1., 0.])
    """
    predictions = _to_numpy(predictions).astype(np.float64)
    targets = _to_numpy(targets).astype(np.float64)
    if predictions.shape != targets.shape or predictions.ndim not in (1, 2):
        raise ValueError(
            "predictions and targets must have the same [N] or [N, D] shape, "
            f"got {predictions.shape} and {targets.shape}"
        )
    if predictions.ndim == 1:
        return float(ccc(predictions[:, None], targets[:, None])[0])
    values = []
    for pred, target in zip(predictions.T, targets.T):
        valid = ~np.isnan(target)
        pred, target = pred[valid], target[valid]
        if pred.size == 0:
            values.append(np.nan)
            continue
        mean_p, mean_t = pred.mean(), target.mean()
        covariance = np.mean((pred - mean_p) * (target - mean_t))
        denominator = pred.var() + target.var() + (mean_p - mean_t) ** 2
        values.append(2 * covariance / denominator if denominator else np.nan)
    return np.array(values)


class EmotionMetrics:
    """Accumulates predictions over batches, then computes the task metrics.

    Follows ``speechbrain.utils.metric_stats.MetricStats``: ``clear()``,
    ``append(ids, predictions, targets)``, ``summarize(field=None)``.

    Arguments
    ---------
    task : str
        ``"categorical"`` or ``"dimensional"``.
    label_names : list of str, optional
        Categorical class names, index order; fixes the number of classes
        (the confusion matrix size) and names the per-utterance labels.
    dim_names : tuple of str
        Dimensional output names, column order.

    Example
    -------
    >>> stats = EmotionMetrics("categorical", label_names=["neu", "hap"])
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    >>> stats.append(["a", "b", "c"], logits, torch.tensor([0, 1, 1]))
    >>> summary = stats.summarize()
    >>> round(summary["WA"], 3), summary["UA"], summary["confusion"]
    (0.667, 0.75, [[1, 0], [1, 1]])
    >>> stats.per_utterance()[2]["prediction"]
    'neu'
    >>> dim = EmotionMetrics("dimensional")
    >>> values = torch.tensor([[0.1, 0.2, 0.3], [0.5, 0.4, 0.3]])
    >>> dim.append(["a", "b"], values, values)
    >>> dim.summarize("CCC_arousal")
    1.0
    """

    def __init__(
        self,
        task,
        label_names=None,
        dim_names=("arousal", "valence", "dominance"),
    ):
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.task = task
        self.label_names = None if label_names is None else list(label_names)
        self.dim_names = tuple(dim_names)
        self.clear()

    def clear(self):
        """Empties the storage, removing existing stats."""
        self.ids = []
        self.predictions = []
        self.targets = []
        self.scores = []
        self.summary = {}

    def append(self, ids, predictions, targets):
        """Stores one batch.

        Arguments
        ---------
        ids : list of str
            Utterance IDs, one per batch item.
        predictions : torch.Tensor or array-like
            Categorical: logits, log-probabilities or probabilities
            ``[B, C]`` (argmax is the prediction; the scores are kept for
            ``per_utterance``) or class indices ``[B]``. Dimensional:
            ``[B, D]`` values.
        targets : torch.Tensor or array-like
            Categorical: class indices ``[B]`` (or ``[B, 1]``).
            Dimensional: ``[B, D]`` values, NaN where a dimension is missing
            (excluded from that dimension's CCC).
        """
        ids = list(ids)
        if self.task == "categorical":
            predictions, targets, scores = self._categorical(
                predictions, targets
            )
        else:
            predictions, targets = self._dimensional(predictions, targets)
            scores = [None] * len(ids)
        if not len(ids) == len(predictions) == len(targets):
            raise ValueError(
                f"{len(ids)} ids for {len(predictions)} predictions and "
                f"{len(targets)} targets"
            )
        self.ids.extend(ids)
        self.predictions.extend(predictions)
        self.targets.extend(targets)
        self.scores.extend(scores)

    def _categorical(self, predictions, targets):
        """Validated class indices and the per-utterance scores (or None)."""
        predictions = _to_numpy(predictions)
        targets = _as_labels(_to_numpy(targets).reshape(-1), "targets")
        n_classes = None
        if self.label_names is not None:
            n_classes = len(self.label_names)
        if predictions.ndim == 2:
            if n_classes is not None and predictions.shape[1] != n_classes:
                raise ValueError(
                    f"{predictions.shape[1]} scores per utterance for "
                    f"{n_classes} label names"
                )
            scores = predictions.astype(np.float64)
            predictions = scores.argmax(axis=1)
        else:
            scores = [None] * len(predictions)
        predictions = _as_labels(predictions, "predictions")
        if n_classes is not None:
            _check_pair(targets, predictions, n_classes)
        return predictions, targets, scores

    def _dimensional(self, predictions, targets):
        """Float64 ``[B, D]`` predictions and targets, shapes checked."""
        predictions = _to_numpy(predictions).astype(np.float64)
        targets = _to_numpy(targets).astype(np.float64)
        n_dims = len(self.dim_names)
        if (
            predictions.ndim != 2
            or predictions.shape[1] != n_dims
            or targets.shape != predictions.shape
        ):
            raise ValueError(
                f"dimensional predictions and targets must be [B, {n_dims}]"
                f", got {predictions.shape} and {targets.shape}"
            )
        return predictions, targets

    def summarize(self, field=None):
        """Computes the metrics over everything appended since ``clear()``.

        Arguments
        ---------
        field : str, optional
            Return only this entry of the summary.

        Returns
        -------
        dict or float
            Categorical: ``WA``, ``UA``, ``macro_F1`` (floats; UA and
            macro-F1 average over ``classes``, the classes present in the
            targets), ``per_class`` (recall, F1 and count per class of
            ``classes``), ``confusion`` (nested list, rows = true) and
            ``n``. Dimensional:
            ``CCC_<dim>`` per dimension, ``CCC_mean`` (NaN if any dimension
            is NaN) and ``n`` (utterances).
        """
        if not self.ids:
            raise ValueError("no predictions appended")
        predictions = np.stack(self.predictions)
        targets = np.stack(self.targets)
        if self.task == "categorical":
            n_classes = None
            if self.label_names is not None:
                n_classes = len(self.label_names)
            targets, predictions, n_classes = _check_pair(
                targets, predictions, n_classes
            )
            # UA and macro-F1 average over the classes of the evaluated
            # data, whatever else the head can predict.
            present = sorted(set(targets.tolist()))
            self.summary = {
                "WA": weighted_accuracy(targets, predictions),
                "UA": unweighted_accuracy(targets, predictions),
                "macro_F1": macro_f1(targets, predictions, labels=present),
                "classes": [self._label(c) for c in present],
                "per_class": {
                    self._label(c): scores
                    for c, scores in per_class_scores(
                        targets, predictions, present
                    ).items()
                },
                "confusion": confusion_matrix(
                    targets, predictions, n_classes
                ).tolist(),
            }
        else:
            values = ccc(predictions, targets)
            self.summary = {
                f"CCC_{name}": float(value)
                for name, value in zip(self.dim_names, values)
            }
            self.summary["CCC_mean"] = float(np.mean(values))
        self.summary["n"] = len(self.ids)
        if field is not None:
            return self.summary[field]
        return self.summary

    def per_utterance(self):
        """One JSON-friendly dict per appended utterance, in append order.

        Returns
        -------
        list of dict
            Categorical: ``id``, ``prediction`` and ``target`` (label names
            if ``label_names`` was given, else indices) and, when scores
            were appended, ``scores`` (the ``[C]`` values as given).
            Dimensional: ``id``, ``prediction`` and ``target`` as
            ``{dim_name: value}`` with ``None`` for a missing target.

        Example
        -------
        >>> stats = EmotionMetrics("dimensional", dim_names=("a", "v"))
        >>> stats.append(["u1"], [[0.5, 0.25]], [[1.0, float("nan")]])
        >>> stats.per_utterance()
        [{'id': 'u1', 'prediction': {'a': 0.5, 'v': 0.25}, \
'target': {'a': 1.0, 'v': None}}]
        """
        if self.task == "dimensional":
            return [
                {
                    "id": utt_id,
                    "prediction": dict(zip(self.dim_names, pred.tolist())),
                    "target": {
                        name: None if np.isnan(value) else float(value)
                        for name, value in zip(self.dim_names, target)
                    },
                }
                for utt_id, pred, target in zip(
                    self.ids, self.predictions, self.targets
                )
            ]
        rows = []
        for utt_id, pred, target, scores in zip(
            self.ids, self.predictions, self.targets, self.scores
        ):
            row = {
                "id": utt_id,
                "prediction": self._label(pred),
                "target": self._label(target),
            }
            if scores is not None:
                row["scores"] = scores.tolist()
            rows.append(row)
        return rows

    def _label(self, index):
        """The label name of a class index, or the index itself."""
        if self.label_names is None:
            return int(index)
        return self.label_names[index]


# The groups scored apart, by the manifest column that names them.
GROUP_COLUMNS = {"gender": "gender", "speaker": "spk_id"}


def group_scores(rows, groups, label_names=None):
    """Scores per gender and per speaker of one evaluated split, and the
    gap between genders.

    Arguments
    ---------
    rows : list of dict
        :meth:`EmotionMetrics.per_utterance` of the split.
    groups : dict
        ``{utterance id: {"gender": ..., "speaker": ...}}`` (a missing or
        empty value leaves the utterance out of that kind of group).
    label_names : list of str, optional
        The class names (categorical); None for dimensions.

    Returns
    -------
    dict
        ``{"gender": {"F": scores, ...}, "speaker": {...}}``, each scores
        ``UA``, ``WA`` and ``n`` (categorical) or ``CCC_<dim>``,
        ``CCC_mean`` and ``n``; and ``gender_gap``: female minus male UA
        (or mean CCC), None unless both are scored.

    Example
    -------
    >>> rows = [{"id": i, "prediction": p, "target": t} for i, p, t in
    ...         (("a", "neu", "neu"), ("b", "ang", "neu"), ("c", "ang", "ang"))]
    >>> groups = {"a": {"gender": "F"}, "b": {"gender": "M"},
    ...           "c": {"gender": "M"}}
    >>> scores = group_scores(rows, groups, ["neu", "ang"])
    >>> scores["gender"]["M"], scores["gender_gap"]
    ({'UA': 0.5, 'WA': 0.5, 'n': 2}, 0.5)
    """
    scored = {}
    for kind in GROUP_COLUMNS:
        members = {}
        for row in rows:
            value = (groups.get(row["id"]) or {}).get(kind)
            if isinstance(value, str) and value:
                members.setdefault(value, []).append(row)
        scored[kind] = {
            name: _scores(members[name], label_names)
            for name in sorted(members)
        }
    key = "UA" if label_names is not None else "CCC_mean"
    genders = scored["gender"]
    scored["gender_gap"] = (
        genders["F"][key] - genders["M"][key]
        if {"F", "M"} <= set(genders)
        else None
    )
    return scored


def _scores(rows, label_names):
    """UA, WA and n (categorical) or CCC per dimension, mean and n."""
    if label_names is not None:
        index = {name: i for i, name in enumerate(label_names)}
        targets = [index[row["target"]] for row in rows]
        predictions = [index[row["prediction"]] for row in rows]
        return {
            "UA": unweighted_accuracy(targets, predictions),
            "WA": weighted_accuracy(targets, predictions),
            "n": len(rows),
        }
    names = list(rows[0]["target"])
    predictions = [[row["prediction"][n] for n in names] for row in rows]
    targets = [
        [
            np.nan if row["target"][n] is None else row["target"][n]
            for n in names
        ]
        for row in rows
    ]
    values = ccc(np.array(predictions), np.array(targets))
    scores = {f"CCC_{n}": float(v) for n, v in zip(names, values)}
    scores["CCC_mean"] = float(np.mean(values))
    scores["n"] = len(rows)
    return scores


def add_group_scores(evaluated, groups, label_names=None):
    """Put each split's :func:`group_scores` into its metrics: ``groups``
    and the scalar ``gender_gap``, which the results table averages like
    any metric.

    Arguments
    ---------
    evaluated : dict
        ``{split: {"stats": ..., "predictions": ...}}``, changed in place.
    groups : dict
        ``{split: {id: {"gender", "speaker"}}}``.
    label_names : list of str, optional
        The class names (categorical).
    """
    for split, outcome in evaluated.items():
        if split in groups:
            scored = group_scores(
                outcome["predictions"], groups[split], label_names
            )
            outcome["stats"]["gender_gap"] = scored.pop("gender_gap")
            outcome["stats"]["groups"] = scored
