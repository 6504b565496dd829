"""Small synthetic IEMOCAP, MSP-Podcast, CREMA-D, RAVDESS and EmoDB corpora,
and a folder of labelled WAVs as a user's own data.

Each generator writes a corpus in the on-disk layout of the real release
(folder trees, file names, label files, including the junk files the real
releases carry), so the data-prep scripts run on it unchanged. The audio is
speech-like: a harmonic source shaped by vowel formants, with an f0 contour,
vibrato, a syllable-rate amplitude envelope, breath noise and a noise floor.

Every utterance draws a latent (arousal, valence, dominance) point near its
emotion's prototype, and the acoustics follow it:

* arousal raises f0, loudness and the syllable rate, flattens the spectral
  tilt and raises the formants a little (vocal effort);
* valence tilts the f0 contour (rising when positive, falling when negative)
  and raises the formants (a smiling vocal tract);
* dominance raises loudness and flattens the spectral tilt (brighter voice);
* low arousal, valence or dominance add breath noise.

The spectral cues are strong on purpose: a random-init encoder normalises
each utterance's level away and sees coarse spectral shape best, and the
tests and the demo need every configuration to learn from it with a wide
margin above chance.

The annotated dimensions are noisy ratings of the same latent point, so
classes are learnable from audio and a regressor can reach a positive CCC.
Speakers differ by f0, vocal-tract length, gain and tilt. The natural corpus
(MSP-Podcast) expresses emotions less strongly and is noisier than the acted
ones, which gives the acted-to-natural transfer a real domain gap.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

SAMPLE_RATE = 16000

# Emotion prototypes as (arousal, valence, dominance) in [-1, 1].
PROTOTYPES = {
    "neu": (0.0, 0.0, 0.0),
    "hap": (0.35, 0.7, 0.2),
    "exc": (0.7, 0.6, 0.35),
    "ang": (0.75, -0.6, 0.7),
    "sad": (-0.6, -0.55, -0.45),
    "fru": (0.35, -0.45, 0.25),
    "sur": (0.55, 0.25, 0.0),
    "fea": (0.45, -0.6, -0.5),
    "dis": (0.15, -0.65, 0.3),
    "con": (-0.1, -0.4, 0.45),
    "cal": (-0.5, 0.3, -0.1),
    "bor": (-0.7, -0.2, -0.1),
}
# Classes whose blend makes a "no agreement" utterance.
BLENDABLE = ("neu", "hap", "exc", "ang", "sad", "fru")
# The label an evaluator who disagrees with the majority tends to give.
CONFUSION = {
    "neu": "fru",
    "hap": "exc",
    "exc": "hap",
    "ang": "fru",
    "sad": "neu",
    "fru": "ang",
    "sur": "exc",
    "fea": "sur",
    "dis": "fru",
    "oth": "neu",
}

# (F1, F2) in Hz of five vowels of an adult male vocal tract.
VOWELS = np.array(
    [[730, 1090], [270, 2290], [300, 870], [530, 1840], [570, 840]], float
)
F3 = 2500.0
BANDWIDTHS = (80.0, 100.0, 140.0)
# Harmonics stop here; the breath noise fills the band above.
MAX_HARMONIC_HZ = 5000.0
# Gains are computed on a 5 ms grid and interpolated: they vary slowly.
HOP = 80

# --- IEMOCAP ---------------------------------------------------------------
# Label blocks handed out to speakers: every block of 12 holds two of each
# of neu, ang, sad and hap/exc, so every speaker (hence every fold's test
# session) has the four default classes, while the rare classes and "xxx"
# (no majority) are spread over speakers.
IEMOCAP_CYCLE = (
    "neu ang sad hap exc fru neu ang sad hap xxx exc "
    "neu ang sad hap fru sur neu ang sad exc xxx fea "
    "neu ang sad hap fru dis neu ang sad exc xxx oth"
).split()
IEMOCAP_NAMES = {
    "neu": "Neutral",
    "hap": "Happiness",
    "exc": "Excited",
    "ang": "Anger",
    "sad": "Sadness",
    "fru": "Frustration",
    "sur": "Surprise",
    "fea": "Fear",
    "dis": "Disgust",
    "oth": "Other",
}
IEMOCAP_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
# The script suffixes of the real release.
IEMOCAP_SCRIPTS = ("01_1", "01_2", "01_3", "02_1", "02_2", "03_1", "03_2")
# AppleDouble header: what the real release's "._*" files start with.
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02"

# --- MSP-Podcast -----------------------------------------------------------
MSP_CLASSES = {
    "A": "ang",
    "S": "sad",
    "H": "hap",
    "U": "sur",
    "F": "fea",
    "D": "dis",
    "C": "con",
    "N": "neu",
    "O": "oth",
    "X": "xxx",
}
# Mostly N, H, A and S, as in the real corpus, with every class present.
MSP_CYCLE = "N H A S N H A S N U C X N H A S F D O X N H A S".split()
MSP_HEADER = (
    "FileName",
    "EmoClass",
    "EmoAct",
    "EmoVal",
    "EmoDom",
    "SpkrID",
    "Gender",
    "Split_Set",
)

# --- CREMA-D ---------------------------------------------------------------
CREMA_SENTENCES = ("IEO TIE IOM IWW TAI MTI IWL ITH DFA ITS TSI WSI").split()
CREMA_EMOTIONS = {
    "ANG": "ang",
    "DIS": "dis",
    "FEA": "fea",
    "HAP": "hap",
    "NEU": "neu",
    "SAD": "sad",
}
# How strongly each level expresses the emotion (XX = unspecified).
CREMA_LEVELS = {"LO": 0.6, "MD": 0.9, "HI": 1.2, "XX": 1.0}
CREMA_RACES = ("Caucasian", "African American", "Asian", "Unknown")


def _voice(rng, gender):
    """Draw a speaker: mean f0, formant scale, gain and tilt offsets."""
    if gender not in ("F", "M"):
        gender = "F" if rng.random() < 0.5 else "M"
    female = gender == "F"
    return {
        "f0": rng.normal(205.0, 18.0) if female else rng.normal(115.0, 10.0),
        # Shorter vocal tracts have higher formants.
        "formant_scale": rng.normal(1.15 if female else 1.0, 0.03),
        "gain_db": rng.normal(0.0, 1.5),
        "tilt": rng.normal(0.0, 0.1),
    }


def _latent(rng, emotion, intensity):
    """Draw the latent (arousal, valence, dominance) point of an utterance.

    ``xxx`` blends two classes (the evaluators could not agree) and ``oth``
    is anywhere near the centre. Returns the point and, for ``xxx``, the
    two blended classes.
    """
    blend = ()
    if emotion == "xxx":
        blend = tuple(rng.choice(BLENDABLE, size=2, replace=False))
        centre = (np.array(PROTOTYPES[blend[0]]) + PROTOTYPES[blend[1]]) / 2
    elif emotion == "oth":
        centre = rng.uniform(-0.5, 0.5, size=3)
    else:
        centre = np.array(PROTOTYPES[emotion])
    point = centre * intensity + rng.normal(0.0, 0.12, size=3)
    return np.clip(point, -1.0, 1.0), blend


def _ratings(rng, point, n_raters, scale_max):
    """Integer ratings on a 1..scale_max scale, one row per rater.

    Columns are (arousal, valence, dominance), noisy readings of ``point``.
    """
    middle = (1 + scale_max) / 2
    noisy = point + rng.normal(0.0, 0.3, size=(n_raters, 3))
    return np.clip(np.rint(middle + (middle - 1) * noisy), 1, scale_max)


def _resonance(freq, centre, bandwidth):
    """Magnitude of a second-order resonance, 1 at DC, centre/bw at peak."""
    ratio = freq / centre
    return 1.0 / np.sqrt(
        (1 - ratio**2) ** 2 + (ratio * bandwidth / centre) ** 2
    )


def _synthesise(rng, n_samples, point, voice, noise_db=-55.0):
    """Speech-like audio whose cues follow ``point`` (see module docstring).

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of all randomness.
    n_samples : int
        Length of the output.
    point : array-like
        Latent (arousal, valence, dominance) in [-1, 1].
    voice : dict
        Speaker parameters from ``_voice``.
    noise_db : float
        Level of the background noise floor, dB re full scale.

    Returns
    -------
    numpy.ndarray
        Float64 samples around -24 dBFS (louder with arousal, dominance).
    """
    arousal, valence, dominance = point
    sr = SAMPLE_RATE
    # Leading and trailing silence, as in segmented real recordings.
    lead = int(min(rng.uniform(0.05, 0.15) * sr, 0.1 * n_samples))
    tail = int(min(rng.uniform(0.05, 0.15) * sr, 0.1 * n_samples))
    length = n_samples - lead - tail
    time = np.arange(length) / sr
    progress = time / max(time[-1], 1e-9)

    # f0 contour in octaves: speaker mean, arousal shift, valence slope,
    # slow intonation and vibrato whose depth grows with arousal.
    log_f0 = (
        np.log2(voice["f0"])
        + 0.45 * arousal
        + 0.6 * valence * (progress - 0.5)
        + 0.08
        * np.sin(
            2 * np.pi * rng.uniform(0.5, 1.5) * time + rng.uniform(0, 2 * np.pi)
        )
        + (0.01 + 0.01 * (arousal + 1))
        * np.sin(
            2 * np.pi * rng.uniform(5.0, 6.0) * time + rng.uniform(0, 2 * np.pi)
        )
    )
    f0 = 2.0**log_f0
    phase = 2 * np.pi * np.cumsum(f0) / sr + rng.uniform(0, 2 * np.pi)

    # Syllables: |sin| humps at an arousal-dependent rate, each with its own
    # loudness and vowel; some are dropped to make pauses between words.
    rate = 4.0 + 1.8 * arousal + rng.normal(0.0, 0.2)
    rate_track = rate * (1 + 0.15 * np.sin(2 * np.pi * 0.7 * time))
    syllable_pos = np.cumsum(rate_track) / sr
    syllable = syllable_pos.astype(int)
    n_syllables = syllable[-1] + 1
    loudness = rng.uniform(0.5, 1.0, size=n_syllables)
    loudness[1:] *= rng.random(n_syllables - 1) > 0.12
    vowel = rng.integers(0, len(VOWELS), size=n_syllables)
    envelope = np.abs(np.sin(np.pi * syllable_pos)) ** 0.6 * loudness[syllable]

    # Harmonic gains on a coarse grid: source tilt (flatter with dominance
    # and arousal) times the vowel's formant resonances. Samples are laid
    # out as (blocks, HOP) so a gain ramps linearly across each block.
    n_blocks = -(-length // HOP)
    grid = np.minimum(np.arange(n_blocks + 1) * HOP, length - 1)
    ramp = np.arange(HOP) / HOP
    tilt = max(0.3, 1.6 - 1.0 * dominance - 0.6 * arousal + voice["tilt"])
    formant_scale = voice["formant_scale"] * (1 + 0.3 * valence + 0.1 * arousal)
    formants = VOWELS[vowel[syllable[grid]]] * formant_scale
    n_harmonics = int(MAX_HARMONIC_HZ / f0.min())
    padded = np.pad(phase, (0, n_blocks * HOP - length)).reshape(n_blocks, HOP)
    # sin(k phase) by the Chebyshev recurrence: one multiply-add per
    # harmonic instead of a sine. Float32 halves the memory traffic; its
    # error stays below the 16-bit quantisation of the output.
    sin_k = np.sin(padded).astype(np.float32)
    twice_cos = (2 * np.cos(padded)).astype(np.float32)
    sin_prev = np.zeros_like(sin_k)
    harmonic = np.zeros_like(sin_k)
    ramp = ramp.astype(np.float32)
    for k in range(1, n_harmonics + 1):
        freq = k * f0[grid]
        gain = (
            k**-tilt
            * _resonance(freq, formants[:, 0], BANDWIDTHS[0])
            * _resonance(freq, formants[:, 1], BANDWIDTHS[1])
            * _resonance(freq, F3 * formant_scale, BANDWIDTHS[2])
            * (freq < MAX_HARMONIC_HZ)
        )
        gain = gain.astype(np.float32)
        amplitude = gain[:-1, None] + np.diff(gain)[:, None] * ramp
        harmonic += amplitude * sin_k
        sin_prev = np.subtract(twice_cos * sin_k, sin_prev, out=sin_prev)
        sin_prev, sin_k = sin_k, sin_prev
    audio = harmonic.reshape(-1)[:length].astype(np.float64)

    # Breath noise: stronger in calm, submissive and unpleasant voices.
    breath = (
        0.1
        + 0.6 * max(0.0, -arousal)
        + 0.3 * max(0.0, -dominance)
        + 0.6 * max(0.0, -valence)
    )
    audio = audio / (np.sqrt(np.mean(audio**2)) + 1e-12)
    audio = (audio + breath * rng.standard_normal(length)) * envelope
    # 10 ms fades, so the cut at the region's edges does not click.
    fade = np.minimum(1.0, np.minimum(time, time[-1] - time) / 0.01)
    audio *= fade

    level_db = (
        -24.0 + 6.0 * arousal + 3.0 * dominance + voice["gain_db"]
    ) + rng.normal(0.0, 1.0)
    audio *= 10 ** (level_db / 20) / (np.sqrt(np.mean(audio**2)) + 1e-12)
    out = np.zeros(n_samples)
    out[lead : lead + length] = audio
    out += 10 ** (noise_db / 20) * rng.standard_normal(n_samples)
    return out


def _n_samples(rng, min_dur, max_dur):
    """A duration in whole milliseconds, so time stamps are exact."""
    # Shorter clips leave no room for a syllable between the silences.
    if not 0.3 <= min_dur <= max_dur:
        raise ValueError(
            f"Need 0.3 <= min_dur <= max_dur, got {min_dur}, {max_dur}"
        )
    millis = rng.integers(round(min_dur * 1000), round(max_dur * 1000) + 1)
    return int(millis) * SAMPLE_RATE // 1000


def _write_wav(path, audio):
    """Write 16 kHz mono PCM_16, quantised here so the bytes are exact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.rint(audio * 32768).clip(-32768, 32767).astype(np.int16)
    sf.write(path, samples, SAMPLE_RATE, subtype="PCM_16")


