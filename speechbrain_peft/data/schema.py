"""The manifest schema, defined once for the data prep and the package.

A manifest is a CSV file with one row per utterance and the columns
:data:`COLUMNS`, in that order, then corpus-specific extras (IEMOCAP
``session, scripted``; CREMA-D ``sentence, level``; always ``emo_raw``,
the corpus' own label). ``wav`` is an absolute path or ``$data_root/<path
inside the corpus folder>`` (:data:`DATA_ROOT`, SpeechBrain's replacement
convention). ``emo`` uses the shared codes :data:`LABELS`. Dimensions are
floats on the corpus' own scale (its ``prep_info.json`` records it), empty
when the corpus has none, never 0.

Authors
 * speechbrain-peft-ser developers 2026
"""

COLUMNS = (
    "ID",
    "duration",
    "wav",
    "spk_id",
    "gender",
    "emo",
    "arousal",
    "valence",
    "dominance",
    "split",
)
DIMENSIONS = ("arousal", "valence", "dominance")
# The split that trains: ``max_duration`` crops it, the others are scored
# on whole utterances; its speakers are those a run trained on.
TRAINING_SPLIT = "train"
# The splits of a corpus without official ones, one manifest each.
SPLITS = (TRAINING_SPLIT, "dev", "test")
# What a manifest needs to train on (a hand-written one may lack the rest;
# a dimensional task needs DIMENSIONS too).
TRAINING_COLUMNS = ("ID", "duration", "wav", "spk_id", "emo")
# The project's shared emotion codes: the four basic classes first.
LABELS = ("neu", "hap", "ang", "sad", "fru", "exc", "sur", "fea", "dis")
LABELS += ("con", "oth", "cal", "bor")
GENDERS = ("F", "M")
DATA_ROOT = "$data_root"
