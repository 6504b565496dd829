"""The results aggregator (API and command line) and the run figures.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from speechbrain_peft.evaluate import evaluation_experiment
from speechbrain_peft.results import (
    aggregate,
    bootstrap_ci,
    load_results,
    to_markdown,
)
from speechbrain_peft.runs.experiment import experiment_id
from speechbrain_peft.runs.plots import plot_confusion, plot_training_curves

REPO = Path(__file__).resolve().parents[2]
LORA_UA = [0.61, 0.55, 0.66, 0.58, 0.63]
FROZEN_UA = [0.41, 0.47]
CCC_MEAN = [0.31, 0.35, 0.28]


def categorical_run(config, fold, ua, trainable):
    """A results.json in the training code's schema, with extra keys."""
    return {
        "config": config,
        "corpus": "IEMOCAP",
        "task": "categorical",
        "encoder": "microsoft/wavlm-large",
        "adapters": [config],
        "seed": 1986,
        "fold": fold,
        "params": {
            "trainable": trainable,
            "total": 94_000_000,
            "trainable_pct": 100 * trainable / 94_000_000,
        },
        "label_set": ["neu", "hap", "ang", "sad"],
        "splits": {
            "dev": {"WA": ua + 0.02, "UA": ua + 0.01, "macro_F1": ua, "n": 50},
            "test": {
                "WA": ua - 0.01,
                "UA": ua,
                "macro_F1": ua - 0.02,
                "confusion": [[1, 2], [3, 4]],
                "n": 100,
                "ok": True,
            },
        },
        "parent_run": None,
        "history": [{"epoch": 1, "train_loss": 1.0}],
    }


def dimensional_run(seed, ccc_mean):
    """A stage-two dimensional results.json with custom split names."""
    return {
        "config": "stage2_lora_dim",
        "corpus": "MSP-Podcast",
        "task": "dimensional",
        "seed": seed,
        "params": {"trainable": 1000},
        "splits": {
            split: {
                "CCC_arousal": ccc_mean + 0.1,
                "CCC_valence": ccc_mean - 0.1,
                "CCC_dominance": ccc_mean,
                "CCC_mean": ccc_mean,
                "n": 10,
            }
            for split in ("source_test", "target_test")
        },
    }


@pytest.fixture
def run_dirs(tmp_path):
    """Fake run folders: 5 LoRA folds, 2 frozen folds, 3 dimensional seeds."""
    runs = []
    for fold, ua in enumerate(LORA_UA, start=1):
        runs.append((f"lora/fold{fold}", categorical_run("lora", fold, ua, 7)))
    for fold, ua in enumerate(FROZEN_UA, start=1):
        runs.append(
            (f"frozen/fold{fold}", categorical_run("frozen", fold, ua, 3))
        )
    for seed, value in enumerate(CCC_MEAN):
        runs.append((f"dim/seed{seed}", dimensional_run(seed, value)))
    for name, result in runs:
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(result))
        (folder / "train_log.txt").write_text("epoch: 1\n")
    return tmp_path / "runs"


def row(table, config, split, metric):
    """The aggregate row of one config, split and metric."""
    match = table[
        (table["config"] == config)
        & (table["split"] == split)
        & (table["metric"] == metric)
    ]
    assert len(match) == 1
    return match.iloc[0]


def results_of(paths):
    """The readable results.json contents under ``paths``."""
    results, broken = load_results(paths)
    assert broken == []
    return results


def test_load_results_accepts_folders_files_and_parents(run_dirs):
    lora = sorted((run_dirs / "lora").iterdir())
    assert len(results_of([run_dirs])) == 10
    assert len(results_of(lora)) == 5
    # A file given twice (as a folder and as a path) is read once.
    assert len(results_of([lora[0], lora[0] / "results.json"])) == 1
    with pytest.raises(FileNotFoundError):
        load_results([run_dirs / "missing"])
    empty = run_dirs / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError):
        load_results([empty])
    (empty / "results.json").write_text("[1, 2]")
    results, broken = load_results([empty])
    assert results == []
    assert broken == [(str(empty / "results.json"), "no 'splits' mapping")]