def _rng(seed, corpus):
    """Independent streams per corpus, so ``make_all`` corpora differ."""
    return np.random.default_rng([seed, corpus])


def _labels_for_speaker(cycle, index, count, rng):
    """``count`` labels from ``cycle`` starting at this speaker's block."""
    start = index * count
    labels = [cycle[(start + i) % len(cycle)] for i in range(count)]
    return [str(label) for label in rng.permutation(labels)]


def _summary(frame):
    """The corpus-level part of a generator's return value."""
    return {
        "utterances": frame,
        "n_utterances": len(frame),
        "total_seconds": float(frame["duration"].sum()),
        "sample_rate": SAMPLE_RATE,
    }


def _iemocap_votes(rng, label, blend):
    """Three evaluators' categories whose majority is ``label``."""
    if label == "xxx":
        # All three disagree: the two blended classes and a third one.
        others = [c for c in IEMOCAP_NAMES if c not in blend]
        return [blend[0], blend[1], rng.choice(others)]
    n_agree = 3 if rng.random() < 0.6 else 2
    votes = [label] * n_agree + [CONFUSION[label]] * (3 - n_agree)
    return list(rng.permutation(votes))


def _iemocap_block(rng, utt, votes, ratings, self_rating):
    """One utterance's block of a real EmoEvaluation file."""
    valence, arousal, dominance = (
        utt["valence"],
        utt["arousal"],
        utt["dominance"],
    )
    lines = [
        f"[{utt['start']:.4f} - {utt['end']:.4f}]\t{utt['id']}\t{utt['label']}"
        f"\t[{valence:.4f}, {arousal:.4f}, {dominance:.4f}]"
    ]
    evaluators = rng.choice(
        ["E1", "E2", "E3", "E4", "E5"], size=3, replace=False
    )
    majority = votes.count(utt["label"])
    for evaluator, vote in zip(sorted(evaluators), votes, strict=True):
        names = IEMOCAP_NAMES[vote] + ";"
        # Evaluators may tick a second category, as in the real files, but
        # never one that would tie the majority (a 2-1 vote's majority
        # voter ticking the minority's category).
        may_tick = majority == 3 or (majority == 2 and vote != utt["label"])
        if may_tick and rng.random() < 0.15:
            names += " " + IEMOCAP_NAMES[CONFUSION[vote]] + ";"
        lines.append(f"C-{evaluator}:\t{names}\t()")
    self_name = utt["gender"] + "1"
    lines.append(f"C-{self_name}:\t{IEMOCAP_NAMES[votes[0]]};\t()")
    attribute_evaluators = sorted(
        rng.choice(
            ["E1", "E2", "E3", "E4", "E5"], size=len(ratings), replace=False
        )
    )
    rows = [*zip(attribute_evaluators, ratings, strict=True)]
    rows.append((self_name, self_rating))
    for evaluator, (act, val, dom) in rows:
        lines.append(
            f"A-{evaluator}:\tval {val:.0f}; act {act:.0f}; dom  {dom:.0f};\t()"
        )
    return "\n".join(lines) + "\n"


