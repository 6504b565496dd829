"""Inference and export: a trained run reloaded in a fresh process gives the
predictions its evaluation wrote, the CLI reports per-file errors, merged
exports load with plain transformers, and foreign or pickled checkpoints
are refused.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import speechbrain as sb
import torch
import torchaudio
import yaml
from random_runs import LABELS, MAX_DURATION, make_run
from recipe_runs import FIXTURES
from safetensors.torch import load_file
from speechbrain.inference.interfaces import foreign_class
from transformers import AutoFeatureExtractor, AutoModel

from speechbrain_peft.corpora.crema_d import prepare_crema_d
from speechbrain_peft.corpora.iemocap import make_synthetic as make_iemocap
from speechbrain_peft.data.datasets import denormalize_dimensions
from speechbrain_peft.evaluate import evaluate_run
from speechbrain_peft.export import export_run
from speechbrain_peft.infer import expand_inputs
from speechbrain_peft.infer import main as infer_main
from speechbrain_peft.inference.recognizer import EmotionRecognizer
from speechbrain_peft.inference.windows import RecordingClassifier
from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.heads import EmotionHead
from speechbrain_peft.model.saved_tensors import CheckpointMismatchError
from speechbrain_peft.results import aggregate
from speechbrain_peft.runs.artifact import (
    RUN_CONFIG,
    RUN_WEIGHTS,
)
from speechbrain_peft.runs.finished import FinishedRun
from speechbrain_peft.runs.speakers import read_trained_on
from speechbrain_peft.synthetic.encoders import save_tiny_encoder
from speechbrain_peft.training.hparams import load_hparams
from speechbrain_peft.training.recipe import train_and_evaluate
from speechbrain_peft.training.stage_two import init_from_run

REPO = str(Path(__file__).resolve().parents[2])


def write_manifests(utterances, folder):
    """Sessions 1-3 train, 4 dev, 5 test (4-class, exc merged into hap)."""
    df = utterances.assign(emo=utterances["label"].replace({"exc": "hap"}))
    df = df[df["emo"].isin(LABELS)]
    manifest = pd.DataFrame(
        {
            "ID": df["id"],
            "duration": df["duration"],
            "wav": df["path"],
            "spk_id": df["speaker"],
            "gender": df["gender"],
            "emo": df["emo"],
            "arousal": df["arousal"],
            "valence": df["valence"],
            "dominance": df["dominance"],
            "split": "",
        }
    )
    splits = {"train": df["session"] <= 3, "dev": df["session"] == 4}
    splits["test"] = df["session"] == 5
    paths = {}
    for split, rows in splits.items():
        paths[split] = folder / f"{split}.csv"
        manifest[rows].to_csv(paths[split], index=False)
    return paths


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_encoders):
    """A one-epoch LoRA run on a tiny IEMOCAP: ``(run_dir, test_csv)``."""
    root = tmp_path_factory.mktemp("inference_run")
    corpus = make_iemocap(root / "corpus", utts_per_speaker=4, seed=0)
    manifests = write_manifests(corpus["utterances"], root)
    hparams = load_hparams(
        os.path.join(REPO, "recipes/IEMOCAP/hparams/lora.yaml"),
        {
            "data_folder": str(root / "corpus"),
            "encoder_source": str(tiny_encoders["wavlm"]),
            "adapters": ["lora"],
            "number_of_epochs": 1,
            "batch_size": 4,
            "grad_accumulation_factor": 1,
            "lr": 0.001,
            "max_duration": MAX_DURATION,
            "output_folder": str(root / "run"),
        },
    )
    sb.create_experiment_directory(hparams["output_folder"])
    train_and_evaluate(
        hparams, {}, manifests, {"config": "lora", "corpus": "IEMOCAP"}
    )
    return root / "run", manifests["test"]


@pytest.fixture(scope="module")
def recognizer(trained_run):
    """The trained run loaded in this process."""
    return EmotionRecognizer.from_run(trained_run[0])


def softmax(scores):
    """Softmax of a list of logits, in float64."""
    scores = np.asarray(scores, dtype=np.float64)
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


def test_fresh_process_reproduces_evaluation_and_cli_errors(
    trained_run, tmp_path
):
    run_dir, test_csv = trained_run
    stored = [
        json.loads(line)
        for line in (run_dir / "predictions_test.jsonl")
        .read_text()
        .splitlines()
        if line
    ]
    test = pd.read_csv(test_csv, dtype={"ID": str})
    wavs = dict(zip(test["ID"], test["wav"]))
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio\n")
    files = [wavs[row["id"]] for row in stored]
    files += [str(tmp_path / "missing.wav"), str(not_audio)]

    # A fresh interpreter: nothing of the training process is reused.
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "speechbrain_peft.infer",
            str(run_dir),
            *files,
            # One window per file: whole files, as evaluation scores them.
            "--window=60",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    ends = [line for line in lines if line.get("scope") != "window"]
    assert [line["file"] for line in ends] == files
    for row, file in zip(stored, files):
        first = next(line for line in lines if line["file"] == file)
        assert "error" not in first, first
        assert first["start"] == 0.0
        assert first["label"] == row["prediction"], row["id"]
        expected = softmax(row["scores"])
        got = [first["probabilities"][label] for label in LABELS]
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert "missing.wav" in ends[-2]["error"]
    assert "notes.wav" in ends[-1]["error"]
    assert set(ends[-1]) == {"file", "error"}


def test_cli_exit_status_zero_when_all_files_work(trained_run, capsys):
    run_dir, test_csv = trained_run
    wav = pd.read_csv(test_csv)["wav"].iloc[0]
    assert infer_main([str(run_dir), wav]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["label"] in LABELS
    with pytest.raises(SystemExit) as exit_info:  # not a run folder
        infer_main([str(run_dir / "save"), wav])
    assert exit_info.value.code == 2
    assert str(run_dir / "save") in capsys.readouterr().err


def test_a_folder_without_audio_is_named_and_exits_2(
    trained_run, tmp_path, capsys
):
    run_dir, _ = trained_run
    (tmp_path / "notes.txt").write_text("no audio here\n")
    with pytest.raises(SystemExit) as exit_info:
        infer_main([str(run_dir), str(tmp_path)])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert f"{tmp_path} holds no audio file" in captured.err
    assert captured.out == ""


def test_long_files_whole_any_rate_and_channels(recognizer, tmp_path):
    """Files are classified whole, as evaluation scores them (infer's
    windows are for long recordings)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(2.5 * 16000)) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 180 * t)).astype("float32")
    wav += 0.01 * rng.standard_normal(wav.size).astype("float32")
    sf.write(tmp_path / "long.wav", wav, 16000, subtype="FLOAT")
    from_file = recognizer.classify_file(tmp_path / "long.wav")
    assert (
        from_file == recognizer.classify_batch(torch.from_numpy(wav)[None])[0]
    )
    cropped = torch.from_numpy(wav[: int(MAX_DURATION * 16000)])
    assert recognizer.classify_batch(cropped[None])[0] != from_file

    sf.write(
        tmp_path / "stereo.wav",
        np.stack([wav, wav], axis=1),
        16000,
        subtype="FLOAT",
    )
    assert recognizer.classify_file(tmp_path / "stereo.wav") == from_file

    resampled = torchaudio.functional.resample(
        torch.from_numpy(wav), 16000, 44100
    )
    sf.write(tmp_path / "cd.flac", resampled.numpy(), 44100)
    cd = recognizer.classify_file(tmp_path / "cd.flac")
    np.testing.assert_allclose(
        list(cd["probabilities"].values()),
        list(from_file["probabilities"].values()),
        atol=1e-2,
    )


