"""EmoDB data prep on a copy in the release's layout: five folds of
speaker pairs, each speaker tested once, every bad file named; its recipe
trains a fold.

Authors
 * speechbrain-peft-ser developers 2026
"""

import pandas as pd
import pytest
from recipe_runs import QUICK, recipe_args, run_recipe

from speechbrain_peft.corpora.emodb import FOLDS, prepare_emodb
from speechbrain_peft.corpora.emodb import make_synthetic as make_emodb
from speechbrain_peft.data.manifest import DataPrepError

SHORT = {"min_dur": 0.4, "max_dur": 0.6}


@pytest.fixture(scope="module")
def emodb(tmp_path_factory):
    """Two texts of every speaker and emotion, some in two takes."""
    return make_emodb(
        tmp_path_factory.mktemp("emodb"), texts=("a01", "b09"), **SHORT
    )


def fold_frames(folder, fold):
    return {
        split: pd.read_csv(
            folder / f"fold{fold}" / f"{split}.csv", dtype={"spk_id": str}
        )
        for split in ("train", "dev", "test")
    }


def test_folds_test_each_speaker_once_in_gender_pairs(emodb, tmp_path):
    info = prepare_emodb(emodb["root"], tmp_path)
    tested = []
    for fold in FOLDS:
        frames = fold_frames(tmp_path, fold)
        speakers = {s: set(f["spk_id"]) for s, f in frames.items()}
        assert not speakers["train"] & (speakers["dev"] | speakers["test"])
        assert not speakers["dev"] & speakers["test"]
        assert len(speakers["test"]) == 2 and len(speakers["dev"]) == 1
        assert sorted(frames["test"]["gender"].unique()) == ["F", "M"]
        assert sum(len(f) for f in frames.values()) == emodb["n_utterances"]
        tested += sorted(speakers["test"])
    assert sorted(tested) == sorted(set(emodb["utterances"]["speaker"]))
    assert info["folds"][1]["test"] == ["03", "08"]
    labels = set(fold_frames(tmp_path, 1)["train"]["emo"])
    assert labels == {"ang", "bor", "dis", "fea", "hap", "sad", "neu"}


def test_four_classes_skip_and_count_the_others(emodb, tmp_path):
    info = prepare_emodb(emodb["root"], tmp_path, class_set="4class")
    others = emodb["utterances"]["label"].isin(["bor", "dis", "fea"])
    assert info["skipped"]["not in class set 4class"]["count"] == others.sum()
    assert info["label_set"] == ["neu", "hap", "ang", "sad"]


def test_every_bad_file_name_is_named(tmp_path):
    root = make_emodb(tmp_path / "copy", texts=("a01",), **SHORT)["root"]
    wav = tmp_path / "copy" / "wav"
    good = next(wav.glob("*.wav")).read_bytes()
    for name in ("04a01Fa.wav", "03c01Fa.wav", "03a01Xa.wav"):
        (wav / name).write_bytes(good)
    with pytest.raises(DataPrepError) as error:
        prepare_emodb(root, tmp_path / "out")
    message = str(error.value)
    assert "3 file name(s)" in message
    assert "unknown speaker 04" in message
    assert "unknown text c01" in message
    assert "unknown emotion letter X" in message


def test_the_recipe_trains_a_fold(emodb, tiny_encoders, tmp_path):
    args = recipe_args(
        "EmoDB", "lora.yaml", emodb["root"], tiny_encoders["wav2vec2"], tmp_path
    )
    results = run_recipe("EmoDB", *args, "--fold=3", *QUICK)
    assert (results["corpus"], results["fold"]) == ("EmoDB", 3)
    assert results["folds"] == list(FOLDS)
    test = emodb["utterances"]["speaker"].isin(["11", "13"])
    assert results["splits"]["test"]["n"] == test.sum()
