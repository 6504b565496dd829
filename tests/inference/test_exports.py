"""Exports for the users outside SpeechBrain: the transformers folder
(pipeline and AutoModelForAudioClassification) and the ONNX graph
(onnxruntime, and its example script alone) give the probabilities and
dimensions EmotionRecognizer gives, for every method.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
import soundfile as sf
import torch
import yaml
from random_runs import LABELS, make_run
from transformers import (
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    pipeline,
)

from speechbrain_peft.data.datasets import DIMENSIONS
from speechbrain_peft.export import export_run
from speechbrain_peft.inference.recognizer import EmotionRecognizer
from speechbrain_peft.synthetic.encoders import save_tiny_encoder
from speechbrain_peft.utils.errors import ConfigError

EVERY_METHOD = {
    "lora": {},
    "peft": {
        "peft_type": "IA3",
        "target_modules": ["feed_forward.output_dense"],
        "feedforward_modules": ["feed_forward.output_dense"],
    },
    "bottleneck": {},
    "parallel": {},
    "gating": {},
    "weighted_sum": {},
}
RUNS = {
    "categorical_lora_ws": ("wavlm", ["lora", "weighted_sum"], "categorical"),
    "dimensional_lora": ("hubert", ["lora"], "dimensional"),
    "every_method": ("wav2vec2", EVERY_METHOD, "categorical"),
}


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    """Three mono 16 kHz files of different lengths (0.4 to 1.3 s)."""
    folder = tmp_path_factory.mktemp("audio")
    generator = np.random.default_rng(0)
    paths = []
    for index, seconds in enumerate((0.4, 1.3, 0.9)):
        path = folder / f"utt{index}.wav"
        signal = 0.1 * generator.standard_normal(int(seconds * 16000))
        sf.write(path, signal.astype("float32"), 16000, subtype="FLOAT")
        paths.append(path)
    return paths


ONNX_RUNS = {
    **RUNS,
    # wav2vec 2.0 base's group-norm front-end: masked inside the graph.
    "group_norm_front_end": ("group_norm", ["lora", "gating"], "categorical"),
}


@pytest.fixture(scope="module")
def encoders(tiny_encoders, tmp_path_factory):
    """The tiny encoders, and a base-like wav2vec 2.0 (group norm)."""
    folder = tmp_path_factory.mktemp("group_norm")
    group_norm = save_tiny_encoder(
        "wav2vec2", folder, feat_extract_norm="group"
    )
    return {**tiny_encoders, "group_norm": group_norm}


@pytest.fixture(params=sorted(RUNS))
def exported_run(request, tiny_encoders, tmp_path):
    """``(run_dir, export_dir, task)`` of a run with random trained
    tensors, exported with ``--format transformers``."""
    kind, adapters, task = RUNS[request.param]
    run_dir = make_run(tmp_path / "run", tiny_encoders[kind], adapters, task)
    export_run(run_dir, tmp_path / "hf_export", format="transformers")
    return run_dir, tmp_path / "hf_export", task


def expected_scores(recognizer, path):
    """EmotionRecognizer's result for a file, as ``{label: score}``."""
    result = recognizer.classify_file(path)
    if recognizer.task == "categorical":
        return result["probabilities"]
    return result


def test_transformers_export_pipeline_gives_the_recognizers_outputs(
    exported_run, audio_files
):
    run_dir, export_dir, task = exported_run
    recognizer = EmotionRecognizer.from_run(run_dir)
    classifier = pipeline(
        "audio-classification", model=str(export_dir), trust_remote_code=True
    )
    labels = LABELS if task == "categorical" else list(DIMENSIONS)
    assert classifier.model.config.id2label == dict(enumerate(labels))
    for path in audio_files:
        audio, rate = sf.read(path, dtype="float32")
        kwargs = {"top_k": None}
        if task == "dimensional":
            kwargs["function_to_apply"] = "none"
        found = classifier({"raw": audio, "sampling_rate": rate}, **kwargs)
        scores = {item["label"]: item["score"] for item in found}
        expected = expected_scores(recognizer, path)
        assert scores.keys() == expected.keys()
        for label, value in expected.items():
            assert scores[label] == pytest.approx(value, abs=1e-4), label
        if task == "categorical":
            assert sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
    if task == "dimensional":
        card = (export_dir / "README.md").read_text()
        assert 'function_to_apply="none", top_k=None' in card


