"""Tests of the synthetic corpora: real layouts, label formats, determinism
and class-dependent acoustic cues (measured here independently).

Authors
 * speechbrain-peft-ser developers 2026
"""

import collections
import csv
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechbrain_peft.corpora import CORPORA
from speechbrain_peft.corpora.crema_d import make_synthetic as make_crema_d
from speechbrain_peft.corpora.iemocap import make_synthetic as make_iemocap
from speechbrain_peft.corpora.msp_podcast import (
    make_synthetic as make_msp_podcast,
)
from speechbrain_peft.synthetic.corpora import main

SUMMARY = re.compile(
    r"^\[(\d+\.\d+) - (\d+\.\d+)\]\t(\S+)\t(\S+)\t"
    r"\[(\d+\.\d+), (\d+\.\d+), (\d+\.\d+)\]$"
)
IEMOCAP_LABELS = set("neu hap exc ang sad fru sur fea dis oth xxx".split())
CATEGORY = {
    "Neutral": "neu",
    "Happiness": "hap",
    "Excited": "exc",
    "Anger": "ang",
    "Sadness": "sad",
    "Frustration": "fru",
    "Surprise": "sur",
    "Fear": "fea",
    "Disgust": "dis",
    "Other": "oth",
}
MSP_SPLITS = {"Train", "Development", "Test1", "Test2"}
CREMA_NAME = re.compile(
    r"^(10\d\d)_(IEO|TIE|IOM|IWW|TAI|MTI|IWL|ITH|DFA|ITS|TSI|WSI)_"
    r"(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)\.wav$"
)
SHORT = dict(min_dur=0.5, max_dur=0.9)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Small corpora of three kinds."""
    root = tmp_path_factory.mktemp("corpora")
    return {
        "iemocap": make_iemocap(root / "IEMOCAP_full_release", 4, **SHORT),
        "msp": make_msp_podcast(
            root / "MSP-Podcast",
            utts_per_speaker=3,
            n_speakers=8,
            n_unknown=4,
            **SHORT,
        ),
        "crema": make_crema_d(
            root / "CREMA-D",
            n_actors=4,
            sentences=("IEO", "DFA", "ITS"),
            min_dur=1.0,
            max_dur=1.5,
        ),
    }


def _check_audio(path, duration=None):
    """16 kHz mono PCM_16 of the given duration (seconds), if any."""
    meta = sf.info(str(path))
    assert (meta.samplerate, meta.channels, meta.subtype) == (
        16000,
        1,
        "PCM_16",
    )
    if duration is not None:
        assert meta.frames == round(duration * 16000)


def _parse_emo_evaluation(path):
    """Blocks of a real-format EmoEvaluation file: summary + evaluators."""
    lines = path.read_text().split("\n")
    assert lines[0] == "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
    assert lines[1] == "" and lines[-1] == "" and lines[-2] == ""
    blocks = []
    for line in lines[2:]:
        if line.startswith("["):
            match = SUMMARY.match(line)
            assert match, line
            blocks.append({"summary": match.groups(), "lines": []})
        elif line:
            blocks[-1]["lines"].append(line)
    return blocks


def _frame_db(audio, frame=400):
    """Per-frame energy in dB of a signal."""
    frames = audio[: len(audio) // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def _active_db(path):
    """Mean energy of the frames within 20 dB of the loudest one."""
    energy = _frame_db(sf.read(path)[0])
    return energy[energy > energy.max() - 20].mean()


def _f0_track(path, frame=640):
    """Autocorrelation f0 (octaves) of loud frames, with their position."""
    audio = sf.read(path)[0]
    energy = _frame_db(audio, frame)
    frames = audio[: len(energy) * frame].reshape(-1, frame)
    track = []
    for index in np.flatnonzero(energy > energy.max() - 15):
        chunk = frames[index] - frames[index].mean()
        corr = np.correlate(chunk, chunk, "full")[frame - 1 :]
        lag = 40 + np.argmax(corr[40:267])  # 60..400 Hz
        track.append((index / len(energy), np.log2(16000 / lag)))
    return np.array(track)


def test_iemocap_layout_and_labels(corpora):
    info = corpora["iemocap"]
    root = Path(info["root"])
    frame = info["utterances"]
    seen = {}
    for session in range(1, 6):
        eval_dir = root / f"Session{session}" / "dialog" / "EmoEvaluation"
        for sub in ("Categorical", "Attribute", "Self-evaluation"):
            assert (eval_dir / sub).is_dir()
        label_files = [
            p for p in eval_dir.glob("*.txt") if not p.name.startswith("._")
        ]
        names = [p.stem for p in label_files]
        pattern = rf"^Ses0{session}[FM]_(impro0\d|script0\d_\d)$"
        assert all(re.match(pattern, name) for name in names), names
        assert any("_impro" in n for n in names)
        assert any("_script" in n for n in names)
        for label_file in label_files:
            dialog = label_file.stem
            genders = set()
            for block in _parse_emo_evaluation(label_file):
                start, end, utt_id, label, *vad = block["summary"]
                vad = [float(value) for value in vad]
                assert re.match(rf"^{dialog}_[FM]\d\d\d$", utt_id)
                assert label in IEMOCAP_LABELS
                assert all(1.0 <= value <= 5.0 for value in vad)
                wav = root / f"Session{session}/sentences/wav/{dialog}"
                _check_audio(wav / f"{utt_id}.wav", float(end) - float(start))
                # The summary is valence, activation, dominance: the mean
                # of the outside evaluators' "A-E" lines.
                ratings = [
                    [
                        float(x)
                        for x in re.findall(r"(?:val|act|dom) +(\d)", line)
                    ]
                    for line in block["lines"]
                    if line.startswith("A-E")
                ]
                assert np.allclose(np.mean(ratings, axis=0), vad, atol=1e-4)
                # The label is the outside evaluators' majority category.
                votes = collections.Counter(
                    name
                    for line in block["lines"]
                    if line.startswith("C-E")
                    for name in re.findall(r"(\w+);", line)
                )
                (top, count), *rest = votes.most_common()
                if label != "xxx":
                    assert CATEGORY[top] == label
                    assert not rest or rest[0][1] < count
                genders.add(utt_id[-4])
                seen[utt_id] = (label, vad[1], f"Ses0{session}")
            # Both actors speak in every dialog, whoever wore the markers.
            assert genders == {"F", "M"}
    assert set(seen) == set(frame.id)
    for row in frame.itertuples():
        assert seen[row.id] == (row.label, row.arousal, row.speaker[:5])
        assert row.speaker == row.speaker[:5] + row.id[-4]
        assert Path(row.path).is_file()
    assert frame.speaker.nunique() == 10
    assert {"xxx", "exc", "fru"} <= set(frame.label)
    # The junk the real release carries, which a careless glob trips on.
    assert list(root.glob("Session*/dialog/EmoEvaluation/._*.txt"))
    assert list(root.glob("Session*/dialog/EmoEvaluation/Categorical/*.txt"))
    junk = list(root.glob("Session*/sentences/wav/*/._*.wav"))
    assert junk and junk[0].read_bytes()[:4] == b"\x00\x05\x16\x07"


def _read_msp(root):
    with open(root / "Labels" / "labels_consensus.csv", newline="") as file:
        reader = csv.reader(file)
        header = next(reader)
        return header, list(reader)


def test_msp_podcast_layout_and_labels(corpora):
    root = Path(corpora["msp"]["root"])
    header, rows = _read_msp(root)
    assert header == (
        "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"
    ).split(",")
    # As released, Test3's audio is there but its labels are withheld.
    withheld = corpora["msp"]["unlabelled"]
    assert set(withheld["split"]) == {"Test3"} and len(withheld)
    assert sorted(p.name for p in (root / "Audios").iterdir()) == sorted(
        [row[0] for row in rows] + list(withheld["id"] + ".wav")
    )
    speakers_of = {}
    for name, emo, act, val, dom, speaker, gender, split in rows:
        assert re.match(r"^MSP-PODCAST_\d{4}_\d{4}\.wav$", name)
        _check_audio(root / "Audios" / name)
        assert emo in set("ASHUFDCNOX")
        assert all(1.0 <= float(x) <= 7.0 for x in (act, val, dom))
        assert split in MSP_SPLITS
        if speaker == "Unknown":
            assert gender == "Unknown" and split.startswith("Test")
        else:
            assert int(speaker) > 0 and gender in ("Female", "Male")
            speakers_of.setdefault(split, set()).add(speaker)
    assert set(speakers_of) == MSP_SPLITS
    splits = list(speakers_of.values())
    for i, first in enumerate(splits):
        for second in splits[i + 1 :]:
            assert not first & second
    assert {"N", "H", "A", "S", "X"} <= {row[1] for row in rows}
    frame = corpora["msp"]["utterances"]
    assert sorted(frame.id + ".wav") == sorted(row[0] for row in rows)


def test_msp_podcast_test_sets(tmp_path):
    info = make_msp_podcast(
        tmp_path,
        utts_per_speaker=1,
        n_speakers=4,
        n_unknown=2,
        test_sets=("Test1", "Test2"),
        **SHORT,
    )
    _, rows = _read_msp(tmp_path)
    assert {row[7] for row in rows} == {
        "Train",
        "Development",
        "Test1",
        "Test2",
    }
    assert info["n_utterances"] == len(rows) == 6
    with pytest.raises(ValueError):
        make_msp_podcast(tmp_path / "bad", test_sets=("Test4",))


def test_crema_d_layout(corpora):
    root = Path(corpora["crema"]["root"])
    names = sorted(p.name for p in (root / "AudioWAV").iterdir())
    assert len(names) == 4 * (16 + 6 + 6)
    for name in names:
        actor, sentence, emotion, level = CREMA_NAME.match(name).groups()
        # Only IEO has intensity levels, and never for neutral.
        if sentence == "IEO" and emotion != "NEU":
            assert level in ("LO", "MD", "HI")
        else:
            assert level == "XX"
        _check_audio(root / "AudioWAV" / name)
    with open(root / "VideoDemographics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["ActorID", "Age", "Sex", "Race", "Ethnicity"]
    assert [row["ActorID"] for row in rows] == ["1001", "1002", "1003", "1004"]
    assert sorted(row["Sex"] for row in rows) == ["Female"] * 2 + ["Male"] * 2
    assert all(row["Ethnicity"] in ("Hispanic", "Not Hispanic") for row in rows)
    frame = corpora["crema"]["utterances"]
    assert sorted(frame.id + ".wav") == names


def _tree(root):
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    "make, kwargs",
    [
        (make_iemocap, dict(utts_per_speaker=2, min_dur=0.4, max_dur=0.6)),
        (
            make_msp_podcast,
            dict(utts_per_speaker=1, n_speakers=5, n_unknown=1, **SHORT),
        ),
        (make_crema_d, dict(n_actors=1, sentences=("DFA",), **SHORT)),
    ],
)
def test_deterministic(tmp_path, make, kwargs):
    make(tmp_path / "a", seed=3, **kwargs)
    make(tmp_path / "b", seed=3, **kwargs)
    make(tmp_path / "c", seed=4, **kwargs)
    first = _tree(tmp_path / "a")
    assert first == _tree(tmp_path / "b")
    assert first != _tree(tmp_path / "c")


def test_class_cues(corpora):
    frame = corpora["crema"]["utterances"]
    level = frame.set_index("id").path.map(_active_db)
    by_class = level.groupby(frame.set_index("id").label).mean()
    assert by_class["ANG"] - by_class["SAD"] > 6.0
    assert by_class["HAP"] - by_class["SAD"] > 3.0
    # Angry voices are higher than sad ones for every actor.
    for _, actor in frame.groupby("speaker"):
        pitch = {
            label: np.mean([_f0_track(p)[:, 1].mean() for p in group.path])
            for label, group in actor.groupby("label")
        }
        assert pitch["ANG"] - pitch["SAD"] > 0.3


def test_dimensions_follow_acoustics(corpora):
    frame = corpora["iemocap"]["utterances"]
    level = frame.path.map(_active_db)
    slope = [np.polyfit(*_f0_track(p).T, 1)[0] for p in frame.path]
    assert np.corrcoef(level, frame.arousal)[0, 1] > 0.4
    assert np.corrcoef(level, frame.dominance)[0, 1] > 0.3
    assert np.corrcoef(slope, frame.valence)[0, 1] > 0.4


def test_durations_within_the_asked_range_and_varied(corpora):
    durations = corpora["iemocap"]["utterances"].duration
    assert durations.min() >= 0.5 and durations.max() <= 0.9
    assert durations.nunique() > len(durations) // 2


def test_command_line_writes_registered_corpora_in_release_folders(
    tmp_path, capsys
):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    assert all(name in usage for name in CORPORA)
    main([str(tmp_path), "--seed", "1", "--corpus", "EmoDB"])
    main([str(tmp_path), "--corpus", "MSP-IMPROV", "--corpus", "CREMA-D"])
    printed = capsys.readouterr().out
    for name in ("EmoDB", "MSP-IMPROV", "CREMA-D"):
        assert name in printed and (tmp_path / name).is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "CREMA-D",
        "EmoDB",
        "MSP-IMPROV",
    ]
    assert (tmp_path / "CREMA-D/VideoDemographics.csv").is_file()
    assert len(list((tmp_path / "EmoDB/wav").glob("*.wav"))) > 200