def test_dimensional_on_corpus_scale(tiny_encoders, tmp_path):
    run_dir = make_run(
        tmp_path / "run", tiny_encoders["hubert"], ["lora"], "dimensional"
    )
    recognizer = EmotionRecognizer.from_run(run_dir)
    wav = 0.1 * torch.randn(
        1, 16000, generator=torch.Generator().manual_seed(0)
    )
    sf.write(tmp_path / "a.wav", wav[0].numpy(), 16000, subtype="FLOAT")
    result = recognizer.classify_file(tmp_path / "a.wav")
    assert list(result) == ["arousal", "valence", "dominance"]
    raw = recognizer(wav)[0].double().numpy()
    np.testing.assert_allclose(
        list(result.values()), denormalize_dimensions(raw, (1.0, 5.0))
    )


def small_corpus_and_run(tmp_path, source, task, utts_per_speaker, max_dur):
    """Manifests of a fresh small IEMOCAP and a run artifact with random
    trained tensors."""
    corpus = make_iemocap(
        tmp_path / "corpus", utts_per_speaker, min_dur=0.5, max_dur=max_dur
    )
    manifests = write_manifests(corpus["utterances"], tmp_path)
    return manifests, make_run(tmp_path / "run", source, ["lora"], task)


def test_prediction_files_are_on_the_corpus_scale_like_infer(
    tiny_encoders, tmp_path
):
    manifests, run_dir = small_corpus_and_run(
        tmp_path, tiny_encoders["hubert"], "dimensional", 4, max_dur=1.0
    )
    test = {"test": manifests["test"]}
    # Hand-written manifests: no prep_info.json to take the scale from.
    with pytest.raises(ValueError, match="--scale LOW HIGH"):
        evaluate_run(run_dir, test, tmp_path / "eval", corpus="IEMOCAP")
    results = evaluate_run(
        run_dir, test, tmp_path / "eval", corpus="IEMOCAP", scale=(1.0, 5.0)
    )
    assert results["prediction_scales"] == {"test": [1.0, 5.0]}
    rows = (tmp_path / "eval" / "predictions_test.jsonl").read_text()
    predicted = {row["id"]: row for row in map(json.loads, rows.splitlines())}
    recognizer = EmotionRecognizer.from_run(run_dir)
    for row in pd.read_csv(manifests["test"]).itertuples():
        stored = predicted[row.ID]
        for dimension in ("arousal", "valence", "dominance"):
            assert stored["target"][dimension] == pytest.approx(
                getattr(row, dimension)
            )
        inferred = recognizer.classify_file(row.wav)
        for dimension, value in inferred.items():
            assert stored["prediction"][dimension] == pytest.approx(
                value, abs=1e-5
            )


