"""Data prep on synthetic corpora in the real layouts: the manifests must
hold exactly what the generator wrote, in speaker-independent splits.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from speechbrain_peft.corpora.crema_d import make_synthetic as make_crema_d
from speechbrain_peft.corpora.crema_d import prepare_crema_d
from speechbrain_peft.corpora.iemocap import CLASS_SETS, prepare_iemocap
from speechbrain_peft.corpora.iemocap import make_synthetic as make_iemocap
from speechbrain_peft.corpora.msp_podcast import (
    EMO_CLASSES,
    prepare_msp_podcast,
)
from speechbrain_peft.corpora.msp_podcast import (
    make_synthetic as make_msp_podcast,
)
from speechbrain_peft.data.manifest import COLUMNS, DATA_ROOT, DIMENSIONAL

REPO = Path(__file__).resolve().parents[2]
SHORT = {"min_dur": 0.4, "max_dur": 0.6}


@pytest.fixture(scope="module")
def iemocap(tmp_path_factory):
    return make_iemocap(tmp_path_factory.mktemp("iemocap"), **SHORT)


@pytest.fixture(scope="module")
def msp(tmp_path_factory):
    """A copy whose Test3 is labelled (the release withholds them)."""
    return make_msp_podcast(
        tmp_path_factory.mktemp("msp"),
        utts_per_speaker=4,
        labelled_test3=True,
        **SHORT,
    )


@pytest.fixture(scope="module")
def crema(tmp_path_factory):
    return make_crema_d(tmp_path_factory.mktemp("crema"), n_actors=8, **SHORT)


def read(path):
    return pd.read_csv(path, dtype={"ID": str, "spk_id": str})


def counts(frame, column):
    return frame.groupby(column).size().to_dict()


def check_manifest(frame, root, generated):
    """Schema, paths and durations agree with the generator's records."""
    assert tuple(frame.columns[: len(COLUMNS)]) == COLUMNS
    truth = generated.set_index("id").loc[frame["ID"]]
    paths = frame["wav"].str.replace(DATA_ROOT, str(root), regex=False)
    assert list(paths) == list(truth["path"])
    assert np.allclose(frame["duration"], truth["duration"])


def speakers_disjoint(frames):
    for (a, first), (b, second) in combinations(frames.items(), 2):
        assert not set(first["spk_id"]) & set(second["spk_id"]), (a, b)


def test_iemocap_folds(iemocap, tmp_path):
    info = prepare_iemocap(iemocap["root"], tmp_path)
    generated = iemocap["utterances"]
    kept = generated[generated["label"].isin(CLASS_SETS["4class_merge"])]
    expected = kept.assign(emo=kept["label"].replace({"exc": "hap"}))
    dev_speakers = ["Ses02F", "Ses03M", "Ses04F", "Ses05M", "Ses01F"]
    for fold in range(1, 6):
        frames = {
            split: read(tmp_path / f"fold{fold}" / f"{split}.csv")
            for split in ("train", "dev", "test")
        }
        speakers_disjoint(frames)
        assert set(frames["test"]["session"]) == {fold}
        assert set(frames["dev"]["spk_id"]) == {
            dev_speakers[fold - 1][:5] + "_" + dev_speakers[fold - 1][5]
        }
        truth = {
            "test": expected[expected["session"] == fold],
            "dev": expected[expected["speaker"] == dev_speakers[fold - 1]],
        }
        truth["train"] = expected.drop(
            truth["test"].index.union(truth["dev"].index)
        )
        for split, frame in frames.items():
            assert sorted(frame["ID"]) == sorted(truth[split]["id"])
            assert counts(frame, "emo") == counts(truth[split], "emo")
            assert (frame["split"] == split).all()
            check_manifest(frame, iemocap["root"], generated)
    # A/V/D: the evaluation line's triple is (V, A, D).
    frame = read(tmp_path / "fold1" / "train.csv")
    truth = generated.set_index("id").loc[frame["ID"]]
    for column in ("arousal", "valence", "dominance"):
        assert np.allclose(frame[column], truth[column])
    assert list(frame["gender"]) == list(truth["gender"])
    assert list(frame["spk_id"].str.replace("_", "")) == list(truth["speaker"])
    assert list(frame["scripted"]) == list(truth["scripted"])
    assert list(frame["emo_raw"]) == list(truth["label"])
    # xxx (and everything outside the 4 classes) is skipped and counted.
    skipped = info["skipped"]["not in class set 4class_merge"]
    assert skipped["by_label"] == counts(generated.drop(kept.index), "label")
    assert info["n_listed"] == len(generated)
    assert info["reused"] is False


