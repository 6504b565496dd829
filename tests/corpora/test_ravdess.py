"""RAVDESS data prep on a copy in the release's layout: the doubled
shared copy counts each utterance once, song only on request, actor- and
gender-balanced splits, every bad file named.

Authors
 * speechbrain-peft-ser developers 2026
"""

import logging

import pandas as pd
import pytest
from recipe_runs import QUICK, recipe_args, run_recipe

from speechbrain_peft.corpora.ravdess import make_synthetic as make_ravdess
from speechbrain_peft.corpora.ravdess import prepare_ravdess
from speechbrain_peft.data.manifest import DataPrepError

SHORT = {"min_dur": 0.4, "max_dur": 0.6}
# Per actor and repetition of one statement: neutral once, seven emotions
# at two intensities.
SPEECH_PER_TAKE = 1 + 7 * 2
SONG_PER_TAKE = 1 + 5 * 2


@pytest.fixture(scope="module")
def ravdess(tmp_path_factory):
    """Twelve actors, speech and song, the speech files held twice."""
    return make_ravdess(
        tmp_path_factory.mktemp("ravdess"),
        n_actors=12,
        statements=("01",),
        repetitions=("01",),
        **SHORT,
    )


def manifests(folder):
    return {
        split: pd.read_csv(folder / f"{split}.csv", dtype={"spk_id": str})
        for split in ("train", "dev", "test")
    }


def test_a_doubled_copy_counts_each_utterance_once_and_says_so(
    ravdess, tmp_path, caplog
):
    with caplog.at_level(logging.INFO):
        info = prepare_ravdess(ravdess["root"], tmp_path)
    frames = manifests(tmp_path)
    everything = pd.concat(frames.values())
    n_speech = 12 * SPEECH_PER_TAKE
    assert ravdess["n_doubled"] == n_speech
    assert len(everything) == everything["ID"].nunique() == n_speech
    assert info["duplicate_names"] == n_speech
    assert f"{n_speech} file name(s) appear in more than one folder" in (
        caplog.text
    )
    # Read from the release's own Actor_XX folders, not the copy's.
    assert everything["wav"].str.match(r"\$data_root/Actor_\d\d/").all()


def test_song_is_left_out_unless_asked_for(ravdess, tmp_path):
    info = prepare_ravdess(ravdess["root"], tmp_path / "speech")
    n_song = 12 * SONG_PER_TAKE
    assert info["skipped"]["not vocal channel speech"]["count"] == n_song
    both = prepare_ravdess(
        ravdess["root"], tmp_path / "both", vocal_channel="both"
    )
    frames = manifests(tmp_path / "both")
    channels = pd.concat(frames.values())["vocal_channel"].value_counts()
    assert channels.to_dict() == {
        "speech": 12 * SPEECH_PER_TAKE,
        "song": 12 * SONG_PER_TAKE,
    }
    assert "not vocal channel both" not in both["skipped"]


def test_splits_are_actor_disjoint_and_hold_both_genders(ravdess, tmp_path):
    info = prepare_ravdess(ravdess["root"], tmp_path)
    frames = manifests(tmp_path)
    actors = {split: set(frame["spk_id"]) for split, frame in frames.items()}
    assert not actors["train"] & actors["dev"]
    assert not actors["train"] & actors["test"]
    assert not actors["dev"] & actors["test"]
    assert {s: len(a) for s, a in actors.items()} == {
        "train": 8,
        "dev": 2,
        "test": 2,
    }
    for split, frame in frames.items():
        assert set(frame["gender"]) == {"F", "M"}, split
        odd = frame["spk_id"].astype(int) % 2 == 1
        assert (frame.loc[odd, "gender"] == "M").all()
    assert sorted(info["actors"]["test"]) == sorted(actors["test"])
    labels = set(pd.concat(frames.values())["emo"])
    assert labels == {"neu", "cal", "hap", "sad", "ang", "fea", "dis", "sur"}
    four = prepare_ravdess(ravdess["root"], tmp_path / "4", class_set="4class")
    assert set(four["label_set"]) == {"neu", "hap", "ang", "sad"}
    assert four["skipped"]["not in class set 4class"]["count"] == 12 * 8


def test_every_bad_file_name_is_named(tmp_path):
    root = make_ravdess(
        tmp_path / "copy",
        n_actors=2,
        statements=("01",),
        repetitions=("01",),
        song=False,
        doubled=False,
        **SHORT,
    )["root"]
    actor = tmp_path / "copy" / "Actor_01"
    good = next(actor.glob("*.wav")).read_bytes()
    (actor / "03-01-09-01-01-01-01.wav").write_bytes(good)
    (actor / "03-01-05-01-01-01-02.wav").write_bytes(good)
    (actor / "01-01-05-01-01-01-01.wav").write_bytes(good)
    with pytest.raises(DataPrepError) as error:
        prepare_ravdess(root, tmp_path / "out")
    message = str(error.value)
    assert "3 file name(s)" in message
    assert "unknown emotion code 09" in message
    assert "in Actor_01 but the name says actor 02" in message
    assert "modality 01 is not audio-only" in message


def test_copies_of_a_name_that_differ_are_refused(tmp_path):
    info = make_ravdess(
        tmp_path / "copy",
        n_actors=2,
        statements=("01",),
        repetitions=("01",),
        song=False,
        **SHORT,
    )
    doubled = next(
        (tmp_path / "copy" / "audio_speech_actors_01-24").rglob("*.wav")
    )
    doubled.write_bytes(doubled.read_bytes()[:-100])
    with pytest.raises(DataPrepError, match="different contents"):
        prepare_ravdess(info["root"], tmp_path / "out")


def test_archives_unpacked_side_by_side_are_one_corpus(tmp_path):
    """Speech and song each in its own folder, as the two zips unpack."""
    info = make_ravdess(
        tmp_path / "merged",
        n_actors=6,
        statements=("01",),
        repetitions=("01",),
        doubled=False,
        **SHORT,
    )
    root = tmp_path / "side_by_side"
    for wav in (tmp_path / "merged").rglob("*.wav"):
        archive = "Speech" if wav.name.split("-")[1] == "01" else "Song"
        target = root / f"Audio_{archive}_Actors_01-24" / wav.parent.name
        target.mkdir(parents=True, exist_ok=True)
        wav.rename(target / wav.name)
    prepare_ravdess(root, tmp_path / "out", vocal_channel="both")
    frames = manifests(tmp_path / "out")
    assert sum(len(frame) for frame in frames.values()) == info["n_utterances"]


def test_the_recipe_trains_on_the_release_layout(
    ravdess, tiny_encoders, tmp_path
):
    args = recipe_args(
        "RAVDESS",
        "lora.yaml",
        ravdess["root"],
        tiny_encoders["wavlm"],
        tmp_path,
    )
    results = run_recipe("RAVDESS", *args, *QUICK)
    assert results["corpus"] == "RAVDESS"
    assert results["label_set"] == [
        "neu",
        "cal",
        "hap",
        "sad",
        "ang",
        "fea",
        "dis",
        "sur",
    ]
    assert set(results["splits"]) == {"dev", "test"}
    assert results["splits"]["test"]["n"] == 2 * SPEECH_PER_TAKE