def plain_transformers_model(export_dir):
    """``AutoModel.from_pretrained`` on the merged encoder and our head,
    without any of our encoder code: ``wav (numpy) -> logits``."""
    config = json.loads((export_dir / RUN_CONFIG).read_text())
    model, info = AutoModel.from_pretrained(
        export_dir / "encoder", output_loading_info=True
    )
    assert not any(info.values()), info  # exactly the plain model's keys
    extractor = AutoFeatureExtractor.from_pretrained(export_dir / "encoder")
    head = EmotionHead(**config["head"]).eval()
    tensors = load_file(export_dir / RUN_WEIGHTS)
    head.load_state_dict(
        {k[len("head.") :]: v for k, v in tensors.items() if "head." in k}
    )

    @torch.no_grad()
    def logits(wav):
        inputs = extractor(wav, sampling_rate=16000, return_tensors="pt")
        feats = model.eval()(**inputs).last_hidden_state
        return head(feats, torch.ones(1))

    return logits


def test_merged_export_loads_with_plain_transformers(
    trained_run, recognizer, tmp_path
):
    run_dir, test_csv = trained_run
    merged = tmp_path / "merged"
    export_run(run_dir, merged, merge=True)
    with pytest.raises(ValueError, match="merged export"):
        export_run(merged, tmp_path / "again")
    config = json.loads((merged / RUN_CONFIG).read_text())
    assert config["encoder"]["adapters"] == {}
    assert config["export"]["base_encoder"]["id"] == str(
        recognizer.config["encoder"]["source"]
    )
    plain = plain_transformers_model(merged)
    from_export = EmotionRecognizer.from_run(merged)
    for path in pd.read_csv(test_csv)["wav"].iloc[:3]:
        wav = recognizer.read_audio(path)
        expected = recognizer(wav[None])
        torch.testing.assert_close(
            plain(wav.numpy()), expected, atol=1e-4, rtol=0
        )
        torch.testing.assert_close(
            from_export(wav[None]), expected, atol=1e-4, rtol=0
        )


