"""Bad input to data prep: a clear error naming the path and what to do,
and no manifest left behind.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from recipe_runs import QUICK, recipe_args, run_recipe

from speechbrain_peft.corpora.crema_d import make_synthetic as make_crema_d
from speechbrain_peft.corpora.crema_d import prepare_crema_d
from speechbrain_peft.corpora.iemocap import make_synthetic as make_iemocap
from speechbrain_peft.corpora.iemocap import prepare_iemocap
from speechbrain_peft.corpora.msp_podcast import (
    make_synthetic as make_msp_podcast,
)
from speechbrain_peft.corpora.msp_podcast import prepare_msp_podcast
from speechbrain_peft.data.manifest import DataPrepError

SHORT = {"min_dur": 0.4, "max_dur": 0.5}
PREPARE = {
    "iemocap": prepare_iemocap,
    "msp": prepare_msp_podcast,
    "crema": prepare_crema_d,
}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    return {
        "iemocap": make_iemocap(
            root / "IEMOCAP_full_release", utts_per_speaker=2, **SHORT
        ),
        "msp": make_msp_podcast(
            root / "MSP-Podcast",
            utts_per_speaker=4,
            n_speakers=8,
            n_unknown=3,
            **SHORT,
        ),
        "crema": make_crema_d(
            root / "CREMA-D", n_actors=6, sentences=("DFA",), **SHORT
        ),
    }


@pytest.fixture
def copy(corpora, tmp_path):
    """A private copy of a corpus, safe to break: ``copy(name) -> root``."""

    def make(name):
        root = tmp_path / Path(corpora[name]["root"]).name
        shutil.copytree(corpora[name]["root"], root)
        return root

    return make


def nothing_written(folder):
    return not folder.exists() or not any(folder.iterdir())


@pytest.mark.parametrize("name", sorted(PREPARE))
def test_missing_corpus_folder(name, tmp_path):
    missing = tmp_path / "not_there"
    with pytest.raises(DataPrepError, match="does not exist") as error:
        PREPARE[name](missing, tmp_path / "out")
    assert str(missing) in str(error.value)
    assert "--data-folder" in str(error.value)
    assert nothing_written(tmp_path / "out")


@pytest.mark.parametrize(
    "name, inside",
    [
        ("iemocap", "Session1"),
        ("iemocap", "Session2/sentences/wav"),
        ("msp", "Audios"),
        ("crema", "AudioWAV"),
    ],
)
def test_folder_inside_the_corpus(corpora, tmp_path, name, inside):
    root = corpora[name]["root"]
    with pytest.raises(DataPrepError, match="inside") as error:
        PREPARE[name](Path(root) / inside, tmp_path / "out")
    assert str(error.value).endswith(f"pass --data-folder {root}")
    assert nothing_written(tmp_path / "out")


@pytest.mark.parametrize("name", sorted(PREPARE))
def test_folder_above_the_corpus(corpora, tmp_path, name):
    root = Path(corpora[name]["root"])
    with pytest.raises(DataPrepError, match="subfolder") as error:
        PREPARE[name](root.parent, tmp_path / "out")
    assert str(error.value).endswith(f"pass --data-folder {root}")


def test_iemocap_missing_session(copy, tmp_path):
    root = copy("iemocap")
    shutil.rmtree(root / "Session4")
    with pytest.raises(DataPrepError, match="lacks Session4"):
        prepare_iemocap(root, tmp_path / "out")
    assert nothing_written(tmp_path / "out")


def test_msp_missing_label_file(copy, tmp_path):
    root = copy("msp")
    (root / "Labels" / "labels_consensus.csv").unlink()
    with pytest.raises(DataPrepError, match="no Labels/labels_consensus.csv"):
        prepare_msp_podcast(root, tmp_path / "out")
    assert nothing_written(tmp_path / "out")


def test_crema_missing_demographics(copy, tmp_path):
    root = copy("crema")
    (root / "VideoDemographics.csv").unlink()
    with pytest.raises(DataPrepError, match="VideoDemographics.csv"):
        prepare_crema_d(root, tmp_path / "out")


def test_listed_audio_missing_then_skipped(copy, tmp_path):
    root = copy("msp")
    labels = pd.read_csv(root / "Labels" / "labels_consensus.csv")
    kept = labels[labels["EmoClass"].isin(list("NHAS"))]
    gone = root / "Audios" / kept["FileName"].iloc[0]
    gone.unlink()
    with pytest.raises(DataPrepError) as error:
        prepare_msp_podcast(root, tmp_path / "out")
    assert f"{gone}: missing" in str(error.value)
    assert "--skip-invalid-audio" in str(error.value)
    assert nothing_written(tmp_path / "out")

    info = prepare_msp_podcast(root, tmp_path / "out", skip_invalid_audio=True)
    assert info["invalid_audio"] == [
        {"file": f"Audios/{gone.name}", "problem": "missing"}
    ]
    assert info["skipped"]["invalid audio"]["count"] == 1
    written = pd.concat(
        pd.read_csv(path) for path in (tmp_path / "out").glob("*.csv")
    )
    assert gone.stem not in set(written["ID"])
    saved = json.loads((tmp_path / "out" / "prep_info.json").read_text())
    assert saved["invalid_audio"] == info["invalid_audio"]


def test_every_bad_wav_is_named(copy, tmp_path):
    root = copy("crema")
    audio = root / "AudioWAV"
    empty, corrupt, no_samples = sorted(audio.glob("*.wav"))[:3]
    empty.write_bytes(b"")
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunk")
    sf.write(no_samples, np.zeros(0, dtype=np.int16), 16000)
    # macOS resource forks are not audio and must be ignored.
    (audio / f"._{empty.name}").write_bytes(b"\x00\x05\x16\x07")
    with pytest.raises(DataPrepError, match="3 audio file") as error:
        prepare_crema_d(root, tmp_path / "out")
    message = str(error.value)
    assert f"{empty}: empty (0 bytes)" in message
    assert f"{corrupt}: unreadable audio header" in message
    assert f"{no_samples}: no audio samples" in message
    assert nothing_written(tmp_path / "out")

    info = prepare_crema_d(root, tmp_path / "out", skip_invalid_audio=True)
    assert sorted(item["file"] for item in info["invalid_audio"]) == [
        f"AudioWAV/{path.name}" for path in (empty, corrupt, no_samples)
    ]
    assert info["skipped"]["invalid audio"]["count"] == 3


def test_iemocap_unknown_label_names_file_and_line(copy, tmp_path):
    root = copy("iemocap")
    files = sorted(
        (root / "Session3" / "dialog" / "EmoEvaluation").glob("Ses*.txt")
    )
    lines = files[0].read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith("["))
    fields = lines[number].split("\t")
    fields[2] = "zzz"
    lines[number] = "\t".join(fields)
    files[0].write_text("\n".join(lines) + "\n")
    with pytest.raises(DataPrepError, match="unknown emotion code 'zzz'") as e:
        prepare_iemocap(root, tmp_path / "out")
    assert f"{files[0]}, line {number + 1}" in str(e.value)
    assert nothing_written(tmp_path / "out")


def test_msp_unknown_class_names_line(copy, tmp_path):
    root = copy("msp")
    path = root / "Labels" / "labels_consensus.csv"
    labels = pd.read_csv(path, dtype=str)
    labels.loc[4, "EmoClass"] = "Q"
    labels.to_csv(path, index=False)
    with pytest.raises(DataPrepError, match="line 6: unknown EmoClass 'Q'"):
        prepare_msp_podcast(root, tmp_path / "out")
    assert nothing_written(tmp_path / "out")


def test_crema_bad_file_names(copy, tmp_path):
    root = copy("crema")
    source = next((root / "AudioWAV").glob("*.wav"))
    shutil.copy(source, root / "AudioWAV" / "1001_DFA_BOR_XX.wav")
    shutil.copy(source, root / "AudioWAV" / "take2.wav")
    with pytest.raises(DataPrepError, match="2 file name") as error:
        prepare_crema_d(root, tmp_path / "out")
    assert "1001_DFA_BOR_XX.wav: unknown emotion code 'BOR'" in str(error.value)
    assert "take2.wav: not <ActorID>" in str(error.value)
    assert nothing_written(tmp_path / "out")


def test_crema_misnamed_level_of_older_copies_is_read(copy, tmp_path, caplog):
    """Older CREMA-D copies name one file 1040_ITH_SAD_X.wav."""
    root = copy("crema")
    source = sorted((root / "AudioWAV").glob("*_XX.wav"))[0]
    misnamed = source.with_name(source.name.replace("_XX.wav", "_X.wav"))
    source.rename(misnamed)
    with caplog.at_level("INFO", logger="speechbrain_peft.corpora.crema_d"):
        prepare_crema_d(root, tmp_path / "out")
    manifests = (tmp_path / "out").glob("*.csv")
    frame = pd.concat(pd.read_csv(path, dtype=str) for path in manifests)
    row = frame.set_index("ID").loc[misnamed.stem]
    assert row["level"] == "XX" and row["wav"].endswith(misnamed.name)
    assert f"AudioWAV/{misnamed.name}" in caplog.text


def test_speaker_in_two_splits_fails(copy, tmp_path):
    root = copy("msp")
    path = root / "Labels" / "labels_consensus.csv"
    labels = pd.read_csv(path, dtype=str)
    test_speaker = labels.loc[
        (labels["Split_Set"] == "Test1") & (labels["SpkrID"] != "Unknown"),
        "SpkrID",
    ].iloc[0]
    labels.loc[labels["Split_Set"] == "Train", "SpkrID"] = test_speaker
    labels.to_csv(path, index=False)
    with pytest.raises(DataPrepError) as error:
        prepare_msp_podcast(root, tmp_path / "out")
    assert f"speaker {test_speaker} is in train.csv and test1.csv" in str(
        error.value
    )
    assert nothing_written(tmp_path / "out")


def test_failed_rerun_keeps_previous_output(copy, tmp_path):
    root = copy("crema")
    out = tmp_path / "out"
    first = prepare_crema_d(root, out)
    before = {path: path.read_bytes() for path in out.rglob("*")}
    next((root / "AudioWAV").glob("*.wav")).write_bytes(b"")
    with pytest.raises(DataPrepError):
        prepare_crema_d(root, out, class_set="4class")
    assert {path: path.read_bytes() for path in out.rglob("*")} == before
    assert (
        json.loads((out / "prep_info.json").read_text())["options"]
        == (first["options"])
    )


@pytest.mark.parametrize(
    "name, option",
    [
        ("iemocap", {"class_set": "3class"}),
        ("iemocap", {"subset": "acted"}),
        ("msp", {"other": "merge"}),
        ("crema", {"test_fraction": 0.95}),
    ],
)
def test_bad_options(corpora, tmp_path, name, option):
    with pytest.raises(DataPrepError):
        PREPARE[name](corpora[name]["root"], tmp_path / "out", **option)
    assert nothing_written(tmp_path / "out")


def _crema_d_as_released(root):
    """Give a synthetic CREMA-D the release's actor 1076, whose
    ``1076_MTI_SAD_XX.wav`` the release ships empty."""
    audio = root / "AudioWAV"
    demographics = root / "VideoDemographics.csv"
    table = pd.read_csv(demographics)
    row = table.iloc[[0]].assign(ActorID=1076)
    pd.concat([table, row]).to_csv(demographics, index=False)
    for wav in sorted(audio.glob("1001_*.wav")):
        shutil.copy(wav, audio / wav.name.replace("1001_", "1076_"))
    (audio / "1076_MTI_SAD_XX.wav").write_bytes(b"")


def test_the_crema_d_recipe_runs_on_the_release_as_distributed(
    copy, tiny_encoders, tmp_path
):
    """The recipe's command on a copy with the release's empty file: the
    file is left out, logged and listed in prep_info.json. Another broken
    file stops the run with advice that runs as printed."""
    root = copy("crema")
    _crema_d_as_released(root)
    args = recipe_args(
        "CREMA-D", "lora.yaml", root, tiny_encoders["wavlm"], tmp_path
    )
    results = run_recipe("CREMA-D", *args, *QUICK)
    info = json.loads((tmp_path / "manifests" / "prep_info.json").read_text())
    assert info["invalid_audio"] == [
        {"file": "AudioWAV/1076_MTI_SAD_XX.wav", "problem": "empty (0 bytes)"}
    ]
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "skipping AudioWAV/1076_MTI_SAD_XX.wav" in log
    ids = {
        row.split(",")[0]
        for split in ("train", "dev", "test")
        for row in (tmp_path / "manifests" / f"{split}.csv")
        .read_text()
        .splitlines()[1:]
    }
    assert "1076_MTI_SAD_XX" not in ids and "1076_DFA_ANG_XX" in ids
    assert results["splits"]["test"]["n"] > 0

    broken = sorted((root / "AudioWAV").glob("1002_*.wav"))[0]
    broken.write_bytes(b"")
    out = tmp_path / "again"
    args = recipe_args(
        "CREMA-D", "lora.yaml", root, tiny_encoders["wavlm"], out
    )
    with pytest.raises(DataPrepError, match="--skip_invalid_audio=True"):
        run_recipe("CREMA-D", *args, *QUICK)
    run_recipe("CREMA-D", *args, *QUICK, "--skip_invalid_audio=True")
    info = json.loads((out / "manifests" / "prep_info.json").read_text())
    assert sorted(item["file"] for item in info["invalid_audio"]) == [
        f"AudioWAV/{broken.name}",
        "AudioWAV/1076_MTI_SAD_XX.wav",
    ]
