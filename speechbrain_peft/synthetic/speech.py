"""The speech-like audio of the synthetic corpora, shared by every
corpus module's ``make_synthetic``: a harmonic source shaped by vowel
formants, with an f0 contour, vibrato, a syllable-rate amplitude
envelope, breath noise and a noise floor.

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

import numpy as np
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


def speaker_voice(rng, gender):
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


def latent_point(rng, emotion, intensity):
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


def rater_scores(rng, point, n_raters, scale_max):
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


def synthesise(rng, n_samples, point, voice, noise_db=-55.0):
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
        Speaker parameters from ``speaker_voice``.
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


def draw_n_samples(rng, min_dur, max_dur):
    """A duration in whole milliseconds, so time stamps are exact."""
    # Shorter clips leave no room for a syllable between the silences.
    if not 0.3 <= min_dur <= max_dur:
        raise ValueError(
            f"Need 0.3 <= min_dur <= max_dur, got {min_dur}, {max_dur}"
        )
    millis = rng.integers(round(min_dur * 1000), round(max_dur * 1000) + 1)
    return int(millis) * SAMPLE_RATE // 1000


def write_wav(path, audio):
    """Write 16 kHz mono PCM_16, quantised here so the bytes are exact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.rint(audio * 32768).clip(-32768, 32767).astype(np.int16)
    sf.write(path, samples, SAMPLE_RATE, subtype="PCM_16")


def corpus_rng(seed, corpus):
    """Independent streams per corpus (a number of its own for each), so
    corpora written with the same seed differ."""
    return np.random.default_rng([seed, corpus])


def labels_for_speaker(cycle, index, count, rng):
    """``count`` labels from ``cycle`` starting at this speaker's block."""
    start = index * count
    labels = [cycle[(start + i) % len(cycle)] for i in range(count)]
    return [str(label) for label in rng.permutation(labels)]


def utterance_summary(frame):
    """The corpus-level part of a generator's return value."""
    return {
        "utterances": frame,
        "n_utterances": len(frame),
        "total_seconds": float(frame["duration"].sum()),
        "sample_rate": SAMPLE_RATE,
    }