def test_merge_keeps_non_lora_adaptors(tiny_encoders, wav_batch, tmp_path):
    adapters = ["lora", "bottleneck", "weighted_sum", "gating"]
    run_dir = make_run(tmp_path / "run", tiny_encoders["wav2vec2"], adapters)
    export_run(run_dir, tmp_path / "merged", merge=True)
    export_run(run_dir, tmp_path / "plain")
    wav, lens = wav_batch
    expected = EmotionRecognizer.from_run(run_dir)(wav, lens)
    merged = EmotionRecognizer.from_run(tmp_path / "merged")
    assert merged.encoder.adapters == adapters[1:]
    torch.testing.assert_close(merged(wav, lens), expected, atol=1e-4, rtol=0)
    plain = EmotionRecognizer.from_run(tmp_path / "plain")
    torch.testing.assert_close(plain(wav, lens), expected, atol=0, rtol=0)


@pytest.mark.parametrize(
    "kind, adapters, message",
    [
        ("wavlm", ["bottleneck"], '"adapters": {"bottleneck": {'),
        ("hubert", ["lora"], "hubert"),
    ],
    ids=["other_adaptors", "other_encoder"],
)
def test_foreign_checkpoint_refused(
    trained_run, tiny_encoders, tmp_path, kind, adapters, message
):
    other = make_run(tmp_path / "other", tiny_encoders[kind], adapters)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(trained_run[0] / RUN_CONFIG, mixed / RUN_CONFIG)
    shutil.copy(other / RUN_WEIGHTS, mixed / RUN_WEIGHTS)
    with pytest.raises(CheckpointMismatchError) as error:
        EmotionRecognizer.from_run(mixed)
    text = str(error.value)
    assert "another configuration" in text and message in text
    assert "checkpoint:" in text and "this model:" in text