def _iemocap_dialogs(rng, session):
    """The session's four dialogs: improvised and scripted, per marker."""
    impro = rng.integers(1, 9)
    dialogs = []
    for marker in ("F", "M"):
        script = IEMOCAP_SCRIPTS[rng.integers(len(IEMOCAP_SCRIPTS))]
        dialogs.append(f"Ses0{session}{marker}_impro0{impro}")
        dialogs.append(f"Ses0{session}{marker}_script{script}")
    return dialogs


def make_iemocap(root, utts_per_speaker=12, seed=0, min_dur=1.0, max_dur=4.0):
    """Write a small IEMOCAP in the layout of ``IEMOCAP_full_release``.

    Five sessions, each with one female and one male speaker, each session
    with an improvised and a scripted dialog per marker wearer
    (``Ses01F_impro03``, ``Ses01M_script02_1``, ...). Every dialog holds
    turns of both speakers; the speaker of an utterance is its session plus
    the gender letter of the last part of its ID. Written:

    * ``Session{s}/dialog/EmoEvaluation/<dialog>.txt`` in the real format
      (summary line ``[start - end]<TAB>id<TAB>label<TAB>[V, A, D]`` with
      the 1-5 means of the evaluators' ``A-E*`` lines, then ``C-*`` and
      ``A-*`` evaluator lines), plus the real subfolders: per-evaluator
      files in ``Categorical/`` and ``Attribute/`` (which a careless glob
      would mistake for label files) and an empty ``Self-evaluation/``;
    * ``Session{s}/sentences/wav/<dialog>/<utt_id>.wav``;
    * macOS ``._*`` junk next to one label file and in one wav folder.

    Scripted turns are acted more fully and recorded more cleanly than
    improvised ones, a small domain gap for scripted-to-improvised runs.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder (the one real users call ``IEMOCAP_full_release``).
    utts_per_speaker : int
        Utterances per speaker (10 speakers), at least 2.
    seed : int
        Seed: the same arguments write the same bytes.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root`` (str), ``utterances`` (DataFrame: id, path, speaker
        ``Ses01F``-style, gender ``F``/``M``, label, valence, arousal,
        dominance, session, dialog, scripted, start, end, duration),
        ``n_utterances``, ``total_seconds``, ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_iemocap(tempfile.mkdtemp(), utts_per_speaker=2,
    ...                     min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], sorted(info["utterances"].speaker.unique())[:2]
    (20, ['Ses01F', 'Ses01M'])
    """
    if utts_per_speaker < 2:
        raise ValueError("IEMOCAP needs utts_per_speaker >= 2")
    root = Path(root).resolve()
    rng = _rng(seed, 1)
    records = []
    for session in range(1, 6):
        session_dir = root / f"Session{session}"
        eval_dir = session_dir / "dialog" / "EmoEvaluation"
        for sub in ("Categorical", "Attribute", "Self-evaluation"):
            (eval_dir / sub).mkdir(parents=True, exist_ok=True)
        dialogs = _iemocap_dialogs(rng, session)
        turns = {dialog: [] for dialog in dialogs}
        for gender in ("F", "M"):
            voice = _voice(rng, gender)
            speaker_index = 2 * (session - 1) + (gender == "M")
            labels = _labels_for_speaker(
                IEMOCAP_CYCLE, speaker_index, utts_per_speaker, rng
            )
            # The speaker's turns alternate between improvised and scripted
            # dialogs, so both kinds exist in every session.
            for turn, label in enumerate(labels):
                dialog = dialogs[turn % len(dialogs)]
                turns[dialog].append((gender, voice, label))
        for dialog in dialogs:
            if turns[dialog]:
                records += _write_iemocap_dialog(
                    rng, root, session, dialog, turns[dialog], min_dur, max_dur
                )
    first = records[0]
    eval_dir = root / "Session1" / "dialog" / "EmoEvaluation"
    (eval_dir / f"._{first['dialog']}.txt").write_bytes(APPLE_DOUBLE)
    wav_path = Path(first["path"])
    (wav_path.parent / f"._{wav_path.name}").write_bytes(APPLE_DOUBLE)
    frame = pd.DataFrame(records)
    return {"root": str(root), **_summary(frame)}