def test_aggregate_statistics_equal_numpy(run_dirs):
    table = aggregate(results_of([run_dirs]), n_boot=2000, seed=0)
    for config, values in (("lora", LORA_UA), ("frozen", FROZEN_UA)):
        ua = row(table, config, "test", "UA")
        assert ua["n_runs"] == len(values)
        assert ua["mean"] == pytest.approx(np.mean(values))
        assert ua["std"] == pytest.approx(np.std(values, ddof=1))
        assert min(values) <= ua["ci_low"] <= ua["mean"]
        assert ua["mean"] <= ua["ci_high"] <= max(values)
        assert ua["ci_low"] < ua["ci_high"]
    dev = row(table, "lora", "dev", "WA")
    assert dev["mean"] == pytest.approx(np.mean(LORA_UA) + 0.02)
    assert row(table, "lora", "test", "UA")["trainable_params"] == 7
    assert row(table, "frozen", "test", "UA")["trainable_params"] == 3
    dim = row(table, "stage2_lora_dim", "target_test", "CCC_mean")
    assert dim["mean"] == pytest.approx(np.mean(CCC_MEAN))
    assert dim["corpus"] == "MSP-Podcast" and dim["task"] == "dimensional"
    assert math.isnan(dim["trainable_pct"])
    # Counts, confusion matrices and booleans are not metrics.
    assert not table["metric"].isin(["n", "confusion", "ok"]).any()
    assert set(table["split"]) == {"dev", "test", "source_test", "target_test"}
    assert len(table) == 2 * 6 + 2 * 4


def test_aggregate_single_run_and_seeding(run_dirs):
    results = results_of([run_dirs / "lora" / "fold1"])
    single = row(aggregate(results), "lora", "test", "UA")
    assert single["n_runs"] == 1 and single["mean"] == LORA_UA[0]
    assert math.isnan(single["std"]) and math.isnan(single["ci_low"])
    assert "n/a" in to_markdown(aggregate(results))
    results = results_of([run_dirs / "lora"])
    first = aggregate(results, n_boot=500, seed=3)
    assert first.equals(aggregate(results, n_boot=500, seed=3))
    assert not first.equals(aggregate(results, n_boot=500, seed=4))


def test_bootstrap_ci_matches_manual_resampling():
    values = np.array([0.2, 0.9, 0.4, 0.5])
    rng = np.random.default_rng(11)
    means = values[rng.integers(0, 4, size=(300, 4))].mean(axis=1)
    expected = tuple(np.percentile(means, [2.5, 97.5]))
    assert bootstrap_ci(values, n_boot=300, seed=11) == pytest.approx(expected)
    with pytest.raises(ValueError):
        bootstrap_ci(values, n_boot=0)


def test_cli_prints_table_and_writes_markdown(run_dirs, tmp_path):
    out = tmp_path / "report" / "results.md"
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "speechbrain_peft.results",
            str(run_dirs / "lora"),
            str(run_dirs / "frozen" / "fold1" / "results.json"),
            str(run_dirs / "frozen" / "fold2"),
            "--markdown",
            str(out),
            "--bootstrap",
            "1000",
            "--seed",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "7 runs" in process.stdout
    assert "| corpus" in process.stdout
    lines = out.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| corpus"))
    assert "95% CI" in header and "trainable" in header
    names = [cell.strip() for cell in header.strip("|").split("|")]
    lora_ua = next(
        line
        for line in lines
        if all(cell in line for cell in ("| lora ", "| test ", "| UA "))
    )
    cells = dict(
        zip(names, (cell.strip() for cell in lora_ua.strip("|").split("|")))
    )
    shown = ("corpus", "config", "task", "split", "metric", "runs")
    assert [cells[name] for name in shown] == [
        "IEMOCAP",
        "lora",
        "categorical",
        "test",
        "UA",
        "5",
    ]
    assert cells["folds"] == "1-5" and cells["seeds"] == "1986"
    assert float(cells["mean"]) == pytest.approx(np.mean(LORA_UA), abs=1e-4)
    assert cells["trainable"].startswith("7 (")
    assert lora_ua in process.stdout


def test_cli_draws_figures_of_the_table(run_dirs, tmp_path):
    figures = tmp_path / "figures"
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "speechbrain_peft.results",
            str(run_dirs),
            "--figures",
            str(figures),
            "--bootstrap",
            "10",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    drawn = pd.read_csv(figures / "tradeoff_categorical.csv")
    lora = drawn[drawn["config"] == "lora"].iloc[0]
    assert lora["mean"] == pytest.approx(np.mean(LORA_UA))
    assert f"wrote {figures / 'bars_categorical.png'}" in process.stdout