def test_transformers_export_auto_model_on_a_padded_batch(
    exported_run, audio_files
):
    run_dir, export_dir, task = exported_run
    recognizer = EmotionRecognizer.from_run(run_dir)
    model = AutoModelForAudioClassification.from_pretrained(
        export_dir, trust_remote_code=True
    )
    extractor = AutoFeatureExtractor.from_pretrained(export_dir)
    audio = [sf.read(path, dtype="float32")[0] for path in audio_files]
    inputs = extractor(
        audio, sampling_rate=16000, padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        outputs = model(**inputs).logits
    if task == "categorical":
        outputs = outputs.softmax(dim=-1)
    labels = list(model.config.id2label.values())
    for row, path in zip(outputs, audio_files):
        expected = expected_scores(recognizer, path)
        np.testing.assert_allclose(
            row.numpy(), [expected[label] for label in labels], atol=1e-4
        )


def test_transformers_export_refuses_a_dtype_it_does_not_run_in(
    exported_run,
):
    _, export_dir, _ = exported_run
    with pytest.raises(ValueError, match="runs in float32"):
        AutoModelForAudioClassification.from_pretrained(
            export_dir, trust_remote_code=True, dtype=torch.float16
        )
    model = AutoModelForAudioClassification.from_pretrained(
        export_dir, trust_remote_code=True, device_map="cpu"
    )
    assert {p.device.type for p in model.parameters()} == {"cpu"}


def test_transformers_export_holds_what_the_hub_needs(tiny_encoders, tmp_path):
    run_dir = make_run(tmp_path / "run", tiny_encoders["wavlm"], ["lora"])
    out = tmp_path / "hf_export"
    export_run(run_dir, out, format="transformers")
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"]["AutoModelForAudioClassification"] == (
        "modeling_peft_ser.PEFTSERForAudioClassification"
    )
    assert config["problem_type"] == "single_label_classification"
    extractor = json.loads((out / "preprocessor_config.json").read_text())
    # The encoder normalises the valid samples itself.
    assert extractor["do_normalize"] is False
    assert extractor["sampling_rate"] == 16000
    # LoRA merged into plain encoder weights: no LoRA tensor is left.
    assert (
        json.loads((out / "run.json").read_text())["encoder"]["adapters"] == {}
    )
    front, body = (out / "README.md").read_text().split("---\n", 2)[1:]
    metadata = yaml.safe_load(front)
    assert metadata["library_name"] == "transformers"
    assert metadata["pipeline_tag"] == "audio-classification"
    assert 'pipeline(\n    "audio-classification", model="hf_export"' in body
    assert "trust_remote_code=True" in body and "top_k=None" in body


@pytest.fixture(params=sorted(ONNX_RUNS))
def onnx_export(request, encoders, tmp_path):
    """``(run_dir, export_dir)`` of a run exported with ``--format onnx``."""
    kind, adapters, task = ONNX_RUNS[request.param]
    run_dir = make_run(tmp_path / "run", encoders[kind], adapters, task)
    export_run(run_dir, tmp_path / "onnx_export", format="onnx")
    return run_dir, tmp_path / "onnx_export"


def test_onnx_export_gives_the_recognizers_outputs_alone_and_batched(
    onnx_export, audio_files
):
    run_dir, export_dir = onnx_export
    recognizer = EmotionRecognizer.from_run(run_dir)
    session = onnxruntime.InferenceSession(str(export_dir / "model.onnx"))
    metadata = session.get_modelmeta().custom_metadata_map
    names = json.loads(metadata["labels"])
    assert metadata["task"] == recognizer.task
    signals = [sf.read(path, dtype="float32")[0] for path in audio_files]
    expected = [expected_scores(recognizer, path) for path in audio_files]
    for signal, want in zip(signals, expected):
        scores, embedding = session.run(
            None, {"waveform": signal[None], "wav_lens": np.ones(1, "f4")}
        )
        np.testing.assert_allclose(
            scores[0], [want[name] for name in names], atol=1e-4
        )
        pooled, _ = recognizer.embed(torch.from_numpy(signal)[None])
        np.testing.assert_allclose(embedding[0], pooled[0], atol=1e-4)
    longest = max(len(signal) for signal in signals)
    batch = np.stack([np.pad(s, (0, longest - len(s))) for s in signals])
    wav_lens = np.array([len(s) / longest for s in signals], dtype="f4")
    scores, _ = session.run(None, {"waveform": batch, "wav_lens": wav_lens})
    for row, want in zip(scores, expected):
        np.testing.assert_allclose(
            row, [want[name] for name in names], atol=1e-4
        )