@pytest.mark.parametrize("subset", ["all", "scripted"])
def test_iemocap_dimensional_manifests_hold_every_rated_utterance(
    iemocap, tmp_path, subset
):
    info = prepare_iemocap(iemocap["root"], tmp_path, subset=subset)
    generated = iemocap["utterances"]
    if subset != "all":
        generated = generated[generated["scripted"]]
    for fold in range(1, 6):
        frames = {
            split: read(tmp_path / DIMENSIONAL / f"fold{fold}" / f"{split}.csv")
            for split in ("train", "dev", "test")
        }
        speakers_disjoint(frames)
        # The same speakers per split as the categorical manifests.
        for split, frame in frames.items():
            categorical = read(tmp_path / f"fold{fold}" / f"{split}.csv")
            assert set(categorical["spk_id"]) <= set(frame["spk_id"])
            dimensions = frame[["arousal", "valence", "dominance"]]
            assert dimensions.notna().all(axis=None)
            name = f"{DIMENSIONAL}/fold{fold}/{split}"
            assert info["counts"][name]["total"] == len(frame)
            assert len(info["id_sha256"][name]) == 64
        every = pd.concat(frames.values())
        # xxx (no agreed category) included, its emo left empty.
        assert sorted(every["ID"]) == sorted(generated["id"])
        xxx = every["emo_raw"] == "xxx"
        assert xxx.any() and every.loc[xxx, "emo"].isna().all()
    test_labels = info["counts"][f"{DIMENSIONAL}/fold1/test"]["emo"]
    assert test_labels.get("none", 0) == sum(
        (generated["session"] == 1) & (generated["label"] == "xxx")
    )


@pytest.mark.parametrize(
    "class_set, subset",
    [("4class", "all"), ("all", "improvised"), ("4class_merge", "scripted")],
)
def test_iemocap_options(iemocap, tmp_path, class_set, subset):
    info = prepare_iemocap(
        iemocap["root"], tmp_path, class_set=class_set, subset=subset
    )
    generated = iemocap["utterances"]
    mapping = CLASS_SETS[class_set]
    kept = generated[generated["label"].isin(mapping)]
    if subset != "all":
        kept = kept[kept["scripted"] == (subset == "scripted")]
    frame = pd.concat(
        read(tmp_path / "fold3" / f"{split}.csv")
        for split in ("train", "dev", "test")
    )
    assert sorted(frame["ID"]) == sorted(kept["id"])
    assert counts(frame, "emo") == counts(
        kept.assign(emo=kept["label"].map(mapping)), "emo"
    )
    assert info["label_set"] == list(dict.fromkeys(mapping.values()))
    if class_set == "4class":
        assert "exc" in info["skipped"]["not in class set 4class"]["by_label"]
    if class_set == "all":
        assert "oth" in info["label_set"]
        assert set(info["skipped"]["not in class set all"]["by_label"]) == {
            "xxx"
        }


def manifest_stamps(folder):
    return {
        path: path.stat().st_mtime_ns for path in sorted(folder.rglob("*.csv"))
    }


def test_rerun_is_skipped_unless_inputs_or_options_change(iemocap, tmp_path):
    first = prepare_iemocap(iemocap["root"], tmp_path)
    stamps = manifest_stamps(tmp_path)
    assert len([p for p in stamps if DIMENSIONAL not in p.parts]) == 15
    again = prepare_iemocap(iemocap["root"], tmp_path)
    assert again["reused"] is True
    assert manifest_stamps(tmp_path) == stamps
    assert again["id_sha256"] == first["id_sha256"]

    changed = prepare_iemocap(iemocap["root"], tmp_path, class_set="4class")
    assert changed["reused"] is False
    assert changed["id_sha256"] != first["id_sha256"]
    assert (
        json.loads((tmp_path / "prep_info.json").read_text())["options"][
            "class_set"
        ]
        == "4class"
    )


