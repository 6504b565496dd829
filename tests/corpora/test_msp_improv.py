"""MSP-IMPROV data prep on a copy in the release's layout: six
leave-one-session-out folds, X left out of the categories but kept for
the dimensions, every bad summary line named; its recipe trains a fold.

Authors
 * speechbrain-peft-ser developers 2026
"""

import numpy as np
import pandas as pd
import pytest
from recipe_runs import QUICK, recipe_args, run_recipe

from speechbrain_peft.corpora.msp_improv import FOLDS, prepare_msp_improv
from speechbrain_peft.corpora.msp_improv import (
    make_synthetic as make_msp_improv,
)
from speechbrain_peft.data.manifest import DataPrepError

SHORT = {"min_dur": 0.4, "max_dur": 0.6}
SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="module")
def msp_improv(tmp_path_factory):
    """Five clips of each of the twelve actors, some without agreement."""
    return make_msp_improv(
        tmp_path_factory.mktemp("msp_improv"), clips_per_speaker=5, **SHORT
    )


def fold_frames(folder, fold):
    return {
        split: pd.read_csv(folder / f"fold{fold}" / f"{split}.csv")
        for split in SPLITS
    }


def test_folds_test_each_session_once_and_dev_on_another(msp_improv, tmp_path):
    prepare_msp_improv(msp_improv["root"], tmp_path)
    agreed = msp_improv["utterances"]["label"].notna()
    tested = []
    for fold in FOLDS:
        frames = fold_frames(tmp_path, fold)
        sessions = {s: set(f["session"]) for s, f in frames.items()}
        speakers = {s: set(f["spk_id"]) for s, f in frames.items()}
        assert sessions["test"] == {fold}
        assert sessions["dev"] == {6 if fold != 6 else 5}
        assert len(sessions["train"]) == 4
        assert not sessions["train"] & (sessions["dev"] | sessions["test"])
        assert not speakers["train"] & (speakers["dev"] | speakers["test"])
        assert sum(len(f) for f in frames.values()) == agreed.sum()
        tested += sorted(speakers["test"])
    assert sorted(tested) == sorted(set(msp_improv["utterances"]["speaker"]))


def test_labels_follow_the_summary_lines(msp_improv, tmp_path):
    info = prepare_msp_improv(msp_improv["root"], tmp_path)
    truth = msp_improv["utterances"].set_index("id")
    manifest = pd.concat(fold_frames(tmp_path, 1).values()).set_index("ID")
    assert (manifest["emo"] == truth.loc[manifest.index, "label"]).all()
    no_agreement = (truth["code"] == "X").sum()
    assert no_agreement > 0
    assert info["skipped"]["no agreed label (X)"]["count"] == no_agreement
    assert info["dimension_scale"] == [1.0, 5.0]
    assert info["unlabelled_audio"] == 0


def test_dimensional_manifests_keep_every_rated_clip(msp_improv, tmp_path):
    prepare_msp_improv(msp_improv["root"], tmp_path)
    truth = msp_improv["utterances"].set_index("id")
    dimensional = pd.concat(
        fold_frames(tmp_path / "dimensional", 2).values()
    ).set_index("ID")
    assert sorted(dimensional.index) == sorted(truth.index)
    for column in ("arousal", "valence", "dominance"):
        np.testing.assert_allclose(
            dimensional[column],
            truth.loc[dimensional.index, column],
            atol=1e-6,
        )


def test_recording_types_keep_a_subset_and_count_the_rest(msp_improv, tmp_path):
    info = prepare_msp_improv(
        msp_improv["root"], tmp_path, recording_types="PS"
    )
    read_or_target = msp_improv["utterances"]["recording_type"].isin(["R", "T"])
    assert info["options"]["recording_types"] == "SP"
    assert (
        info["skipped"]["recording type not in SP"]["count"]
        == read_or_target.sum()
    )
    kinds = set(
        fold_frames(tmp_path / "dimensional", 1)["train"].recording_type
    )
    assert kinds == {"S", "P"}


def test_every_bad_summary_line_is_named(tmp_path):
    root = make_msp_improv(tmp_path / "copy", clips_per_speaker=2, **SHORT)
    labels = tmp_path / "copy" / "Evalution.txt"
    blocks = labels.read_text().split("\n\n")
    blocks[1] = blocks[1].replace("; N;", "; Q;").replace("; A;", "; Q;")
    blocks[1] = blocks[1].replace("; H;", "; Q;").replace("; S;", "; Q;")
    blocks[2] = blocks[2].replace("-M01-", "-M07-", 1)
    blocks[3] = blocks[3].replace("V:", "V:high", 1)
    blocks.append(blocks[4].replace("A:", "A:9", 1))
    labels.write_text("\n\n".join(blocks))
    with pytest.raises(DataPrepError) as error:
        prepare_msp_improv(root["root"], tmp_path / "out")
    message = str(error.value)
    assert "4 problem(s)" in message
    assert "unknown category 'Q'" in message
    assert "session 7 is not one of" in message
    assert "is not <letter>:<number>" in message
    assert "is listed with different labels" in message


def test_a_clip_listed_twice_alike_counts_once(tmp_path):
    root = make_msp_improv(tmp_path / "copy", clips_per_speaker=2, **SHORT)
    labels = tmp_path / "copy" / "Evalution.txt"
    first_block = labels.read_text().split("\n\n")[0]
    labels.write_text(labels.read_text() + "\n" + first_block + "\n")
    info = prepare_msp_improv(root["root"], tmp_path / "out")
    assert info["n_listed"] == root["n_utterances"]


def test_a_folder_without_the_label_file_says_what_to_copy(tmp_path):
    root = make_msp_improv(tmp_path / "copy", clips_per_speaker=1, **SHORT)
    (tmp_path / "copy" / "Evalution.txt").unlink()
    with pytest.raises(DataPrepError, match="copy the release's Evalution"):
        prepare_msp_improv(root["root"], tmp_path / "out")


def test_the_recipe_trains_a_dimensional_fold(
    msp_improv, tiny_encoders, tmp_path
):
    args = recipe_args(
        "MSP-IMPROV",
        "lora.yaml",
        msp_improv["root"],
        tiny_encoders["wavlm"],
        tmp_path,
        "--task=dimensional",
    )
    results = run_recipe("MSP-IMPROV", *args, "--fold=6", *QUICK)
    assert (results["corpus"], results["fold"]) == ("MSP-IMPROV", 6)
    assert results["folds"] == list(FOLDS)
    sessions = msp_improv["utterances"]["session"]
    assert results["splits"]["test"]["n"] == (sessions == 6).sum()
    assert results["splits"]["dev"]["n"] == (sessions == 5).sum()
    assert -1.0 <= results["splits"]["test"]["CCC_mean"] <= 1.0