class MakeFolder:
    """Unpickling this runs ``os.mkdir(path)``: a stand-in for code
    execution hidden in a checkpoint."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


@pytest.mark.parametrize("payload", ["torch_save", "raw_pickle"])
def test_pickled_checkpoint_refused(trained_run, tmp_path, payload):
    tampered = tmp_path / "tampered"
    shutil.copytree(
        trained_run[0], tampered, ignore=shutil.ignore_patterns("save")
    )
    marker = tmp_path / "code_ran"
    state = {"head.mlp.1.weight": torch.zeros(1), "x": MakeFolder(str(marker))}
    if payload == "torch_save":
        torch.save(state, tampered / RUN_WEIGHTS)
    else:
        (tampered / RUN_WEIGHTS).write_bytes(pickle.dumps(state))
    with pytest.raises(CheckpointMismatchError, match="pickled checkpoints"):
        EmotionRecognizer.from_run(tampered)
    assert not marker.exists()


def test_moved_encoder_and_export_revision(tiny_encoders, tmp_path):
    encoder_dir = shutil.copytree(tiny_encoders["wavlm"], tmp_path / "enc")
    run_dir = make_run(tmp_path / "run", encoder_dir, ["lora", "gating"])
    export_run(run_dir, tmp_path / "export")
    moved = encoder_dir.rename(tmp_path / "moved")
    with pytest.raises(FileNotFoundError, match="--source"):
        EmotionRecognizer.from_run(tmp_path / "export")
    EmotionRecognizer.from_run(tmp_path / "export", source=moved)
    # Same architecture, other weights: the adaptors do not belong to it.
    retrained = save_tiny_encoder("wavlm", tmp_path / "other", seed=1)
    with pytest.raises(CheckpointMismatchError, match="not the one"):
        EmotionRecognizer.from_run(tmp_path / "export", source=retrained)
    # A training run records no revision: a moved folder just loads.
    EmotionRecognizer.from_run(run_dir, source=moved)


def test_lora_only_base_size_artifact_under_3mb(tmp_path):
    base = save_tiny_encoder(
        "wavlm",
        tmp_path / "base",
        hidden_size=768,
        num_layers=12,
        intermediate_size=3072,
        num_attention_heads=12,
    )
    try:
        run_dir = make_run(tmp_path / "run", base, ["lora"])
        export_run(run_dir, tmp_path / "export")
    finally:
        shutil.rmtree(base)  # 350 MB of random weights
    files = sorted((tmp_path / "export").iterdir())
    assert [f.name for f in files] == ["README.md", RUN_WEIGHTS, RUN_CONFIG]
    # 12 layers x q, k, v x r (768 + 768) + the head, in float32.
    n_params = 12 * 3 * 8 * (768 + 768) + (768 * 256 + 256 + 256 * 4 + 4)
    weights = (tmp_path / "export" / RUN_WEIGHTS).stat().st_size
    assert 4 * n_params < weights < 4 * n_params + 20_000
    assert sum(f.stat().st_size for f in files) < 3_000_000


def test_evaluate_reproduces_the_run_and_maps_another_corpus(
    trained_run, small_corpora, tmp_path, caplog
):
    """Cross-corpus evaluation: on the run's own test manifest it gives the
    run's own test metrics; on CREMA-D, the classes the run does not know
    (dis, fea) are left out and counted in the log."""
    run_dir, test_csv = trained_run
    own = evaluate_run(run_dir, {"test": test_csv}, tmp_path / "own")
    reference = json.loads((run_dir / "results.json").read_text())
    for key in ("WA", "UA", "macro_F1", "confusion", "n"):
        assert own["splits"]["test"][key] == reference["splits"]["test"][key]
    assert json.loads((tmp_path / "own" / "results.json").read_text()) == own

    prepare_crema_d(small_corpora["CREMA-D"], tmp_path / "crema")
    crema_test = str(tmp_path / "crema" / "test.csv")
    manifest = pd.read_csv(crema_test)
    with caplog.at_level(logging.INFO):
        other = evaluate_run(
            run_dir,
            {"test": crema_test},
            tmp_path / "cross",
            corpus="CREMA-D",
            data_root=small_corpora["CREMA-D"],
        )
    kept = manifest["emo"].isin(["neu", "hap", "ang", "sad"])
    assert other["splits"]["test"]["n"] == kept.sum() > 0
    assert other["trained_on"] == "IEMOCAP" and other["corpus"] == "CREMA-D"
    left_out = f"{(~kept).sum()} utterance(s) with unmapped labels left out"
    assert any(left_out in r.getMessage() for r in caplog.records)
    assert other["left_out"]["test"] == (
        manifest.loc[~kept, "emo"].value_counts().sort_index().to_dict()
    )
    # What was evaluated is kept apart from the run that was evaluated.
    assert other["kind"] == "evaluation"
    assert other["evaluated_on"]["corpus"] == "CREMA-D"
    assert other["evaluated_on"]["manifests"]["test"] == crema_test
    assert len(other["evaluated_on"]["manifest_ids_sha256"]["test"]) == 64
    assert other["evaluated_run"]["path"] == str(run_dir.resolve())
    assert other["params"] == reference["params"]
    assert other["experiment"]["id"] != reference["experiment"]["id"]
    table = aggregate([reference, other], n_boot=10)
    ua = table[(table["metric"] == "UA") & (table["split"] == "test")]
    assert sorted(ua["corpus"]) == ["CREMA-D", "IEMOCAP"]
    assert (ua["n_runs"] == 1).all()
    unnamed = evaluate_run(run_dir, {"test": test_csv}, tmp_path / "unnamed")
    assert unnamed["corpus"] == "unknown" and unnamed["trained_on"] == "IEMOCAP"
    assert (tmp_path / "cross" / "confusion_test.png").stat().st_size > 0
    with pytest.raises(ValueError, match="not labels of the run"):
        evaluate_run(
            run_dir,
            {"test": crema_test},
            tmp_path / "bad",
            label_map={"dis": "disgust"},
        )


@pytest.fixture(scope="module")
def base_like_encoders(tmp_path_factory):
    """Tiny encoders with the base checkpoints' group-norm front-end and no
    padding mask in their feature-extractor config."""
    root = tmp_path_factory.mktemp("base_like")
    return {
        kind: save_tiny_encoder(
            kind,
            root / kind,
            feat_extract_norm="group",
            do_stable_layer_norm=False,
            return_attention_mask=False,
        )
        for kind in ("wavlm", "hubert", "wav2vec2")
    }


@pytest.mark.parametrize("kind", ["wavlm", "hubert", "wav2vec2"])
def test_group_norm_front_end_features_do_not_depend_on_the_batch(
    base_like_encoders, kind
):
    encoder = PEFTEncoder(
        str(base_like_encoders[kind]), adapters=["weighted_sum"]
    ).eval()
    generator = torch.Generator().manual_seed(0)
    short, long = torch.randn(16000, generator=generator), torch.randn(64000)
    batch = torch.zeros(2, 64000)
    batch[0, :16000], batch[1] = short, long
    lens = torch.tensor([0.25, 1.0])
    with torch.no_grad():
        alone = encoder(short[None])[0]
        batched, feat_lens = encoder(batch, lens)
        n_frames = int(torch.round(feat_lens[0] * batched.shape[1]))
        assert n_frames == alone.shape[1]
        torch.testing.assert_close(
            batched[0, :n_frames], alone[0], atol=1e-5, rtol=0
        )
        # The check can fail: a batched front-end lets padding in.
        encoder.front_end_masked = False
        leaky, _ = encoder(batch, lens)
    assert (leaky[0, :n_frames] - alone[0]).abs().max() > 1e-2


def test_evaluation_at_any_batch_size_and_infer_agree_on_base_encoders(
    base_like_encoders, tmp_path
):
    manifests, run_dir = small_corpus_and_run(
        tmp_path, base_like_encoders["wav2vec2"], "categorical", 6, max_dur=3.0
    )
    scores = {}
    for batch_size in (1, 8):
        out = tmp_path / f"batch{batch_size}"
        evaluate_run(
            run_dir, {"test": manifests["test"]}, out, batch_size=batch_size
        )
        rows = (out / "predictions_test.jsonl").read_text().splitlines()
        scores[batch_size] = {
            row["id"]: row["scores"] for row in map(json.loads, rows)
        }
    assert len(scores[1]) > 2
    for utt_id, alone in scores[1].items():
        np.testing.assert_allclose(scores[8][utt_id], alone, atol=1e-5)
    recognizer = EmotionRecognizer.from_run(run_dir)
    test = pd.read_csv(manifests["test"])
    for row in test.itertuples():
        inferred = recognizer.classify_file(row.wav)["probabilities"]
        np.testing.assert_allclose(
            [inferred[label] for label in LABELS],
            softmax(scores[8][row.ID]),
            atol=1e-5,
        )


@pytest.fixture
def legacy_run(tmp_path):
    """A run folder written by the version before the adaptor registry
    (flat ``lora_rank``... lobe arguments), moved to this machine: its
    encoder is the tiny WavLM the tests build, its training manifest here.
    """
    run = tmp_path / "legacy_run"
    shutil.copytree(FIXTURES / "legacy_run", run)
    config = json.loads((run / RUN_CONFIG).read_text())
    config["run_info"]["manifests"]["train"] = str(run / "train.csv")
    (run / RUN_CONFIG).write_text(json.dumps(config))
    return run


def test_runs_written_before_the_registry_still_load(legacy_run, tiny_encoders):
    recognizer = EmotionRecognizer.from_run(
        legacy_run, source=tiny_encoders["wavlm"]
    )
    assert recognizer.encoder.adapters == [
        "lora",
        "bottleneck",
        "weighted_sum",
        "gating",
    ]
    assert recognizer.encoder.settings["lora"].rank == 4
    assert recognizer.encoder.settings["bottleneck"].size == 16
    wav = torch.randn(2, 12000, generator=torch.Generator().manual_seed(1))
    expected = json.loads((legacy_run / "expected_logits.json").read_text())
    torch.testing.assert_close(
        recognizer(wav, torch.tensor([1.0, 0.5])),
        torch.tensor(expected),
        atol=1e-5,
        rtol=0,
    )


def test_runs_written_before_the_registry_are_stage_one_parents(
    legacy_run, tiny_encoders
):
    encoder = PEFTEncoder(
        str(tiny_encoders["wavlm"]),
        adapters={
            "lora": {"rank": 4},
            "bottleneck": {"size": 16},
            "weighted_sum": {},
            "gating": {},
        },
    )
    head = EmotionHead(encoder.output_size, 4, hidden_size=32)
    lineage = init_from_run(
        FinishedRun.read(legacy_run),
        encoder,
        head,
        label_map={label: label for label in LABELS},
        target_labels=LABELS,
    )
    assert {row["stage_one"] for row in lineage["adaptors"]} == {"loaded"}
    # Its training speakers come from the manifest its run.json names.
    trained_on = read_trained_on(legacy_run)
    assert trained_on == [
        {"corpus": "IEMOCAP", "speakers": ["Ses01_F", "Ses01_M"]}
    ]


def test_a_long_recording_is_classified_in_windows(trained_run, tmp_path):
    """60 s at a run whose max_duration is 2 s: windows of 2 s every 1 s,
    each with its times, and the file's result is their mean."""
    run_dir, _ = trained_run
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(60 * 16000)).astype("float32")
    sf.write(tmp_path / "podcast.wav", audio, 16000)
    recognizer = EmotionRecognizer.from_run(run_dir)
    (result,) = RecordingClassifier(recognizer).classify(
        [str(tmp_path / "podcast.wav")]
    )
    windows = result["windows"]
    assert [w["start"] for w in windows] == [float(s) for s in range(59)]
    assert windows[-1]["end"] == 60.0 and result["duration"] == 60.0
    mean = np.mean(
        [[w["probabilities"][label] for label in LABELS] for w in windows], 0
    )
    got = [result["probabilities"][label] for label in LABELS]
    np.testing.assert_allclose(got, mean, atol=1e-9)
    assert result["label"] == LABELS[int(mean.argmax())]
    # One window alone gives what classify_batch gives its samples.
    alone = recognizer.classify_batch(
        torch.from_numpy(audio[16000:48000])[None]
    )
    np.testing.assert_allclose(
        [windows[1]["probabilities"][label] for label in LABELS],
        [alone[0]["probabilities"][label] for label in LABELS],
        atol=1e-5,
    )

    output = tmp_path / "out.jsonl"
    status = infer_main(
        [str(run_dir), str(tmp_path / "podcast.wav"), "--output", str(output)]
    )
    assert status == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["scope"] for line in lines] == ["window"] * 59 + ["file"]
    assert lines[-1]["probabilities"] == pytest.approx(result["probabilities"])
    assert (lines[3]["start"], lines[3]["end"]) == (3.0, 5.0)


