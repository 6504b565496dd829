"""A study runs every planned run once: killed and started again, it runs
only what is missing, and it ends with the table and the figures.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from recipe_runs import QUICK, RECIPES, REPO

from speechbrain_peft.studies.launch import (
    FAILED,
    FINISHED_BEFORE,
    PARENT_FAILED,
    RAN,
    run_study,
)
from speechbrain_peft.studies.plan import StudyRun, plan_study
from speechbrain_peft.synthetic.corpora import make_emobox_folds
from speechbrain_peft.utils.errors import ConfigError

IEMOCAP = RECIPES / "IEMOCAP" / "hparams"
STAGE_TWO = RECIPES / "MSP-Podcast" / "hparams" / "stage2_from_iemocap.yaml"
METHODS = [IEMOCAP / "lora.yaml", IEMOCAP / "weighted_sum.yaml"]


def _study_command(corpora, encoder, out):
    """2 methods x 2 folds x 2 seeds, and a stage two from each run."""
    return [
        sys.executable,
        "-m",
        "speechbrain_peft.study",
        *map(str, METHODS),
        "--data_folder",
        f"IEMOCAP={corpora['IEMOCAP']}",
        f"MSP-Podcast={corpora['MSP-Podcast']}",
        "--folds",
        "1",
        "2",
        "--seeds",
        "1",
        "2",
        "--output_folder",
        str(out),
        *[
            arg
            for method in METHODS
            for arg in ("--stage_two", str(method), str(STAGE_TWO))
        ],
        "--executor",
        "local",
        f"--encoder_source={encoder}",
        f"--manifest_folder={out}/manifests",
        *QUICK,
    ]


def _start(command):
    # Its own session: the kill takes the study, submitit's job
    # controllers and the recipes they run, as a crash would.
    return subprocess.Popen(
        command,
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _whole_runs(out):
    return sorted(out.glob("results/**/results.json"))


@pytest.mark.slow
def test_a_killed_study_started_again_runs_only_the_missing_runs(
    small_corpora, tiny_encoders, tmp_path
):
    out = tmp_path / "study"
    command = _study_command(small_corpora, tiny_encoders["wavlm"], out)
    first = _start(command)
    deadline = time.time() + 600
    while not _whole_runs(out) and first.poll() is None:
        assert time.time() < deadline, "no run finished in 10 minutes"
        time.sleep(0.2)
    assert first.poll() is None, first.communicate()[0]
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate()
    finished_at_kill = len(_whole_runs(out))
    assert 1 <= finished_at_kill < 16

    again = _start(command)
    output, _ = again.communicate(timeout=1200)
    assert again.returncode == 0, output
    study = json.loads((out / "study.json").read_text())
    assert study["counts"] == {
        FINISHED_BEFORE: finished_at_kill,
        RAN: 16 - finished_at_kill,
    }
    assert len(_whole_runs(out)) == 16
    stage_two = [run for run in study["runs"] if run["parent"]]
    assert len(stage_two) == 8
    for run in stage_two:
        results = json.loads(
            (out / run["output_folder"] / "results.json").read_text()
        )
        parent = results["parent_run"]["path"]
        assert parent == next(
            other["output_folder"]
            for other in study["runs"]
            if other["name"] == run["parent"]
        )
    table = (out / "table.md").read_text()
    assert "| IEMOCAP " in table and "stage2_from_iemocap" in table
    figures = sorted(path.name for path in (out / "figures").iterdir())
    assert figures == [
        "bars_categorical.csv",
        "bars_categorical.png",
        "tradeoff_categorical.csv",
        "tradeoff_categorical.png",
    ]
    drawn = (out / "figures" / "tradeoff_categorical.csv").read_text()
    assert "MSP-Podcast" in drawn and ",test1," in drawn


def test_the_plan_covers_folds_seeds_and_one_stage_two_per_parent(tmp_path):
    runs = plan_study(
        METHODS,
        {None: "/corpora"},
        "all",
        [1, 2],
        [],
        tmp_path,
        [(METHODS[0], STAGE_TWO)],
    )
    stage_one = [run for run in runs if run.parent is None]
    assert {(run.config, run.fold, run.seed) for run in stage_one} == {
        (config, fold, seed)
        for config in ("lora", "weighted_sum")
        for fold in range(1, 6)
        for seed in (1, 2)
    }
    stage_two = [run for run in runs if run.parent is not None]
    assert sorted((run.parent.fold, run.seed) for run in stage_two) == sorted(
        (fold, seed) for fold in range(1, 6) for seed in (1, 2)
    )
    assert all(run.parent.config == "lora" for run in stage_two)
    assert all(run.seed == run.parent.seed for run in stage_two)
    assert len({run.output_folder for run in runs}) == len(runs)


@pytest.mark.parametrize(
    "folds, stage_two, message",
    [
        ([7], [], r"--folds \[7\]: the folds of IEMOCAP are 1, 2, 3, 4, 5"),
        ("all", [(STAGE_TWO, STAGE_TWO)], "not one of the study's"),
    ],
)
def test_plan_mistakes_are_refused_before_anything_runs(
    folds, stage_two, message, tmp_path
):
    with pytest.raises(ConfigError, match=message):
        plan_study(METHODS, {None: "/c"}, folds, [1], [], tmp_path, stage_two)


def test_a_misspelt_setting_is_refused_at_planning(tmp_path):
    with pytest.raises(ConfigError, match="lrr"):
        plan_study(METHODS, {None: "/c"}, [1], [1], ["--lrr=0.1"], tmp_path)


# A stand-in recipe: writes results.json once, or fails as a recipe does.
FAKE_RECIPE = """
import pathlib, sys
(out,) = [arg[len("--out="):] for arg in sys.argv if arg.startswith("--out=")]
if "--fail" in sys.argv:
    sys.exit("error: the corpus folder /nowhere does not exist")