def test_cli_reports_missing_paths(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "speechbrain_peft.results", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert process.returncode == 2
    assert "no results.json" in process.stderr


def test_plots_write_png_files(tmp_path):
    confusion = plot_confusion(
        [[5, 1, 0], [2, 3, 0], [0, 0, 0]],
        ["neu", "hap", "ang"],
        tmp_path / "figs" / "confusion.png",
        title="test",
    )
    history = [
        {"epoch": 1, "lr": 1e-4, "train_loss": 1.2, "valid_loss": 1.1},
        {"epoch": 2, "lr": 5e-5, "train_loss": 0.9, "valid_UA": 0.5},
        {"epoch": 3, "lr": 5e-5, "train_loss": 0.7, "valid_UA": 0.6},
    ]
    curves = plot_training_curves(history, tmp_path / "curves.png", "lora")
    losses_only = plot_training_curves(
        [{"train_loss": 1.0}, {"train_loss": 0.5}], tmp_path / "loss.png"
    )
    for path in (confusion, curves, losses_only):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 1000
    with pytest.raises(ValueError):
        plot_confusion([[1, 2]], ["a"], tmp_path / "bad.png")
    with pytest.raises(ValueError):
        plot_training_curves([{"epoch": 1}], tmp_path / "empty.png")


def experiment_run(fold, ua, seed=1986, folds=(1, 2, 3, 4, 5), **changes):
    """A results.json as the recipes write it: the experiment's settings
    (here a few of them, changed by ``changes``) and its id."""
    settings = {
        "config_name": "lora",
        "class_set": "4class_merge",
        "lr": 0.0001,
        "encoder": {"id": "wavlm-large", "revision": "commit:abc"},
        "encoder_config": {"lora_rank": 8},
        **changes,
    }
    return {
        **categorical_run("lora", fold, ua, 7),
        "seed": seed,
        "folds": list(folds),
        "experiment": {"id": experiment_id(settings), "settings": settings},
    }


def write_runs(root, runs):
    for index, run in enumerate(runs):
        folder = root / f"run{index}"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(run))
    return root


def test_runs_of_different_experiments_are_separate_rows():
    hubert = {"encoder": {"id": "hubert-large-ll60k", "revision": "x"}}
    parent = {"parent_experiment": "0123456789ab"}
    runs = [experiment_run(fold, 0.6) for fold in range(1, 6)]
    runs += [experiment_run(fold, 0.5, **hubert) for fold in range(1, 6)]
    runs += [experiment_run(fold, 0.4, class_set="all") for fold in (1, 2)]
    runs += [experiment_run(fold, 0.3, **parent) for fold in range(1, 6)]
    table = aggregate(runs, n_boot=100)
    ua = table[(table["split"] == "test") & (table["metric"] == "UA")]
    assert len(ua) == 4
    assert sorted(ua["mean"]) == pytest.approx([0.3, 0.4, 0.5, 0.6])
    # The settings that differ get a column each; equal ones do not.
    assert table.attrs["settings"] == [
        "class_set",
        "encoder.id",
        "encoder.revision",
        "parent_experiment",
    ]
    by_mean = ua.set_index(ua["mean"].round(2))
    assert by_mean.loc[0.5, "encoder.id"] == "hubert-large-ll60k"
    assert by_mean.loc[0.4, "class_set"] == "all"
    assert by_mean.loc[0.3, "parent_experiment"] == "0123456789ab"
    assert by_mean.loc[0.6, "protocol"] == "complete"
    assert by_mean.loc[0.6, "folds"] == "1-5"
    assert by_mean.loc[0.4, "protocol"] == "incomplete: folds 1-2 of 1-5"
    text = to_markdown(table)
    assert "| class_set" in text and "hubert-large-ll60k" in text


def test_unbalanced_and_duplicate_runs_are_flagged():
    runs = [
        experiment_run(1, 0.6, seed=1),
        experiment_run(1, 0.7, seed=2),
        experiment_run(2, 0.5, seed=1),
        experiment_run(2, 0.5, seed=1),
    ]
    table = aggregate(runs, n_boot=100)
    protocol = table["protocol"].iloc[0]
    assert "incomplete: folds 1-2 of 1-5" in protocol
    assert "unbalanced: seeds 1-2 in fold 1, 1 in fold 2" in protocol
    assert "duplicate: fold 2 seed 1 in 2 files" in protocol
    assert table["seeds"].iloc[0] == "1-2"