def _keyed(csv_path):
    """A CSV of infer's lines keyed by file name, scope and start."""
    rows = pd.read_csv(csv_path)
    names = rows["file"].map(lambda path: Path(path).name)
    return rows.set_index([names, rows["scope"], rows["start"]])


def test_folders_globs_and_manifests_in_batches(trained_run, tmp_path):
    """A folder with a broken file, in batches of 8, against the manifest
    of the same files one at a time: the same probabilities, an error line
    for the broken file, and exit status 1."""
    run_dir, test_csv = trained_run
    manifest = pd.read_csv(test_csv)
    folder = tmp_path / "clips"
    folder.mkdir()
    for wav in manifest["wav"]:
        shutil.copy(wav, folder / Path(wav).name)
    (folder / "broken.wav").write_bytes(b"RIFF but not audio")
    options = ["--no-progress", "--output"]
    batched, single = tmp_path / "batched.csv", tmp_path / "single.csv"
    run = str(run_dir)
    status = infer_main([run, str(folder), *options, str(batched)])
    assert status == 1
    assert (
        infer_main(
            [run, str(test_csv), *options, str(single), "--batch-size", "1"]
        )
        == 0
    )
    together, alone = _keyed(batched), _keyed(single)
    errors = together[together["error"].notna()]
    assert [key[0] for key in errors.index] == ["broken.wav"]
    classified = together[together["error"].isna()]
    assert len(classified.xs("file", level=1)) == len(manifest)
    probabilities = [f"p_{label}" for label in LABELS]
    np.testing.assert_allclose(
        classified[probabilities].to_numpy(),
        alone.loc[classified.index, probabilities].to_numpy(),
        atol=1e-5,
    )
    assert expand_inputs([str(folder / "*.wav")]) == sorted(
        str(p) for p in folder.glob("*.wav")
    )