def test_rerun_after_label_file_edit(crema, tmp_path):
    prepare_crema_d(crema["root"], tmp_path)
    demographics = Path(crema["demographics"])
    original = demographics.read_text()
    try:
        demographics.write_text(original + "\n")
        assert prepare_crema_d(crema["root"], tmp_path)["reused"] is False
        assert prepare_crema_d(crema["root"], tmp_path)["reused"] is True
    finally:
        demographics.write_text(original)


def test_msp_podcast_partition(msp, tmp_path):
    info = prepare_msp_podcast(msp["root"], tmp_path)
    generated = msp["utterances"]
    expected = generated[~generated["label"].isin(["O", "X"])]
    expected = expected.assign(emo=expected["label"].map(EMO_CLASSES))
    names = {
        "Train": "train",
        "Development": "dev",
        "Test1": "test1",
        "Test2": "test2",
        "Test3": "test3",
    }
    frames = {}
    for official, split in names.items():
        frame = frames[split] = read(tmp_path / f"{split}.csv")
        truth = expected[expected["split"] == official]
        assert sorted(frame["ID"]) == sorted(truth["id"])
        assert counts(frame, "emo") == counts(truth, "emo")
        check_manifest(frame, msp["root"], generated)
        truth = generated.set_index("id").loc[frame["ID"]]
        for column in ("arousal", "valence", "dominance"):
            assert np.allclose(frame[column], truth[column])
        known = truth["speaker"] != "Unknown"
        assert list(frame.loc[known.values, "spk_id"]) == [
            str(s) for s in truth.loc[known, "speaker"]
        ]
        assert list(frame.loc[~known.values, "spk_id"]) == [
            f"unknown_{i}" for i in truth.index[~known]
        ]
        assert frame.loc[~known.values, "gender"].isna().all()
        assert list(frame.loc[known.values, "gender"]) == [
            g[0] for g in truth.loc[known, "gender"]
        ]
    speakers_disjoint(frames)
    assert info["unknown_speakers"] == (generated["speaker"] == "Unknown").sum()
    skipped = info["skipped"]
    assert skipped["no agreed label (X)"]["count"] == sum(
        generated["label"] == "X"
    )
    assert skipped["not in class set 8class with other=drop"]["by_label"] == {
        "O": sum(generated["label"] == "O")
    }


def test_msp_podcast_dimensional_manifests_keep_x_and_o(msp, tmp_path):
    info = prepare_msp_podcast(msp["root"], tmp_path, class_set="4class")
    generated = msp["utterances"]
    for split in ("train", "dev", "test1", "test2", "test3"):
        frame = read(tmp_path / DIMENSIONAL / f"{split}.csv")
        official = {"dev": "Development"}.get(split, split.capitalize())
        truth = generated[generated["split"] == official]
        assert sorted(frame["ID"]) == sorted(truth["id"])
        assert info["counts"][f"{DIMENSIONAL}/{split}"]["total"] == len(truth)
    every = pd.concat(
        read(path) for path in (tmp_path / DIMENSIONAL).glob("*.csv")
    )
    assert {"X", "O", "U", "C"} <= set(every["emo_raw"])
    assert every.loc[every["emo_raw"] == "X", "emo"].isna().all()
    assert set(every.loc[every["emo_raw"] == "O", "emo"]) == {"oth"}