def test_onnx_example_runs_with_onnxruntime_and_soundfile_alone(
    encoders, audio_files, tmp_path
):
    run_dir = make_run(
        tmp_path / "run", encoders["hubert"], ["lora"], "dimensional"
    )
    out = tmp_path / "onnx_export"
    export_run(run_dir, out, format="onnx")
    # The example's own process: it may import nothing of ours or torch's.
    check = (
        "import runpy, sys; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__'); "
        "assert not {'torch', 'speechbrain_peft'} & set(sys.modules)"
    )
    printed = subprocess.run(
        [sys.executable, "-c", check, str(out / "classify.py")]
        + [str(path) for path in audio_files],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    recognizer = EmotionRecognizer.from_run(run_dir)
    assert len(printed) == len(audio_files)
    for line, path in zip(printed, audio_files):
        found = json.loads(line)
        assert found.pop("file") == str(path)
        expected = expected_scores(recognizer, path)
        assert found == pytest.approx(expected, abs=1e-4)
    card = (out / "README.md").read_text()
    assert "onnxruntime soundfile" in card and "classify.py" in card
    assert "arousal, valence and dominance on the corpus scale" in card


STOCK_RUNS = {
    "categorical_lora_ws": ("wavlm", ["lora", "weighted_sum"], "categorical"),
    "dimensional_peft_tuner": (
        "hubert",
        {"peft": EVERY_METHOD["peft"]},
        "dimensional",
    ),
    "group_norm_front_end": (
        "group_norm",
        ["lora", "weighted_sum"],
        "categorical",
    ),
}
# A stock front-end normalises over the padding: only one file at a time is
# exact for a group-norm encoder.
BATCHES_EXACTLY = {"categorical_lora_ws", "dimensional_peft_tuner"}


@pytest.fixture(params=sorted(STOCK_RUNS))
def stock_export(request, encoders, tmp_path):
    """``(name, run_dir, export_dir, task)`` of a run with a linear head,
    exported with ``--format transformers_stock``."""
    kind, adapters, task = STOCK_RUNS[request.param]
    run_dir = make_run(
        tmp_path / "run", encoders[kind], adapters, task, head_hidden_size=None
    )
    export_run(run_dir, tmp_path / "stock", format="transformers_stock")
    return request.param, run_dir, tmp_path / "stock", task


def test_stock_export_loads_without_remote_code_with_the_recognizers_outputs(
    stock_export, audio_files
):
    name, run_dir, export_dir, task = stock_export
    recognizer = EmotionRecognizer.from_run(run_dir)
    card = (export_dir / "README.md").read_text()
    if "weighted_sum" in STOCK_RUNS[name][1]:
        folded = "`weighted_sum` {} (the stock model's weighted layer sum)"
        assert folded in card
    config = json.loads((export_dir / "config.json").read_text())
    assert "auto_map" not in config
    assert config["architectures"][0].endswith("ForSequenceClassification")
    classifier = pipeline("audio-classification", model=str(export_dir))
    kwargs = {"top_k": None}
    if task == "dimensional":
        kwargs["function_to_apply"] = "none"
    signals = [sf.read(path, dtype="float32")[0] for path in audio_files]
    expected = [expected_scores(recognizer, path) for path in audio_files]
    for signal, want in zip(signals, expected):
        found = classifier({"raw": signal, "sampling_rate": 16000}, **kwargs)
        scores = {item["label"]: item["score"] for item in found}
        assert scores == pytest.approx(want, abs=1e-4)
    if name not in BATCHES_EXACTLY:
        return
    model = AutoModelForAudioClassification.from_pretrained(export_dir)
    extractor = AutoFeatureExtractor.from_pretrained(export_dir)
    inputs = extractor(
        signals, sampling_rate=16000, padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        outputs = model(**inputs).logits
    if task == "categorical":
        outputs = outputs.softmax(dim=-1)
    labels = list(model.config.id2label.values())
    for row, want in zip(outputs, expected):
        np.testing.assert_allclose(
            row.numpy(), [want[label] for label in labels], atol=1e-4
        )


def test_stock_export_runs_with_transformers_alone(
    tiny_encoders, audio_files, tmp_path
):
    run_dir = make_run(
        tmp_path / "run",
        tiny_encoders["wavlm"],
        ["lora"],
        head_hidden_size=None,
    )
    out = tmp_path / "stock"
    export_run(run_dir, out, format="transformers_stock")
    check = (
        "import sys, json, soundfile as sf; "
        "from transformers import pipeline; "
        f"classify = pipeline('audio-classification', model={str(out)!r}); "
        "audio, rate = sf.read(sys.argv[1], dtype='float32'); "
        "found = classify({'raw': audio, 'sampling_rate': rate}, top_k=None); "
        "assert 'speechbrain_peft' not in sys.modules; "
        "print(json.dumps({f['label']: f['score'] for f in found}))"
    )
    printed = subprocess.run(
        [sys.executable, "-c", check, str(audio_files[0])],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    recognizer = EmotionRecognizer.from_run(run_dir)
    expected = expected_scores(recognizer, audio_files[0])
    assert json.loads(printed) == pytest.approx(expected, abs=1e-4)
    card = (out / "README.md").read_text()
    assert "trust_remote_code" not in card
    assert 'pipeline(\n    "audio-classification", model="stock"\n)' in card
    assert "- Adaptors: `lora` " in card
    assert "(merged into the encoder weights)" in card


@pytest.mark.parametrize(
    "adapters, head_hidden_size, named",
    [
        (["lora", "bottleneck"], None, "adaptors ['bottleneck'] do not merge"),
        (["lora"], 8, "its head has a hidden layer (8 units"),
    ],
)
def test_stock_export_refuses_a_run_it_cannot_hold_before_writing(
    tiny_encoders, tmp_path, adapters, head_hidden_size, named
):
    run_dir = make_run(
        tmp_path / "run",
        tiny_encoders["wavlm"],
        adapters,
        head_hidden_size=head_hidden_size,
    )
    with pytest.raises(ConfigError) as error:
        export_run(run_dir, tmp_path / "stock", format="transformers_stock")
    message = str(error.value)
    assert named in message and "Use --format transformers" in message
    assert "\n" not in message
    assert not (tmp_path / "stock").exists()