def _write_iemocap_dialog(rng, root, session, dialog, turns, min_dur, max_dur):
    """Write one dialog's wavs, label file and per-evaluator files."""
    scripted = "_script" in dialog
    eval_dir = root / f"Session{session}" / "dialog" / "EmoEvaluation"
    wav_dir = root / f"Session{session}" / "sentences" / "wav" / dialog
    # Scripted turns are recorded more cleanly and acted more fully than
    # improvised ones: a small domain gap for scripted->improvised transfer.
    intensity = 0.9 if scripted else 0.8
    noise_db = -55.0 if scripted else -45.0
    # Integer milliseconds keep the printed time stamps exact.
    clock = int(rng.integers(2000, 8000))
    counters = {"F": 0, "M": 0}
    blocks, categorical, attribute, records = [], [], [], []
    for index in rng.permutation(len(turns)):
        gender, voice, label = turns[index]
        utt_id = f"{dialog}_{gender}{counters[gender]:03d}"
        counters[gender] += 1
        n_samples = _n_samples(rng, min_dur, max_dur)
        millis = n_samples * 1000 // SAMPLE_RATE
        point, blend = _latent(rng, label, intensity)
        path = wav_dir / f"{utt_id}.wav"
        _write_wav(path, _synthesise(rng, n_samples, point, voice, noise_db))
        ratings = _ratings(rng, point, int(rng.integers(2, 4)), 5)
        arousal, valence, dominance = ratings.mean(axis=0)
        utt = {
            "id": utt_id,
            "path": str(path),
            "speaker": f"Ses0{session}{gender}",
            "gender": gender,
            "label": label,
            "valence": round(float(valence), 4),
            "arousal": round(float(arousal), 4),
            "dominance": round(float(dominance), 4),
            "session": session,
            "dialog": dialog,
            "scripted": scripted,
            "start": clock / 1000,
            "end": (clock + millis) / 1000,
            "duration": millis / 1000,
        }
        clock += millis + int(rng.integers(200, 2000))
        votes = _iemocap_votes(rng, label, blend)
        self_rating = _ratings(rng, point, 1, 5)[0]
        blocks.append(_iemocap_block(rng, utt, votes, ratings, self_rating))
        name = "Neutral state" if votes[0] == "neu" else IEMOCAP_NAMES[votes[0]]
        categorical.append(f"{utt_id} :{name}; ()\n")
        act, val, dom = ratings[0]
        attribute.append(
            f"{utt_id} :act {act:.0f}; :val {val:.0f}; :dom {dom:.0f}; ()\n"
        )
        records.append(utt)
    (eval_dir / f"{dialog}.txt").write_text(
        IEMOCAP_HEADER + "\n\n" + "\n".join(blocks) + "\n"
    )
    (eval_dir / "Categorical" / f"{dialog}_e1_cat.txt").write_text(
        "".join(categorical)
    )
    (eval_dir / "Attribute" / f"{dialog}_e2_atr.txt").write_text(
        "".join(attribute)
    )
    return records


def _rating_text(value):
    """A consensus rating as the real CSV prints it: ``4.0``, ``3.777778``."""
    return repr(round(float(value), 6))


def _split_sizes(n_speakers, test_sets):
    """Speakers per split: ~10% dev, ~8% per test set, the rest train."""
    dev = max(1, round(0.1 * n_speakers))
    test = max(1, round(0.08 * n_speakers))
    train = n_speakers - dev - test * len(test_sets)
    if train < 1:
        raise ValueError(
            f"{n_speakers} speakers are too few for Train, Development and "
            f"{len(test_sets)} test sets"
        )
    return [("Train", train), ("Development", dev)] + [
        (name, test) for name in test_sets
    ]