def test_msp_podcast_as_released_has_no_test3_labels(tmp_path):
    generated = make_msp_podcast(
        tmp_path / "corpus",
        utts_per_speaker=2,
        n_speakers=10,
        n_unknown=3,
        **SHORT,
    )
    info = prepare_msp_podcast(generated["root"], tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").glob("*.csv"))
    assert names == ["dev.csv", "test1.csv", "test2.csv", "train.csv"]
    assert info["unlabelled_audio"] == len(generated["unlabelled"]) > 0
    assert set(generated["unlabelled"]["split"]) == {"Test3"}


def test_msp_podcast_options(msp, tmp_path):
    info = prepare_msp_podcast(
        msp["root"], tmp_path, class_set="4class", other="keep"
    )
    generated = msp["utterances"]
    kept = generated[generated["label"].isin(list("NHASO"))]
    frame = pd.concat(read(path) for path in tmp_path.glob("*.csv"))
    assert counts(frame, "emo_raw") == counts(kept, "label")
    assert info["label_set"] == ["neu", "hap", "ang", "sad", "oth"]


def test_msp_podcast_writes_only_present_test_sets(msp, tmp_path):
    prepare_msp_podcast(msp["root"], tmp_path / "out")
    assert len(list((tmp_path / "out").glob("test*.csv"))) == 3
    generated = make_msp_podcast(
        tmp_path / "corpus",
        utts_per_speaker=2,
        n_speakers=8,
        n_unknown=3,
        test_sets=("Test2",),
        **SHORT,
    )
    prepare_msp_podcast(generated["root"], tmp_path / "out")
    names = sorted(path.name for path in (tmp_path / "out").glob("*.csv"))
    assert names == ["dev.csv", "test2.csv", "train.csv"]


def test_crema_d_actor_split(crema, tmp_path):
    info = prepare_crema_d(crema["root"], tmp_path)
    generated = crema["utterances"]
    frames = {
        split: read(tmp_path / f"{split}.csv")
        for split in ("train", "dev", "test")
    }
    speakers_disjoint(frames)
    for split, frame in frames.items():
        actors = sorted(set(frame["spk_id"]))
        assert actors == info["actors"][split]
        # Stratified by sex: each split has female and male actors.
        assert set(frame["gender"]) == {"F", "M"}
        truth = generated[generated["speaker"].astype(str).isin(actors)]
        assert sorted(frame["ID"]) == sorted(truth["id"])
        assert counts(frame, "emo_raw") == counts(truth, "label")
        check_manifest(frame, crema["root"], generated)
        assert frame[["arousal", "valence", "dominance"]].isna().all().all()
        indexed = truth.set_index("id").loc[frame["ID"]]
        assert list(frame["level"]) == list(indexed["level"])
        assert list(frame["sentence"]) == list(indexed["sentence"])
    assert [len(info["actors"][s]) for s in ("train", "dev", "test")] == [
        4,
        2,
        2,
    ]
    # Missing dimensions are empty fields in the CSV, never 0.
    first_row = (tmp_path / "train.csv").read_text().splitlines()[1]
    assert ",,," in first_row

    again = prepare_crema_d(crema["root"], tmp_path / "again")
    assert again["actors"] == info["actors"]
    reseeded = prepare_crema_d(crema["root"], tmp_path, seed=7)
    assert reseeded["reused"] is False


def test_crema_d_four_classes(crema, tmp_path):
    info = prepare_crema_d(crema["root"], tmp_path, class_set="4class")
    generated = crema["utterances"]
    frame = pd.concat(read(path) for path in tmp_path.glob("*.csv"))
    assert set(frame["emo"]) == {"neu", "hap", "ang", "sad"}
    assert info["skipped"]["not in class set 4class"]["by_label"] == {
        "DIS": sum(generated["label"] == "DIS"),
        "FEA": sum(generated["label"] == "FEA"),
    }


@pytest.mark.parametrize(
    "script", sorted(p.stem for p in (REPO / "data_prep").glob("*_prepare.py"))
)
def test_cli_runs_from_any_folder(script, tmp_path):
    path = REPO / "data_prep" / f"{script}.py"
    shown = subprocess.run(
        [sys.executable, str(path), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert "--skip-invalid-audio" in shown.stdout
    assert "--data-folder" in shown.stdout and "--save-folder" in shown.stdout
    failed = subprocess.run(
        [
            sys.executable,
            str(path),
            "--data-folder",
            str(tmp_path / "nowhere"),
            "--save-folder",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert f"{tmp_path / 'nowhere'} does not exist" in failed.stderr
    assert not (tmp_path / "out").exists()


def test_cli_prepares(iemocap, tmp_path):
    path = REPO / "data_prep" / "iemocap_prepare.py"
    done = subprocess.run(
        [
            sys.executable,
            str(path),
            "--data-folder",
            iemocap["root"],
            "--save-folder",
            str(tmp_path),
            "--subset",
            "improvised",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    info = json.loads((tmp_path / "prep_info.json").read_text())
    assert info["options"]["subset"] == "improvised"
    assert read(tmp_path / "fold2" / "test.csv")["scripted"].eq(False).all()