def test_broken_results_are_named_and_the_rest_aggregated(tmp_path):
    root = write_runs(tmp_path / "runs", [experiment_run(1, 0.6)])
    broken = root / "run9" / "results.json"
    broken.parent.mkdir()
    broken.write_text('{"splits": {"test": {"UA": 0.5, "WA": "unterminated')
    process = subprocess.run(
        [sys.executable, "-m", "speechbrain_peft.results", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert process.returncode == 1
    assert "1 run in 1 experiment." in process.stdout
    assert "0.6000" in process.stdout
    error = process.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"error: {broken}: ")
    assert "JSONDecodeError" in error[0]


def test_an_evaluation_never_joins_the_training_row():
    run = experiment_run(1, 0.6, folds=(1,))
    on = {
        "corpus": "MSP-Podcast",
        "manifest_ids_sha256": {"test1": "9f"},
        "label_map": {"neu": "neu"},
        "data_root": "/corpora/MSP-Podcast",
        "manifests": {"test1": "/m/test1.csv"},
    }
    evaluation = {
        **run,
        "kind": "evaluation",
        "corpus": "MSP-Podcast",
        "trained_on": "IEMOCAP",
        "experiment": evaluation_experiment(run, on),
    }
    evaluation["splits"] = {"test1": {"UA": 0.25}}
    table = aggregate([run, evaluation], n_boot=100)
    ua = table[table["metric"] == "UA"].set_index("split")
    assert ua.loc["test1", "corpus"] == "MSP-Podcast"
    assert ua.loc["test1", "mean"] == 0.25
    assert ua.loc["test", "corpus"] == "IEMOCAP"
    assert ua.loc["test", "mean"] == 0.6
    assert ua.loc["test", "n_runs"] == ua.loc["test1", "n_runs"] == 1


FOLD_UA = [0.60, 0.66, 0.71, 0.63, 0.69]


def _fold_runs(seeds, noise=0.005):
    """Runs of one experiment over IEMOCAP's five folds: fold k's value
    plus a seed offset that averages to zero within the fold."""
    offsets = np.linspace(-noise, noise, len(seeds)) if len(seeds) > 1 else [0]
    return [
        experiment_run(fold, ua + offset, seed=seed)
        for fold, ua in zip(range(1, 6), FOLD_UA)
        for seed, offset in zip(seeds, offsets)
    ]


def test_more_seeds_do_not_shrink_a_confidence_interval_about_folds():
    """With several seeds per fold, mean, std and the bootstrap run over
    the fold means (seeds averaged first): three seeds give the one-seed
    figures, which are those of the five fold values."""
    one = row(aggregate(_fold_runs([1986]), n_boot=2000), "lora", "test", "UA")
    three = row(
        aggregate(_fold_runs([1986, 1, 2]), n_boot=2000), "lora", "test", "UA"
    )
    assert three["n_runs"] == 15 and one["n_runs"] == 5
    assert three["units"] == "5 folds (seeds averaged within each)"
    for stat in ("mean", "std", "ci_low", "ci_high"):
        assert three[stat] == pytest.approx(one[stat], abs=1e-12)
    assert one["mean"] == pytest.approx(np.mean(FOLD_UA))
    assert one["std"] == pytest.approx(np.std(FOLD_UA, ddof=1))
    expected = bootstrap_ci(FOLD_UA, n_boot=2000, seed=0)
    assert (one["ci_low"], one["ci_high"]) == pytest.approx(expected)
    # Pooling the 15 runs as independent would have given a narrower CI.
    pooled = bootstrap_ci(
        [r["splits"]["test"]["UA"] for r in _fold_runs([1986, 1, 2])],
        n_boot=2000,
    )
    assert pooled[1] - pooled[0] < 0.8 * (one["ci_high"] - one["ci_low"])


def test_bootstrap_ci_is_scipys_percentile_interval():
    from scipy import stats

    values = [0.2, 0.9, 0.4, 0.5]
    expected = stats.bootstrap(
        (np.array(values),),
        np.mean,
        n_resamples=500,
        method="percentile",
        rng=np.random.default_rng(5),
    ).confidence_interval
    assert bootstrap_ci(values, n_boot=500, seed=5) == pytest.approx(
        (expected.low, expected.high)
    )
    assert bootstrap_ci([0.5, 0.5]) == (0.5, 0.5)
    assert all(math.isnan(v) for v in bootstrap_ci([0.5, math.nan]))


def test_every_differing_setting_gets_a_column():
    """batch 4 / rank 4 against batch 8 / rank 8: both columns show; a
    setting repeated inside an object's arguments shows once."""
    runs = [
        experiment_run(1, 0.6, batch_size=b, adapters={"lora": {"rank": b}})
        for b in (4, 8)
    ]
    for run in runs:
        settings = run["experiment"]["settings"]
        settings["encoder_args"] = {"adapters": dict(settings["adapters"])}
    table = aggregate(runs, n_boot=10)
    assert table.attrs["settings"] == ["adapters.lora.rank", "batch_size"]


def test_runs_of_one_fold_on_other_data_are_flagged():
    """Two releases of a corpus (other test IDs and counts) never make a
    clean row."""
    runs = [experiment_run(1, 0.6, seed=s, folds=(1,)) for s in (1, 2)]
    for run, (digest, n) in zip(runs, (("a" * 64, 144), ("b" * 64, 16))):
        run["identity"] = {"data": {"test": {"ids_sha256": digest, "n": n}}}
    (protocol,) = set(aggregate(runs, n_boot=10)["protocol"])
    assert (
        protocol
        == "data differs: test of fold 1 in 2 versions (144, 16 utterances)"
    )