def test_speechbrain_export_loads_with_foreign_class(trained_run, tmp_path):
    run_dir, test_csv = trained_run
    out = tmp_path / "sb_export"
    export_run(run_dir, out, format="speechbrain")
    for name in ("hyperparams.yaml", "custom_interface.py", "README.md"):
        assert (out / name).is_file(), name
    classifier = foreign_class(
        source=str(out),
        pymodule_file="custom_interface.py",
        classname="PEFTEmotionClassifier",
    )
    recognizer = EmotionRecognizer.from_run(run_dir)
    for wav in pd.read_csv(test_csv)["wav"].iloc[:3]:
        out_prob, score, index, text_lab = classifier.classify_file(wav)
        expected = recognizer.classify_file(wav)
        assert text_lab == [expected["label"]]
        np.testing.assert_allclose(
            out_prob[0].numpy(),
            [expected["probabilities"][label] for label in LABELS],
            atol=1e-4,
        )
        assert score[0] == out_prob[0].max() and LABELS[index[0]] == text_lab[0]


def _card(path):
    """A model card's metadata (YAML front matter) and body."""
    _, front, body = path.read_text().split("---\n", 2)
    return yaml.safe_load(front), body


def test_model_cards_describe_categorical_and_dimensional_runs(
    trained_run, tiny_encoders, tmp_path
):
    run_dir, _ = trained_run
    export_run(run_dir, tmp_path / "categorical")
    metadata, body = _card(tmp_path / "categorical" / "README.md")
    assert metadata["library_name"] == "speechbrain"
    assert metadata["datasets"] == ["iemocap"]
    assert {"ua", "wa", "macro_f1"} <= set(metadata["metrics"])
    assert "lora" in metadata["tags"]
    results = json.loads((run_dir / "results.json").read_text())
    assert f"{results['params']['trainable']:,}" in body
    assert f"{results['splits']['test']['UA']:.4f}" in body
    assert "['neu', 'hap', 'ang', 'sad']" in body
    assert "EmotionRecognizer.from_run" in body and "license" in metadata

    dimensional = make_run(
        tmp_path / "dim", tiny_encoders["hubert"], ["lora"], "dimensional"
    )
    export_run(dimensional, tmp_path / "dim_export", format="merged")
    metadata, body = _card(tmp_path / "dim_export" / "README.md")
    assert {"ccc_arousal", "ccc_mean"} <= set(metadata["metrics"])
    assert "arousal, valence, dominance on the corpus scale [1.0, 5.0]" in body
    assert 'from_pretrained("dim_export/encoder")' in body
    # LoRA is folded into the encoder weights, and still named as trained.
    assert "lora" in metadata["tags"]
    assert "`lora` " in body and "(merged into the encoder weights)" in body


