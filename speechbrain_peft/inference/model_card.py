"""The model card (``README.md``) every export writes, following the
Hugging Face Hub's conventions: a YAML metadata block (library, tags,
datasets, metrics, license), then what the model is, how it was trained
and evaluated, and how to load it in each format.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
from pathlib import Path

from speechbrain_peft.adapters import METHODS

# The corpora's Hub dataset names and licences, as far as they are public.
DATASETS = {
    "IEMOCAP": ("iemocap", "the IEMOCAP licence of USC SAIL (by request)"),
    "MSP-Podcast": (
        "msp-podcast",
        "the MSP-Podcast academic licence of UT Dallas (by request)",
    ),
    "CREMA-D": ("crema-d", "CREMA-D's Open Database License"),
}
METRICS = {
    "categorical": ("UA", "WA", "macro_F1"),
    "dimensional": ("CCC_arousal", "CCC_valence", "CCC_dominance", "CCC_mean"),
}


def _trained_adaptors(config):
    """``{name: settings}`` of every adaptor the exported run trained,
    including those a merged export folded into the encoder weights."""
    export = config.get("export") or {}
    return (
        export.get("trained_adaptors")
        or config["encoder"].get("adapters")
        or {}
    )


def _adaptor_line(config):
    """The card's line naming each trained adaptor, its settings and, when
    the export no longer holds it as an adaptor, what became of it."""
    names = [
        f"`{name}` {json.dumps(settings)}{_folded_note(config, name)}"
        for name, settings in _trained_adaptors(config).items()
    ]
    return "- Adaptors: " + (", ".join(names) or "none (head only)")


def _folded_note(config, name):
    """How an export holds adaptor ``name``: as an adaptor (no note),
    merged into the encoder weights, or (a stock export's layer
    combination) as the stock model's weighted layer sum."""
    stock = (config.get("export") or {}).get("format") == "transformers_stock"
    if not stock and name in (config["encoder"].get("adapters") or {}):
        return ""
    if stock and not METHODS[name].mergeable:
        return " (the stock model's weighted layer sum)"
    return " (merged into the encoder weights)"


def _metadata(config, export_format):
    """The card's YAML metadata block, as lines."""
    corpus = (config.get("run_info") or {}).get("corpus")
    dataset, licence = DATASETS.get(corpus, (corpus or "unknown", "unknown"))
    adapters = list(_trained_adaptors(config))
    metrics = [m.lower() for m in METRICS[config["task"]]]
    lines = [
        "---",
        "library_name: "
        + (
            "transformers"
            if export_format.startswith("transformers")
            else "speechbrain"
        ),
        "pipeline_tag: audio-classification",
        "license: other",
        f"license_name: see the note on {dataset}",
        "tags:",
        "- speechbrain",
        "- speech-emotion-recognition",
        "- audio-classification",
        "- peft",
        *(f"- {name}" for name in adapters),
        "datasets:",
        f"- {dataset}",
        "metrics:",
        *(f"- {metric}" for metric in metrics),
        "---",
    ]
    return lines, licence