results = pathlib.Path(out) / "results.json"
results.parent.mkdir(parents=True, exist_ok=True)
if not results.exists():
    results.write_text("{}")
"""


def _fake_runs(tmp_path, failing):
    """A stage one per name, each with a stage two, run by a stand-in
    recipe that fails for the names in ``failing``."""
    hparams = tmp_path / "recipes" / "Toy" / "hparams" / "toy.yaml"
    hparams.parent.mkdir(parents=True)
    hparams.touch()
    (hparams.parent.parent / "train.py").write_text(FAKE_RECIPE)
    runs = []
    for name in ("a", "b"):
        folder = tmp_path / "results" / name
        flags = ["--fail"] if name in failing else []
        one = StudyRun(
            hparams,
            "Toy",
            name,
            None,
            1,
            folder,
            [f"--out={folder}", *flags],
            {},
        )
        two_folder = folder / "stage_two"
        two = StudyRun(
            hparams,
            "Toy",
            "two",
            None,
            1,
            two_folder,
            [f"--out={two_folder}"],
            {},
            one,
        )
        runs += [one, two]
    return runs


@pytest.mark.parametrize("executor", ["here", "local"])
def test_a_failed_run_is_reported_with_its_log_and_the_others_go_on(
    executor, tmp_path, capsys
):
    runs = _fake_runs(tmp_path, failing={"b"})
    (runs[0].output_folder).mkdir(parents=True)
    runs[0].results.write_text("{}")
    outcomes = run_study(runs, tmp_path, executor)
    assert [outcome.status for outcome in outcomes] == [
        FINISHED_BEFORE,
        RAN,
        FAILED,
        PARENT_FAILED,
    ]
    assert "/nowhere does not exist" in outcomes[2].detail
    printed = capsys.readouterr().out
    assert "Toy_b_seed1: failed" in printed
    assert "error: the corpus folder /nowhere does not exist" in printed


def test_a_study_plans_runs_on_manifests_of_your_own(tmp_path):
    own = RECIPES / "Manifests" / "hparams" / "lora.yaml"
    runs = plan_study(
        [own],
        {None: "/data/my_wavs"},
        "all",
        [1, 2],
        ["--corpus=MyWavs", "--manifest_folder=manifests/my_wavs"],
        tmp_path,
    )
    assert [(run.corpus, run.fold, run.seed) for run in runs] == [
        ("MyWavs", None, 1),
        ("MyWavs", None, 2),
    ]
    assert runs[0].output_folder == tmp_path / "results/MyWavs/lora/seed1"


def test_a_study_on_emobox_folds_runs_every_fold_of_the_files(tmp_path):
    utterances = pd.DataFrame(
        {"id": list("abcdef"), "speaker": list("112233"), "label": ["neu"] * 6}
    )
    source = make_emobox_folds(
        tmp_path / "ravdess", "ravdess", utterances, [["1"], ["2"], ["3"]]
    )
    runs = plan_study(
        [RECIPES / "RAVDESS" / "hparams" / "lora.yaml"],
        {None: "/corpora/RAVDESS"},
        "all",
        [1],
        [f"--emobox_folds={source}"],
        tmp_path / "study",
    )
    assert [run.fold for run in runs] == [1, 2, 3]
    assert [run.output_folder.name for run in runs] == [
        "emobox_fold1",
        "emobox_fold2",
        "emobox_fold3",
    ]
    assert all(f"--fold={run.fold}" in run.arguments for run in runs)
    with pytest.raises(ConfigError, match=r"\[4\]: the folds of the EmoBox"):
        plan_study(
            [RECIPES / "RAVDESS" / "hparams" / "lora.yaml"],
            {None: "/c"},
            [4],
            [1],
            [f"--emobox_folds={source}"],
            tmp_path / "study",
        )