def make_msp_podcast(
    root,
    utts_per_speaker=8,
    n_speakers=16,
    seed=0,
    n_unknown=12,
    test_sets=("Test1", "Test2", "Test3"),
    min_dur=1.0,
    max_dur=4.0,
    labelled_test3=False,
):
    """Write a small MSP-Podcast in the layout of the real release.

    Written: ``Audios/MSP-PODCAST_<podcast>_<segment>.wav`` and
    ``Labels/labels_consensus.csv`` with the real header
    (``FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set``),
    sorted by file name. EmoClass is one of A S H U F D C N O X (mostly N,
    H, A, S); the dimensions are means of five to seven 1-7 ratings. Known
    speakers (integer IDs, one podcast each) belong to exactly one split;
    ``n_unknown`` further utterances in the test sets have SpkrID and
    Gender ``Unknown``. Emotions are expressed less strongly and recorded
    noisier than in the acted corpora. As in the release, Test3's audio is
    in ``Audios`` but its labels are withheld: it has no row in the label
    file (``labelled_test3`` writes them, for tests of a labelled Test3).

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder (holding ``Audios`` and ``Labels``).
    utts_per_speaker : int
        Utterances per known speaker.
    n_speakers : int
        Known speakers, split into Train, Development and the test sets.
    seed : int
        Seed: the same arguments write the same bytes.
    n_unknown : int
        Utterances of unknown speakers, spread over the test sets.
    test_sets : tuple of str
        Test split names to use, from ``Test1``, ``Test2``, ``Test3``.
    min_dur, max_dur : float
        Range of utterance durations in seconds.
    labelled_test3 : bool
        List Test3 in the label file (the release does not).

    Returns
    -------
    dict
        ``root``, ``labels`` (path of the CSV), ``utterances`` (DataFrame
        of the labelled utterances: id without ``.wav``, path, speaker
        (int or ``Unknown``), gender, label, arousal, valence, dominance,
        split, duration), ``unlabelled`` (the same for the utterances the
        label file withholds), ``n_utterances``, ``total_seconds``,
        ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_msp_podcast(tempfile.mkdtemp(), utts_per_speaker=1,
    ...                         n_speakers=5, n_unknown=2,
    ...                         test_sets=("Test1",), min_dur=0.4,
    ...                         max_dur=0.5)
    >>> info["utterances"].groupby("split").size().to_dict()
    {'Development': 1, 'Test1': 3, 'Train': 3}
    """
    unknown_tests = [
        name for name in test_sets if name not in {"Test1", "Test2", "Test3"}
    ]
    if unknown_tests or not test_sets:
        raise ValueError(
            f"test_sets must come from Test1..Test3, got {test_sets}"
        )
    root = Path(root).resolve()
    rng = _rng(seed, 2)
    splits = _split_sizes(n_speakers, test_sets)
    speaker_ids = np.sort(
        rng.choice(np.arange(1, 2000), n_speakers, replace=False)
    )
    podcasts = rng.choice(
        np.arange(1, 3000), n_speakers + n_unknown, replace=False
    )
    # (speaker, gender, split, podcast, n_utts) for every recording source.
    sources = []
    position = 0
    for split, count in splits:
        for i in range(count):
            # Alternating genders keep every split balanced.
            gender = "Female" if i % 2 == 0 else "Male"
            sources.append(
                (
                    int(speaker_ids[position]),
                    gender,
                    split,
                    podcasts[position],
                    utts_per_speaker,
                )
            )
            position += 1
    for i in range(n_unknown):
        split = test_sets[i % len(test_sets)]
        sources.append(("Unknown", "Unknown", split, podcasts[position + i], 1))
    records = []
    for index, (speaker, gender, split, podcast, count) in enumerate(sources):
        voice = _voice(rng, gender[0])
        labels = _labels_for_speaker(MSP_CYCLE, index, count, rng)
        segment = int(rng.integers(1, 50))
        for label in labels:
            utt_id = f"MSP-PODCAST_{podcast:04d}_{segment:04d}"
            segment += int(rng.integers(1, 6))
            n_samples = _n_samples(rng, min_dur, max_dur)
            point, _ = _latent(rng, MSP_CLASSES[label], 0.6)
            noise_db = rng.uniform(-50.0, -38.0)
            path = root / "Audios" / f"{utt_id}.wav"
            _write_wav(
                path, _synthesise(rng, n_samples, point, voice, noise_db)
            )
            ratings = _ratings(rng, point, int(rng.integers(5, 8)), 7)
            arousal, valence, dominance = ratings.mean(axis=0)
            records.append(
                {
                    "id": utt_id,
                    "path": str(path),
                    "speaker": speaker,
                    "gender": gender,
                    "label": label,
                    "arousal": round(float(arousal), 6),
                    "valence": round(float(valence), 6),
                    "dominance": round(float(dominance), 6),
                    "split": split,
                    "duration": n_samples / SAMPLE_RATE,
                }
            )
    frame = pd.DataFrame(records).sort_values("id", ignore_index=True)
    withheld = (frame["split"] == "Test3") & (not labelled_test3)
    unlabelled = frame[withheld].reset_index(drop=True)
    frame = frame[~withheld].reset_index(drop=True)
    labels_path = root / "Labels" / "labels_consensus.csv"
    labels_path.parent.mkdir(parents=True, exist_ok=True)
    with open(labels_path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(MSP_HEADER)
        for row in frame.itertuples():
            writer.writerow(
                [
                    f"{row.id}.wav",
                    row.label,
                    _rating_text(row.arousal),
                    _rating_text(row.valence),
                    _rating_text(row.dominance),
                    row.speaker,
                    row.gender,
                    row.split,
                ]
            )
    return {
        "root": str(root),
        "labels": str(labels_path),
        "unlabelled": unlabelled,
        **_summary(frame),
    }


def make_crema_d(
    root,
    n_actors=12,
    seed=0,
    sentences=("IEO", "DFA"),
    min_dur=1.0,
    max_dur=2.5,
):
    """Write a small CREMA-D in the layout of the real release.

    Written: ``AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav`` for
    actors 1001..1000+n_actors, every chosen sentence and the six emotions
    (as in the real corpus, sentence ``IEO`` comes at levels LO, MD and HI,
    its NEU and every other sentence at XX), and ``VideoDemographics.csv``
    with the real header ``ActorID,Age,Sex,Race,Ethnicity``. The level
    scales how strongly the emotion is expressed.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder (holding ``AudioWAV``).
    n_actors : int
        Number of actors, half female (the odd one out is male).
    seed : int
        Seed: the same arguments write the same bytes.
    sentences : tuple of str
        Sentence codes, from IEO TIE IOM IWW TAI MTI IWL ITH DFA ITS TSI WSI.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``demographics`` (path of the CSV), ``utterances``
        (DataFrame: id (file stem), path, speaker (int actor ID), gender
        ``Female``/``Male``, label, sentence, level, duration),
        ``n_utterances``, ``total_seconds``, ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_crema_d(tempfile.mkdtemp(), n_actors=2,
    ...                     sentences=("IEO",), min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], info["utterances"].id[0]
    (32, '1001_IEO_ANG_HI')
    """
    unknown = sorted(set(sentences) - set(CREMA_SENTENCES))
    if unknown or not sentences:
        raise ValueError(f"Unknown CREMA-D sentence codes: {unknown}")
    root = Path(root).resolve()
    rng = _rng(seed, 3)
    genders = rng.permutation(
        ["Female"] * (n_actors // 2) + ["Male"] * (n_actors - n_actors // 2)
    )
    demographics = []
    records = []
    for index, sex in enumerate(genders):
        actor = 1001 + index
        voice = _voice(rng, sex[0])
        demographics.append(
            [
                actor,
                int(rng.integers(20, 75)),
                sex,
                rng.choice(CREMA_RACES, p=[0.6, 0.2, 0.12, 0.08]),
                "Hispanic" if rng.random() < 0.1 else "Not Hispanic",
            ]
        )
        for sentence in sorted(sentences):
            for emotion in CREMA_EMOTIONS:
                levels = ["XX"]
                if sentence == "IEO" and emotion != "NEU":
                    levels = ["HI", "LO", "MD"]
                for level in levels:
                    utt_id = f"{actor}_{sentence}_{emotion}_{level}"
                    n_samples = _n_samples(rng, min_dur, max_dur)
                    point, _ = _latent(
                        rng, CREMA_EMOTIONS[emotion], CREMA_LEVELS[level]
                    )
                    path = root / "AudioWAV" / f"{utt_id}.wav"
                    _write_wav(path, _synthesise(rng, n_samples, point, voice))
                    records.append(
                        {
                            "id": utt_id,
                            "path": str(path),
                            "speaker": actor,
                            "gender": str(sex),
                            "label": emotion,
                            "sentence": sentence,
                            "level": level,
                            "duration": n_samples / SAMPLE_RATE,
                        }
                    )
    demographics_path = root / "VideoDemographics.csv"
    with open(demographics_path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
        writer.writerows(demographics)
    frame = pd.DataFrame(records)
    return {
        "root": str(root),
        "demographics": str(demographics_path),
        **_summary(frame),
    }


RAVDESS_EMOTIONS = {
    "01": "neu",
    "02": "cal",
    "03": "hap",
    "04": "sad",
    "05": "ang",
    "06": "fea",
    "07": "dis",
    "08": "sur",
}
# The song release records six of the eight emotions.
RAVDESS_SONG_EMOTIONS = ("01", "02", "03", "04", "05", "06")
RAVDESS_INTENSITIES = {"01": 0.8, "02": 1.2}
# The widely shared copy holds the speech release twice: at the top and
# again under this folder.
RAVDESS_DOUBLED = "audio_speech_actors_01-24"


def _ravdess_takes(emotions, statements, repetitions):
    """The (emotion, intensity, statement, repetition) codes one actor
    records: neutral at normal intensity only, as in the release."""
    return [
        (emotion, intensity, statement, repetition)
        for emotion in emotions
        for intensity in (("01",) if emotion == "01" else ("01", "02"))
        for statement in statements
        for repetition in repetitions
    ]


def make_ravdess(
    root,
    n_actors=8,
    seed=0,
    statements=("01", "02"),
    repetitions=("01", "02"),
    song=True,
    doubled=True,
    min_dur=1.0,
    max_dur=2.5,
):
    """Write a small RAVDESS in the layout of the real release.

    Written: ``Actor_XX/03-VV-EE-II-SS-RR-XX.wav`` for actors 01 ..
    ``n_actors`` (odd male, even female, as in the release), every
    emotion at both intensities (neutral at normal only), the chosen
    statements and repetitions: the speech release (60 files per actor
    with the defaults) and, with ``song``, the song release unpacked into
    the same actor folders (six emotions; none for actor 18, as released).
    With ``doubled``, the speech files again under
    ``audio_speech_actors_01-24/Actor_XX/``, as the widely shared copy
    holds them. The intensity scales how strongly the emotion is
    expressed.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder.
    n_actors : int
        Number of actors (at most 24).
    seed : int
        Seed: the same arguments write the same bytes.
    statements, repetitions : tuple of str
        Codes ``01`` and/or ``02`` of each.
    song : bool
        Also write the song release.
    doubled : bool
        Also write the speech files a second time, as the shared copy.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``utterances`` (DataFrame of the distinct utterances: id,
        path, speaker, gender, label (shared code), vocal_channel,
        duration), ``n_utterances``, ``total_seconds``, ``sample_rate``,
        and ``n_doubled`` (files written twice).

    Example
    -------
    >>> import tempfile
    >>> info = make_ravdess(tempfile.mkdtemp(), n_actors=2,
    ...     statements=("01",), repetitions=("01",), min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], info["n_doubled"], info["utterances"].id[0]
    (52, 30, '03-01-01-01-01-01-01')
    """
    if not 1 <= n_actors <= 24:
        raise ValueError(f"RAVDESS has 24 actors, not {n_actors}")
    root = Path(root).resolve()
    rng = _rng(seed, 5)
    records = []
    n_doubled = 0
    for actor_index in range(1, n_actors + 1):
        actor = f"{actor_index:02d}"
        gender = "M" if actor_index % 2 else "F"
        voice = _voice(rng, gender)
        channels = [("01", tuple(RAVDESS_EMOTIONS))]
        if song and actor != "18":
            channels.append(("02", RAVDESS_SONG_EMOTIONS))
        for vocal, emotions in channels:
            for emotion, intensity, statement, repetition in _ravdess_takes(
                emotions, statements, repetitions
            ):
                name = (
                    f"03-{vocal}-{emotion}-{intensity}-{statement}-"
                    f"{repetition}-{actor}"
                )
                point, _ = _latent(
                    rng,
                    RAVDESS_EMOTIONS[emotion],
                    RAVDESS_INTENSITIES[intensity],
                )
                n_samples = _n_samples(rng, min_dur, max_dur)
                audio = _synthesise(rng, n_samples, point, voice)
                path = root / f"Actor_{actor}" / f"{name}.wav"
                _write_wav(path, audio)
                if doubled and vocal == "01":
                    _write_wav(
                        root / RAVDESS_DOUBLED / path.relative_to(root), audio
                    )
                    n_doubled += 1
                records.append(
                    {
                        "id": name,
                        "path": str(path),
                        "speaker": actor,
                        "gender": gender,
                        "label": RAVDESS_EMOTIONS[emotion],
                        "vocal_channel": "speech" if vocal == "01" else "song",
                        "duration": n_samples / SAMPLE_RATE,
                    }
                )
    frame = pd.DataFrame(records)
    return {"root": str(root), **_summary(frame), "n_doubled": n_doubled}


EMODB_SPEAKERS = {
    "03": "M",
    "08": "F",
    "09": "F",
    "10": "M",
    "11": "M",
    "12": "M",
    "13": "F",
    "14": "F",
    "15": "M",
    "16": "F",
}
EMODB_EMOTIONS = {
    "W": "ang",
    "L": "bor",
    "E": "dis",
    "A": "fea",
    "F": "hap",
    "T": "sad",
    "N": "neu",
}


def make_emodb(
    root,
    texts=("a01", "a05", "b09"),
    second_take=0.3,
    seed=0,
    min_dur=1.0,
    max_dur=3.0,
):
    """Write a small EmoDB in the layout of the real release.

    Written: ``wav/<speaker><text><emotion><version>.wav`` for the ten
    speakers of the release (their genders as documented), the chosen
    texts and the seven emotions (letters W L E A F T N), each take
    ``a`` and, with probability ``second_take``, a take ``b``, as the
    release holds several takes of some sentences. ``lablaut/`` (label
    files the real release also has) is written empty beside it.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder.
    texts : tuple of str
        Text codes, from a01 a02 a04 a05 a07 b01 b02 b03 b09 b10.
    second_take : float
        Probability of a second take of each sentence and emotion.
    seed : int
        Seed: the same arguments write the same bytes.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``utterances`` (DataFrame: id, path, speaker, gender,
        label (shared code), duration), ``n_utterances``,
        ``total_seconds``, ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_emodb(tempfile.mkdtemp(), texts=("a01",),
    ...                   second_take=0.0, min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], info["utterances"].id[0]
    (70, '03a01Wa')
    """
    root = Path(root).resolve()
    rng = _rng(seed, 6)
    (root / "lablaut").mkdir(parents=True, exist_ok=True)
    records = []
    for speaker, gender in EMODB_SPEAKERS.items():
        voice = _voice(rng, gender)
        for text in texts:
            for letter, label in EMODB_EMOTIONS.items():
                takes = ["a"] + (["b"] if rng.random() < second_take else [])
                for take in takes:
                    name = f"{speaker}{text}{letter}{take}"
                    point, _ = _latent(rng, label, 1.0)
                    n_samples = _n_samples(rng, min_dur, max_dur)
                    path = root / "wav" / f"{name}.wav"
                    _write_wav(path, _synthesise(rng, n_samples, point, voice))
                    records.append(
                        {
                            "id": name,
                            "path": str(path),
                            "speaker": speaker,
                            "gender": gender,
                            "label": label,
                            "duration": n_samples / SAMPLE_RATE,
                        }
                    )
    return {"root": str(root), **_summary(pd.DataFrame(records))}


MSP_IMPROV_EMOTIONS = {"A": "ang", "H": "hap", "S": "sad", "N": "neu"}
# Consensus codes in the order clips cycle through them; X: no agreement.
MSP_IMPROV_CYCLE = "A H S N A H S N X A H S N".split()
MSP_IMPROV_TYPES = "RSTP"
MSP_IMPROV_RATERS = {
    "ang": "Angry",
    "hap": "Happy",
    "sad": "Sad",
    "neu": "Neutral",
}


def _msp_improv_block(rng, clip, code, point, n_raters):
    """The label file's lines of one clip: summary, evaluators, blank."""
    ratings = _ratings(rng, point, n_raters, 5)
    naturalness = rng.integers(1, 6, size=n_raters)
    arousal, valence, dominance = ratings.mean(axis=0)
    lines = [
        f"UTD-{clip}.avi; {code}; A:{arousal:.6f}; V:{valence:.6f}; "
        f"D:{dominance:.6f}; N:{naturalness.mean():.6f}"
    ]
    categories = list(MSP_IMPROV_RATERS.values())
    for rater, row in enumerate(ratings, start=1):
        category = MSP_IMPROV_RATERS.get(
            MSP_IMPROV_EMOTIONS.get(code), rng.choice(categories)
        )
        lines.append(
            f"{clip}-p{rater:03d}; {category}; A:{row[0]:.0f}; "
            f"V:{row[1]:.0f}; D:{row[2]:.0f}; N:{naturalness[rater - 1]}"
        )
    return lines + [""], (arousal, valence, dominance)


def make_msp_improv(
    root, clips_per_speaker=8, seed=0, min_dur=1.0, max_dur=3.0
):
    """Write a small MSP-IMPROV in the layout of the real release.

    Written: ``Evalution.txt`` (the release's spelling) with, per clip, a
    summary line ``UTD-IMPROV-S01A-F01-S-FM01.avi; A; A:..; V:..; D:..;
    N:..`` (consensus code A H S N or X, mean 1-5 ratings of five to
    seven evaluators), the evaluators' lines and a blank line; and the
    audio in ``Audio/session<k>/<sentence>/<type>/MSP-IMPROV-....wav``.
    Six sessions of one female and one male actor (F01 M01 ... F06 M06);
    each actor's clips cycle through the recording types R S T P and
    through sentences whose target emotion is the clip's code. The
    evaluators' lines are in a form of our own: data prep does not read
    them.

    Arguments
    ---------
    root : str or pathlib.Path
        The corpus folder.
    clips_per_speaker : int
        Clips of each of the 12 actors.
    seed : int
        Seed: the same arguments write the same bytes.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``labels`` (path of ``Evalution.txt``), ``utterances``
        (DataFrame: id, path, speaker, gender, session, recording_type,
        code, label (shared code, None for X), arousal, valence,
        dominance, duration), ``n_utterances``, ``total_seconds``,
        ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_msp_improv(tempfile.mkdtemp(), clips_per_speaker=2,
    ...                        min_dur=0.4, max_dur=0.5)
    >>> info["n_utterances"], info["utterances"].id[0]
    (24, 'MSP-IMPROV-S01A-F01-R-FM01')
    """
    root = Path(root).resolve()
    rng = _rng(seed, 7)
    lines, records = [], []
    for index, (session, gender) in enumerate(
        (session, gender) for session in range(1, 7) for gender in "FM"
    ):
        voice = _voice(rng, gender)
        speaker = f"{gender}{session:02d}"
        codes = _labels_for_speaker(
            MSP_IMPROV_CYCLE, index, clips_per_speaker, rng
        )
        for turn, code in enumerate(codes, start=1):
            target = code if code != "X" else rng.choice(list("AHSN"))
            sentence = f"S{turn:02d}{target}"
            kind = MSP_IMPROV_TYPES[(turn - 1) % len(MSP_IMPROV_TYPES)]
            clip = f"IMPROV-{sentence}-{speaker}-{kind}-FM{turn:02d}"
            label = MSP_IMPROV_EMOTIONS.get(code)
            point, _ = _latent(rng, label or "xxx", 0.9)
            block, means = _msp_improv_block(
                rng, clip, code, point, int(rng.integers(5, 8))
            )
            lines += block
            n_samples = _n_samples(rng, min_dur, max_dur)
            path = (
                root
                / "Audio"
                / f"session{session}"
                / sentence
                / kind
                / f"MSP-{clip}.wav"
            )
            _write_wav(path, _synthesise(rng, n_samples, point, voice))
            records.append(
                {
                    "id": f"MSP-{clip}",
                    "path": str(path),
                    "speaker": speaker,
                    "gender": gender,
                    "session": session,
                    "recording_type": kind,
                    "code": code,
                    "label": label,
                    **dict(zip(("arousal", "valence", "dominance"), means)),
                    "duration": n_samples / SAMPLE_RATE,
                }
            )
    labels_path = root / "Evalution.txt"
    labels_path.write_text("\n".join(lines) + "\n")
    frame = pd.DataFrame(records)
    return {"root": str(root), "labels": str(labels_path), **_summary(frame)}


def make_emobox_folds(root, dataset, utterances, test_speakers):
    """Write fold files in the form of EmoBox's ``data/<dataset>``.

    Written: ``fold_<k>/<dataset>_{train,test}_fold_<k>.jsonl``, one JSON
    object per utterance (``key``, ``dataset``, ``wav``, ``emo``...) as
    EmoBox publishes them; fold k tests on ``test_speakers[k - 1]`` and
    trains on every other utterance.

    Arguments
    ---------
    root : str or pathlib.Path
        The folder to write (EmoBox's ``data/<dataset>``).
    dataset : str
        EmoBox's name of the corpus, e.g. ``ravdess``.
    utterances : pandas.DataFrame
        A generator's ``utterances`` (id, speaker, label).
    test_speakers : list of list
        The test speakers of each fold.

    Returns
    -------
    pathlib.Path
        ``root``.

    Example
    -------
    >>> import tempfile
    >>> frame = pd.DataFrame({"id": ["a", "b"], "speaker": ["1", "2"],
    ...                       "label": ["neu", "sad"]})
    >>> root = make_emobox_folds(tempfile.mkdtemp(), "toy", frame, [["1"]])
    >>> (root / "fold_1" / "toy_test_fold_1.jsonl").read_text()[:22]
    '{"key": "toy-a", "data'
    """
    root = Path(root)
    for fold, speakers in enumerate(test_speakers, start=1):
        test = utterances["speaker"].isin(speakers)
        for split, rows in (("train", ~test), ("test", test)):
            lines = [
                json.dumps(
                    {
                        "key": f"{dataset}-{row.id}",
                        "dataset": dataset,
                        "wav": f"downloads/{dataset}/audio/{row.id}.wav",
                        "emo": row.label,
                        "channel": 1,
                    }
                )
                for row in utterances[rows].itertuples()
            ]
            path = (
                root / f"fold_{fold}" / f"{dataset}_{split}_fold_{fold}.jsonl"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(line + "\n" for line in lines))
    return root


def make_labelled_folder(
    root,
    n_speakers=10,
    labels=("neu", "hap", "ang", "sad"),
    per_label=3,
    seed=0,
    min_dur=1.0,
    max_dur=2.5,
):
    """Write a folder of labelled WAVs, as a user's own recordings often
    come: ``<speaker>_<label>_<n>.wav`` (e.g. ``spk03_ang_002.wav``), the
    layout of the README's own-data example.

    Arguments
    ---------
    root : str or pathlib.Path
        The folder.
    n_speakers : int
        Speakers ``spk01`` ... (alternately female and male voices).
    labels : tuple of str
        Shared emotion codes to record.
    per_label : int
        Utterances per speaker and label.
    seed : int
        Seed: the same arguments write the same bytes.
    min_dur, max_dur : float
        Range of utterance durations in seconds.

    Returns
    -------
    dict
        ``root``, ``utterances`` (DataFrame: id, path, speaker, gender,
        label, duration), ``n_utterances``, ``total_seconds``,
        ``sample_rate``.

    Example
    -------
    >>> import tempfile
    >>> info = make_labelled_folder(tempfile.mkdtemp(), n_speakers=2,
    ...     labels=("neu", "ang"), per_label=1, min_dur=0.4, max_dur=0.5)
    >>> sorted(Path(p).name for p in info["utterances"].path)[:2]
    ['spk01_ang_001.wav', 'spk01_neu_001.wav']
    """
    root = Path(root).resolve()
    rng = _rng(seed, 4)
    records = []
    for index in range(n_speakers):
        speaker, gender = f"spk{index + 1:02d}", "FM"[index % 2]
        voice = _voice(rng, gender)
        for label in labels:
            for take in range(1, per_label + 1):
                n_samples = _n_samples(rng, min_dur, max_dur)
                point, _ = _latent(rng, label, 1.0)
                path = root / f"{speaker}_{label}_{take:03d}.wav"
                _write_wav(path, _synthesise(rng, n_samples, point, voice))
                records.append(
                    {
                        "id": path.stem,
                        "path": str(path),
                        "speaker": speaker,
                        "gender": gender,
                        "label": label,
                        "duration": n_samples / SAMPLE_RATE,
                    }
                )
    return {"root": str(root), **_summary(pd.DataFrame(records))}


def make_all(root, seed=0, scale=1.0):
    """Write all three corpora under ``root``.

    Folders: ``root/IEMOCAP_full_release``, ``root/MSP-Podcast`` and
    ``root/CREMA-D``. ``scale`` multiplies the default sizes (utterances per
    speaker for IEMOCAP and MSP-Podcast, unknown-speaker utterances, and
    CREMA-D actors), keeping the minimum each corpus needs for its splits.

    Arguments
    ---------
    root : str or pathlib.Path
        Parent folder.
    seed : int
        Seed for all three corpora.
    scale : float
        Size multiplier, e.g. 0.25 for unit tests, 4 for a longer demo.

    Returns
    -------
    dict
        ``root`` and the three generators' results under ``iemocap``,
        ``msp_podcast`` and ``crema_d``.

    Example
    -------
    >>> import tempfile
    >>> info = make_all(tempfile.mkdtemp(), scale=0.1)
    >>> [info[k]["n_utterances"] for k in ("iemocap", "msp_podcast", "crema_d")]
    [20, 17, 132]
    """
    root = Path(root).resolve()
    return {
        "root": str(root),
        "iemocap": make_iemocap(
            root / "IEMOCAP_full_release",
            utts_per_speaker=max(2, round(12 * scale)),
            seed=seed,
        ),
        "msp_podcast": make_msp_podcast(
            root / "MSP-Podcast",
            utts_per_speaker=max(1, round(8 * scale)),
            n_unknown=max(3, round(12 * scale)),
            seed=seed,
        ),
        "crema_d": make_crema_d(
            root / "CREMA-D", n_actors=max(6, 2 * round(6 * scale)), seed=seed
        ),
    }


def main(argv=None):
    """Command line: ``python -m speechbrain_peft.synthetic.corpora OUT``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", help="folder to write the three corpora in")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="size multiplier (default 1)"
    )
    args = parser.parse_args(argv)
    info = make_all(args.out_dir, seed=args.seed, scale=args.scale)
    for key in ("iemocap", "msp_podcast", "crema_d"):
        corpus = info[key]
        print(
            f"{corpus['root']}: {corpus['n_utterances']} utterances, "
            f"{corpus['total_seconds']:.0f} s"
        )


if __name__ == "__main__":
    main()