def _metrics_table(task, results):
    """The run's dev and test metrics as a Markdown table."""
    names = METRICS[task]
    splits = (results or {}).get("splits") or {}
    lines = [
        "| split | utterances | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for split, stats in splits.items():
        cells = [
            f"{stats[name]:.4f}" if isinstance(stats.get(name), float) else "-"
            for name in names
        ]
        lines.append(
            f"| {split} | {stats.get('n', '-')} | " + " | ".join(cells) + " |"
        )
    return lines


def _recognizer_use(folder_name):
    """The card's lines on loading the folder with this package."""
    return [
        "",
        "Needs `pip install speechbrain-peft-ser` (it brings SpeechBrain, "
        "transformers and peft).",
        "",
        "```python",
        "from speechbrain_peft.inference.recognizer import EmotionRecognizer",
        "",
        f'recognizer = EmotionRecognizer.from_run("{folder_name}")',
        'print(recognizer.classify_file("speech.wav"))',
        "```",
        "",
        "Command line (folders, globs and manifests too; long recordings in "
        "windows): `python -m speechbrain_peft.infer "
        f"{folder_name} speech.wav`.",
    ]


def _onnx_use(config, folder_name):
    """The card's lines on running ``model.onnx``."""
    if config["task"] == "categorical":
        columns = f"the probabilities of {config.get('label_set')}"
    else:
        columns = (
            "arousal, valence and dominance on the corpus scale "
            f"{config.get('dimension_scale')}"
        )
    return [
        "",
        "Needs only `pip install onnxruntime soundfile`: "
        f"`python {folder_name}/classify.py speech.wav [more.wav ...]`, or",
        "",
        "```python",
        "import numpy as np",
        "import onnxruntime",
        "import soundfile as sf",
        "",
        f'session = onnxruntime.InferenceSession("{folder_name}/model.onnx")',
        f'audio, rate = sf.read("speech.wav", dtype="float32")  # mono, '
        f"{config.get('sample_rate')} Hz",
        "scores, embedding = session.run(",
        '    None, {"waveform": audio[None], "wav_lens": np.ones(1, '
        "np.float32)}",
        ")",
        "```",
        "",
        f"`scores` holds {columns}; `embedding` is the head's input (the "
        "mean of the encoder features over the file). Batches: zero-pad the "
        "files to the longest and give each row's length over the longest "
        "in `wav_lens`. Files shorter than the graph's `min_samples` "
        "metadata are zero-padded to it first, as `classify.py` does. "
        "The graph's metadata (`session.get_modelmeta()."
        "custom_metadata_map`) names the task, labels and sample rate.",
    ]


def _transformers_use(config, folder_name, stock):
    """The card's lines on loading the folder with transformers: with our
    modeling code, or with the ``stock`` class of the encoder family."""
    remote = "" if stock else ", trust_remote_code=True"
    if config["task"] == "categorical":
        call, says = "top_k=None", "the probability of every label"
    else:
        call = 'function_to_apply="none", top_k=None'
        says = (
            "arousal, valence and dominance on the corpus scale, raw (the "
            "pipeline sorts them by value)"
        )
    if stock:
        which = (
            "The folder is transformers' own `*ForSequenceClassification` "
            "model of the encoder family (adaptors merged, the head's linear "
            "map as its projector), so it needs only `pip install "
            "transformers soundfile`:"
        )
        caveat = (
            " Its front-end does not keep padding out: with a group-norm "
            "encoder (the base wav2vec 2.0 and HuBERT checkpoints), give it "
            "one file at a time, as the pipeline does, for this model's "
            "exact outputs."
        )
    else:
        which = (
            "With the transformers pipeline (the folder's "
            "`modeling_peft_ser.py` is this package's model, hence "
            "`trust_remote_code`):"
        )
        caveat = (
            " A stock `*ForSequenceClassification` class holds a run only "
            "when its adaptors merge or weight the layers and its head is "
            "linear (`--format transformers_stock`)."
        )
    return [
        "",
        which,
        "",
        "```python",
        "import soundfile as sf",
        "from transformers import pipeline",
        "",
        "classifier = pipeline(",
        f'    "audio-classification", model="{folder_name}"{remote}',
        ")",
        'audio, rate = sf.read("speech.wav", dtype="float32")  # mono',
        f'print(classifier({{"raw": audio, "sampling_rate": rate}}, {call}))',
        "```",
        "",
        f"gives {says}. A file name works too where ffmpeg is installed; "
        "`AutoModelForAudioClassification.from_pretrained("
        f'"{folder_name}"{remote})` gives the model itself.' + caveat,
    ]


def _use(config, export_format, folder_name):
    """The card's lines on loading the folder: with onnxruntime or a
    stock transformers class alone, or with this package (and then with
    transformers' pipeline too, for a transformers export)."""
    if export_format == "onnx":
        return _onnx_use(config, folder_name)
    if export_format == "transformers_stock":
        return _transformers_use(config, folder_name, stock=True)
    lines = _recognizer_use(folder_name)
    if export_format == "transformers":
        lines += _transformers_use(config, folder_name, stock=False)
    return lines


def model_card(config, results, export_format, folder_name):
    """The Markdown text of an export's model card.

    Arguments
    ---------
    config : dict
        The export's ``run.json`` (with its ``export`` record).
    results : dict or None
        The exported run's ``results.json``, when it has one.
    export_format : str
        ``adapters``, ``merged``, ``speechbrain``, ``transformers``,
        ``transformers_stock`` or ``onnx``.
    folder_name : str
        How the card refers to the export folder in its examples.

    Returns
    -------
    str

    Example
    -------
    >>> config = {"task": "categorical", "label_set": ["neu", "ang"],
    ...     "encoder": {"source": "microsoft/wavlm-large",
    ...                 "adapters": {"lora": {"rank": 8}}},
    ...     "export": {"base_encoder": {"id": "microsoft/wavlm-large",
    ...                "revision": {"commit": "abc"}}},
    ...     "run_info": {"corpus": "IEMOCAP", "fold": 1, "config": "lora"}}
    >>> card = model_card(config, None, "adapters", "my_export")
    >>> card.splitlines()[1]
    'library_name: speechbrain'
    >>> "- iemocap" in card and "classify_file" in card
    True
    """
    info = config.get("run_info") or {}
    export = config.get("export") or {}
    base = export.get("base_encoder") or {}
    params = (results or {}).get("params") or {}
    metadata, licence = _metadata(config, export_format)
    experiment = (info.get("experiment") or {}).get("settings") or {}
    lines = [
        *metadata,
        "",
        f"# Speech emotion recognition: {info.get('config', 'a run')} on "
        f"{info.get('corpus', 'an unknown corpus')}",
        "",
        "A frozen self-supervised speech encoder with parameter-efficient "
        "adaptors and an emotion head, trained with speechbrain-peft-ser "
        "(SpeechBrain recipes for *Parameter Efficient Finetuning for Speech "
        "Emotion Recognition and Domain Adaptation*, ICASSP 2024).",
        "",
        "## Model",
        "",
        f"- Encoder: `{base.get('id', config['encoder']['source'])}`, "
        f"revision `{json.dumps(base.get('revision'))}`",
        _adaptor_line(config),
        f"- Trainable parameters: {params.get('trainable', 'n/a'):,}"
        if isinstance(params.get("trainable"), int)
        else "- Trainable parameters: n/a",
        f"- Task: {config['task']}; "
        + (
            f"labels {config.get('label_set')}"
            if config["task"] == "categorical"
            else "arousal, valence, dominance on the corpus scale "
            f"{config.get('dimension_scale')}"
        ),
        f"- Audio: mono, {config.get('sample_rate')} Hz; each loader below "
        "classifies a file whole, except `speechbrain_peft.infer`, which "
        f"takes recordings longer than {config.get('max_duration')} s in "
        "windows",
        "",
        "## Training and evaluation",
        "",
        f"- Corpus: {info.get('corpus')}; fold {info.get('fold', '-')}, "
        f"seed {info.get('seed', '-')}; class set "
        f"{experiment.get('class_set', '-')}, subset "
        f"{experiment.get('subset', '-')}",
        f"- Parent run (stage two): "
        f"{(info.get('parent_run') or {}).get('path', 'none')}",
        f"- Experiment: `{(info.get('experiment') or {}).get('id', 'n/a')}`",
        "",
        *_metrics_table(config["task"], results),
        "",
        "## Use",
        *_use(config, export_format, folder_name),
    ]
    if export_format == "speechbrain":
        lines += [
            "",
            "With SpeechBrain's own loader:",
            "",
            "```python",
            "from speechbrain.inference.interfaces import foreign_class",
            "",
            "classifier = foreign_class(",
            f'    source="{folder_name}",',
            '    pymodule_file="custom_interface.py",',
            '    classname="PEFTEmotionClassifier",',
            ")",
            "out_prob, score, index, text_lab = classifier.classify_file(",
            '    "speech.wav"',
            ")",
            "```",
        ]
    if export_format == "merged":
        lines += [
            "",
            "The encoder, with the adaptors that can merge folded in, loads "
            "on its own with `transformers.AutoModel.from_pretrained("
            f'"{folder_name}/encoder")`.',
        ]
    lines += [
        "",
        "## Licence",
        "",
        f"The weights were trained on {info.get('corpus')}; their use is "
        f"bound by {licence}.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(out_dir, config, run_dir, export_format):
    """Write ``README.md`` into an export folder."""
    results_file = Path(run_dir) / "results.json"
    results = (
        json.loads(results_file.read_text()) if results_file.is_file() else None
    )
    text = model_card(config, results, export_format, Path(out_dir).name)
    (Path(out_dir) / "README.md").write_text(text)
