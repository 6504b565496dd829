"""Exports for the users outside SpeechBrain: the transformers folder
(pipeline and AutoModelForAudioClassification) gives the probabilities and
dimensions EmotionRecognizer gives, for every method.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json

import numpy as np
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
