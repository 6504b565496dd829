"""Figures of a results table draw the table's numbers.

Authors
 * speechbrain-peft-ser developers 2026
"""

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from speechbrain_peft.results import aggregate
from speechbrain_peft.runs.table_plots import (
    _share_axis,
    figure_rows,
    write_figures,
)

UA = {  # config -> fold -> seed -> test UA
    "lora": {1: {1: 0.50, 2: 0.54}, 2: {1: 0.70, 2: 0.66}},
    "full_ft": {1: {1: 0.60, 2: 0.61}, 2: {1: 0.58, 2: 0.64}},
}
PCT = {"lora": 1.2, "full_ft": 100.0}


def _runs(with_pct=True):
    return [
        {
            "corpus": "IEMOCAP",
            "config": config,
            "task": "categorical",
            "fold": fold,
            "folds": [1, 2],
            "seed": seed,
            "params": {"trainable_pct": PCT[config]} if with_pct else {},
            "splits": {"test": {"UA": ua}, "dev": {"UA": 0.1}},
        }
        for config, folds in UA.items()
        for fold, seeds in folds.items()
        for seed, ua in seeds.items()
    ]


def test_figure_points_are_means_and_stds_over_fold_means(tmp_path):
    paths = write_figures(aggregate(_runs(), n_boot=10), tmp_path)
    assert sorted(path.name for path in paths) == [
        "bars_categorical.csv",
        "bars_categorical.png",
        "tradeoff_categorical.csv",
        "tradeoff_categorical.png",
    ]
    drawn = pd.read_csv(tmp_path / "tradeoff_categorical.csv")
    for config, folds in UA.items():
        fold_means = [np.mean(list(seeds.values())) for seeds in folds.values()]
        row = drawn[drawn["config"] == config].iloc[0]
        assert row["mean"] == pytest.approx(np.mean(fold_means))
        assert row["std"] == pytest.approx(np.std(fold_means, ddof=1))
        assert row["trainable_pct"] == PCT[config]
        assert (row["split"], row["units"], row["n_runs"]) == (
            "test",
            "2 folds (seeds averaged within each)",
            4,
        )
    for png in tmp_path.glob("*.png"):
        height, width, _ = matplotlib.image.imread(png).shape
        assert height > 100 and width > 100


def test_rows_without_a_trainable_share_are_named_not_drawn(tmp_path, capsys):
    write_figures(aggregate(_runs(with_pct=False), n_boot=10), tmp_path)
    printed = capsys.readouterr().out
    assert "no trainable share for IEMOCAP full_ft, IEMOCAP lora" in printed
    bars = pd.read_csv(tmp_path / "bars_categorical.csv")
    assert sorted(bars["config"]) == ["full_ft", "lora"]


def test_only_the_chosen_split_and_headline_metric_are_drawn():
    rows = figure_rows(aggregate(_runs(), n_boot=10), split="dev")
    assert list(rows) == [("categorical", "UA")]
    assert rows["categorical", "UA"]["mean"].tolist() == [0.1, 0.1]


def test_labels_name_only_the_settings_that_tell_a_method_apart():
    runs = _runs()
    for run in runs:
        settings = {"method": run["config"], "lr": 0.1, "batch_size": 8}
        run["experiment"] = {"id": run["config"], "settings": settings}
    runs[0]["experiment"] = {
        "id": "lora fast",
        "settings": {"method": "lora", "lr": 0.5, "batch_size": 8},
    }
    runs[0]["fold"] = runs[0]["seed"] = 1
    rows = figure_rows(aggregate(runs, n_boot=10))["categorical", "UA"]
    assert sorted(rows["label"]) == [
        "IEMOCAP full_ft",
        "IEMOCAP lora lr=0.1",
        "IEMOCAP lora lr=0.5",
    ]


def test_each_corpus_is_drawn_on_its_headline_test_split():
    natural = [
        {
            "corpus": "MSP-Podcast",
            "config": "lora",
            "task": "categorical",
            "seed": seed,
            "params": {"trainable_pct": 1.2},
            "splits": {"test1": {"UA": 0.4}, "test2": {"UA": 0.9}},
        }
        for seed in (1, 2)
    ]
    rows = figure_rows(aggregate(_runs() + natural, n_boot=10))
    drawn = rows["categorical", "UA"].set_index("label")
    assert drawn.loc["MSP-Podcast lora", "split"] == "test1"
    assert drawn.loc["MSP-Podcast lora", "mean"] == pytest.approx(0.4)
    assert set(drawn.loc[["IEMOCAP lora", "IEMOCAP full_ft"], "split"]) == {
        "test"
    }


@pytest.mark.parametrize(
    "shares, scale",
    [([20.63, 20.84], "linear"), ([0.4, 1.2, 100.0], "log")],
)
def test_share_axis_ticks_read_as_plain_percentages(shares, scale):
    from matplotlib.figure import Figure

    figure = Figure()
    axes = figure.add_subplot()
    axes.plot(shares, [0.5] * len(shares), "o")
    _share_axis(axes, pd.Series(shares))
    figure.canvas.draw()
    labels = [
        tick.get_text()
        for tick in axes.get_xticklabels(which="both")
        if tick.get_text()
    ]
    assert axes.get_xscale() == scale
    assert labels and all(float(label) > 0 for label in labels), labels
    assert axes.xaxis.get_offset_text().get_text() == ""
