"""EmoBox's published folds instead of a corpus' own: test is exactly
EmoBox's, dev speakers come out of its training set, folds that are not
speaker-independent are refused; a recipe trains an EmoBox fold.

Authors
 * speechbrain-peft-ser developers 2026
"""

import pandas as pd
import pytest
from recipe_runs import QUICK, recipe_args, run_recipe

from speechbrain_peft.corpora.ravdess import make_synthetic as make_ravdess
from speechbrain_peft.corpora.ravdess import prepare_ravdess
from speechbrain_peft.data.emobox import prepare_emobox_folds
from speechbrain_peft.data.manifest import DataPrepError
from speechbrain_peft.synthetic.corpora import make_emobox_folds

SHORT = {"min_dur": 0.4, "max_dur": 0.6}
SPLITS = ("test", "dev", "train")
# Four folds of two actors each (EmoBox splits RAVDESS into six of four).
TEST_ACTORS = [["01", "02"], ["03", "04"], ["05", "06"], ["07", "08"]]


@pytest.fixture(scope="module")
def ravdess(tmp_path_factory):
    root = tmp_path_factory.mktemp("ravdess")
    corpus = make_ravdess(
        root / "RAVDESS",
        n_actors=8,
        statements=("01",),
        repetitions=("01",),
        song=False,
        doubled=False,
        **SHORT,
    )
    speech = corpus["utterances"]
    folds = make_emobox_folds(root / "ravdess", "ravdess", speech, TEST_ACTORS)
    return {**corpus, "emobox": folds}


def read(folder, fold, split):
    return pd.read_csv(
        folder / "emobox" / f"fold{fold}" / f"{split}.csv",
        dtype={"spk_id": str},
    )


def test_test_sets_are_emoboxs_and_dev_comes_from_its_train(ravdess, tmp_path):
    prepare_ravdess(ravdess["root"], tmp_path)
    info = prepare_emobox_folds(tmp_path, ravdess["emobox"])
    assert list(info["folds"]) == ["1", "2", "3", "4"]
    speech = ravdess["utterances"]
    for fold, actors in enumerate(TEST_ACTORS, start=1):
        test, dev, train = (read(tmp_path, fold, s) for s in SPLITS)
        expected = speech.loc[speech["speaker"].isin(actors), "id"]
        assert sorted(test["ID"]) == sorted(expected)
        dev_speakers = set(dev["spk_id"])
        assert dev_speakers == set(info["folds"][str(fold)]["dev_speakers"])
        assert len(dev_speakers) == 1
        assert not dev_speakers & (set(train["spk_id"]) | set(actors))
        assert len(train) + len(dev) + len(test) == len(speech)


def test_folds_sharing_speakers_are_refused(ravdess, tmp_path):
    prepare_ravdess(ravdess["root"], tmp_path)
    speech = ravdess["utterances"]
    # Utterance-level folds, as EmoBox's EmoDB folds: every actor in both.
    by_take = speech.assign(speaker=speech["id"].str[6:8])
    source = make_emobox_folds(tmp_path / "shared", "x", by_take, [["01"]])
    with pytest.raises(DataPrepError, match="not speaker-independent"):
        prepare_emobox_folds(tmp_path, source)


def test_an_utterance_the_manifests_lack_is_named(ravdess, tmp_path):
    prepare_ravdess(ravdess["root"], tmp_path)
    extra = pd.DataFrame(
        {"id": ["03-01-09-01-01-01-01"], "speaker": ["01"], "label": ["x"]}
    )
    frame = pd.concat([ravdess["utterances"], extra], ignore_index=True)
    source = make_emobox_folds(tmp_path / "more", "x", frame, [["01"]])
    with pytest.raises(DataPrepError, match="03-01-09-01-01-01-01"):
        prepare_emobox_folds(tmp_path, source)


def test_an_utterance_listed_twice_is_refused_not_scored_twice(
    ravdess, tmp_path
):
    prepare_ravdess(ravdess["root"], tmp_path)
    source = make_emobox_folds(
        tmp_path / "twice", "x", ravdess["utterances"], [["01"]]
    )
    test_file = source / "fold_1" / "x_test_fold_1.jsonl"
    first_line = test_file.read_text().splitlines(keepends=True)[0]
    test_file.write_text(test_file.read_text() + first_line)
    with pytest.raises(DataPrepError, match="more than once") as error:
        prepare_emobox_folds(tmp_path, source)
    assert ravdess["utterances"]["id"][0] in str(error.value)


def test_the_recipe_trains_an_emobox_fold(ravdess, tiny_encoders, tmp_path):
    args = recipe_args(
        "RAVDESS",
        "lora.yaml",
        ravdess["root"],
        tiny_encoders["wav2vec2"],
        tmp_path,
        f"--emobox_folds={ravdess['emobox']}",
        "--fold=3",
    )
    results = run_recipe("RAVDESS", *args, *QUICK)
    assert results["fold_source"] == "EmoBox" and results["fold"] == 3
    assert results["folds"] == [1, 2, 3, 4]
    speech = ravdess["utterances"]
    test = speech["speaker"].isin(TEST_ACTORS[2])
    assert results["splits"]["test"]["n"] == test.sum()