def test_embeddings_beside_predictions(trained_run, recognizer, tmp_path):
    """infer --embeddings: one row per JSON line (the windows of a long
    recording, then its file), the head's pooled input; a file's is the
    mean of its windows'."""
    run_dir, test_csv = trained_run
    short = pd.read_csv(test_csv)["wav"].iloc[0]
    rng = np.random.default_rng(1)
    long = tmp_path / "long.wav"
    sf.write(long, 0.1 * rng.standard_normal(5 * 16000), 16000)
    out, vectors = tmp_path / "out.jsonl", tmp_path / "emb.npz"
    argv = [str(run_dir), short, str(long), "--output", str(out)]
    assert infer_main([*argv, "--embeddings", str(vectors)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    saved = np.load(vectors)
    assert saved["embeddings"].shape == (
        len(lines),
        recognizer.encoder.output_size,
    )
    assert list(saved["files"]) == [line["file"] for line in lines]
    assert list(saved["scope"]) == [line["scope"] for line in lines]
    wav = recognizer.read_audio(short)[None]
    alone, _ = recognizer.embed(wav)
    np.testing.assert_allclose(saved["embeddings"][0], alone[0], atol=1e-5)
    windows = saved["scope"] == "window"
    assert windows.sum() > 1
    np.testing.assert_allclose(
        saved["embeddings"][-1],
        saved["embeddings"][windows].mean(axis=0),
        atol=1e-6,
    )
