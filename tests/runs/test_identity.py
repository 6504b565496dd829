"""A run knows what it is: one identity decides "the same run" for the
output folder, the checkpoint, the table row and every evaluation.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import speechbrain
import torch
import transformers
from recipe_runs import (
    FIXTURES,
    QUICK,
    RECIPES,
    load_recipe,
    recipe_args,
    run_recipe,
)
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_peft.corpora.iemocap import make_synthetic as make_iemocap
from speechbrain_peft.corpora.iemocap import prepare_iemocap
from speechbrain_peft.evaluate import evaluate_run
from speechbrain_peft.evaluate import main as evaluate_main
from speechbrain_peft.export import export_run
from speechbrain_peft.inference import EXPORT_KEY
from speechbrain_peft.inference.recognizer import EmotionRecognizer
from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.saved_tensors import CheckpointMismatchError
from speechbrain_peft.results import aggregate, load_results
from speechbrain_peft.runs.experiment import (
    experiment_id,
    experiment_settings,
    numeric_run_options,
)
from speechbrain_peft.runs.identity import IDENTITY_FILE, RunMismatchError
from speechbrain_peft.runs.speakers import SpeakerLeakError
from speechbrain_peft.synthetic.encoders import save_tiny_encoder
from speechbrain_peft.training.hparams import config_source, resolve_config

BEFORE = FIXTURES / "run_before_identity"
LORA = RECIPES / "IEMOCAP" / "hparams" / "lora.yaml"


@pytest.fixture(scope="module")
def iemocap(tmp_path_factory):
    """A small synthetic IEMOCAP, the same as the one the run in
    ``data/run_before_identity`` was trained on."""
    root = tmp_path_factory.mktemp("identity_corpus")
    return make_iemocap(root / "IEMOCAP_full_release", 2)["root"]


def _run(iemocap, encoder, out, *extra):
    """A quick LoRA run on fold 1 (``extra`` may replace QUICK's epochs)."""
    args = recipe_args("IEMOCAP", "lora.yaml", iemocap, encoder, out)
    named = {arg.split("=")[0] for arg in extra}
    quick = [arg for arg in QUICK if arg.split("=")[0] not in named]
    return run_recipe("IEMOCAP", *args, *quick, "--lora_rank=2", *extra)


def _tensors(run_dir):
    return (run_dir / "adapters.safetensors").read_bytes()


@pytest.fixture(scope="module")
def first_run(iemocap, tiny_encoders, tmp_path_factory):
    """A finished one-epoch run at lr 0.001: ``(out, results)``."""
    out = tmp_path_factory.mktemp("first_run")
    return out, _run(iemocap, tiny_encoders["wavlm"], out, "--lr=0.001")


def test_a_rerun_with_another_learning_rate_is_refused_naming_it(
    first_run, iemocap, tiny_encoders
):
    out, results = first_run
    before = (out / "run" / "results.json").read_text()
    with pytest.raises(RunMismatchError, match=r"lr: 0\.001 -> 0\.05"):
        _run(iemocap, tiny_encoders["wavlm"], out, "--lr=0.05")
    assert (out / "run" / "results.json").read_text() == before
    saved = (out / "run" / "hyperparams.yaml").read_text()
    assert "lr: 0.001" in saved and "0.05" not in saved


def test_another_encoder_of_the_same_shape_is_refused(
    first_run, iemocap, tmp_path
):
    out, _ = first_run
    other = save_tiny_encoder("wavlm", tmp_path / "other", seed=1)
    with pytest.raises(RunMismatchError, match=r"encoder\.revision\.sha256"):
        _run(iemocap, other, out, "--lr=0.001")


def test_a_checkpoint_of_other_encoder_weights_is_refused(
    tiny_encoders, tmp_path
):
    """The checkpoint check compares the base weights, not shapes alone."""
    encoder = PEFTEncoder(str(tiny_encoders["wavlm"]), adapters=["lora"])
    checkpointer = Checkpointer(tmp_path / "save", {"encoder": encoder})
    checkpointer.save_checkpoint()
    other = save_tiny_encoder("wavlm", tmp_path / "other", seed=1)
    checkpointer.recoverables["encoder"] = PEFTEncoder(
        str(other), adapters=["lora"]
    )
    with pytest.raises(CheckpointMismatchError, match="weights.sha256"):
        checkpointer.recover_if_possible()


def test_a_plain_rerun_resumes_and_more_epochs_continue(
    iemocap, tiny_encoders, tmp_path
):
    first = _run(iemocap, tiny_encoders["wavlm"], tmp_path)
    again = _run(iemocap, tiny_encoders["wavlm"], tmp_path)
    assert again["identity"]["id"] == first["identity"]["id"]
    assert again["splits"]["test"] == first["splits"]["test"]
    longer = _run(
        iemocap, tiny_encoders["wavlm"], tmp_path, "--number_of_epochs=2"
    )
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert sorted(history) == ["1", "2"]
    (continued,) = longer["identity"]["continued"]
    assert continued["from_run"] == first["identity"]["id"]
    assert continued["changes"] == ["settings.number_of_epochs: 1 -> 2"]
    assert longer["experiment"]["settings"]["number_of_epochs"] == 2
    with pytest.raises(RunMismatchError, match="number_of_epochs: 2 -> 1"):
        _run(iemocap, tiny_encoders["wavlm"], tmp_path)


def test_skip_finished_leaves_a_finished_run_and_trains_a_longer_one(
    first_run, iemocap, tiny_encoders, tmp_path
):
    shutil.copytree(first_run[0], tmp_path, dirs_exist_ok=True)
    results = tmp_path / "run" / "results.json"
    before = results.stat().st_mtime_ns
    again = _run(
        iemocap,
        tiny_encoders["wavlm"],
        tmp_path,
        "--lr=0.001",
        "--skip_finished",
    )
    assert results.stat().st_mtime_ns == before
    assert again["identity"]["id"] == first_run[1]["identity"]["id"]
    _run(
        iemocap,
        tiny_encoders["wavlm"],
        tmp_path,
        "--lr=0.001",
        "--number_of_epochs=2",
        "--skip_finished",
    )
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert sorted(history) == ["1", "2"]
    assert results.stat().st_mtime_ns != before


def test_start_over_moves_the_old_run_aside(first_run, iemocap, tmp_path):
    out, results = first_run
    copy = tmp_path / "copy"
    shutil.copytree(out / "run", copy / "run")
    encoder = results["encoder"]
    retrained = _run(iemocap, encoder, copy, "--lr=0.05", "--start_over")
    assert retrained["experiment"]["settings"]["lr"] == 0.05
    (old,) = copy.glob("run.replaced-*")
    kept = json.loads((old / "results.json").read_text())
    assert kept["identity"] == results["identity"]


def test_stage_twos_from_different_parents_never_share_a_folder(
    small_corpora, tiny_encoders, tmp_path, monkeypatch
):
    """Stage two from each IEMOCAP fold: the default folder names the
    parent, so each gets its own; forced into one folder, the second
    parent is refused."""
    encoder = tiny_encoders["wavlm"]
    parents = {}
    for fold in (1, 2):
        out = tmp_path / f"stage1_fold{fold}"
        args = recipe_args(
            "IEMOCAP",
            "combo.yaml",
            small_corpora["IEMOCAP"],
            encoder,
            out,
            f"--fold={fold}",
        )
        run_recipe("IEMOCAP", *args, *QUICK)
        parents[fold] = out / "run"
    monkeypatch.chdir(tmp_path)

    def stage_two(fold, *extra):
        load_recipe("MSP-Podcast").main(
            [
                str(RECIPES / "MSP-Podcast/hparams/stage2_from_iemocap.yaml"),
                f"--data_folder={small_corpora['MSP-Podcast']}",
                f"--encoder_source={encoder}",
                f"--manifest_folder={tmp_path}/manifests_msp",
                f"--init_from={parents[fold]}",
                *QUICK,
                *extra,
            ]
        )

    for fold in (1, 2):
        stage_two(fold)
    folders = sorted(p.parent for p in Path("results").rglob(IDENTITY_FILE))
    assert [folder.parent.name for folder in folders] == [
        f"from_IEMOCAP_combo_fold{fold}_seed1986" for fold in (1, 2)
    ]
    with pytest.raises(RunMismatchError, match=r"parent: .* -> "):
        stage_two(1, f"--output_folder={folders[1]}")


def _settings(config, **run_opts):
    encoder = {"id": "enc", "revision": {"sha256": {"model": "ab"}}}
    options = numeric_run_options(run_opts, config)
    return experiment_settings(config, encoder, options)


def test_experiment_id_ignores_where_code_lives(tmp_path):
    """Moving a module (or building a bookkeeping object from another
    import path) keeps the id; another optimizer class, another precision
    or --debug changes it."""
    shared = LORA.with_name("train.yaml")
    text = shared.read_text()
    overrides = {"data_folder": "/corpora/IEMOCAP"}
    shutil.copy(config_source(LORA), tmp_path / LORA.name)

    def experiment_of(changed_text, **run_opts):
        (tmp_path / shared.name).write_text(changed_text)
        config = resolve_config(tmp_path / LORA.name, overrides)
        return experiment_id(_settings(config, **run_opts))

    plain = experiment_of(text)
    # Today's paths against those before the layout by role (still
    # importable).
    moved = text.replace(
        "speechbrain_peft.training.checkpointer.CrashSafeCheckpointer",
        "speechbrain_peft.checkpointer.CrashSafeCheckpointer",
    ).replace("speechbrain_peft.model.heads.", "speechbrain_peft.heads.")
    assert moved != text and experiment_of(moved) == plain
    logger = text.replace(
        "speechbrain.utils.train_logger.FileTrainLogger",
        "speechbrain.utils.train_logger.TensorboardLogger",
    )
    assert experiment_of(logger) == plain
    optimizer = text.replace("torch.optim.AdamW", "torch.optim.Adam")
    assert experiment_of(optimizer) != plain
    assert experiment_of(text, eval_precision="bf16") != plain
    assert experiment_of(text, debug=True) != plain
    assert experiment_of(text, grad_accumulation_factor=1) != plain


def test_old_runs_still_load_evaluate_and_aggregate(
    iemocap, tiny_encoders, tmp_path
):
    """A run folder written before run identities: the same logits from
    EmotionRecognizer as its own predictions, an evaluation of it, and
    its table row under its recorded experiment id."""
    run = tmp_path / "old"
    shutil.copytree(BEFORE, run)
    stored = json.loads((run / "results.json").read_text())
    recognizer = EmotionRecognizer.from_run(run, source=tiny_encoders["wavlm"])
    manifests = tmp_path / "manifests"
    prepare_iemocap(iemocap, manifests)
    test_csv = manifests / "fold1" / "test.csv"
    evaluation = evaluate_run(
        run,
        {"test": test_csv},
        tmp_path / "eval",
        corpus="IEMOCAP",
        data_root=iemocap,
        source=tiny_encoders["wavlm"],
    )
    assert evaluation["speaker_check"]["status"] == "disjoint"
    predictions = {
        row["id"]: row["scores"]
        for row in map(
            json.loads,
            (run / "predictions_test.jsonl").read_text().splitlines(),
        )
    }
    rows = (tmp_path / "eval" / "predictions_test.jsonl").read_text()
    for row in map(json.loads, rows.splitlines()):
        np.testing.assert_allclose(
            row["scores"], predictions[row["id"]], atol=1e-4
        )
    assert evaluation["splits"]["test"]["WA"] == stored["splits"]["test"]["WA"]
    assert recognizer.label_set == stored["label_set"]
    results, broken = load_results([run, tmp_path / "eval"])
    table = aggregate(results, n_boot=10)
    assert not broken
    assert stored["experiment"]["id"] == "4570a7c214c9"
    assert "4570a7c214c9" in set(table["experiment"])
    assert table["experiment"].nunique() == 2


def test_evaluate_refuses_speakers_the_run_trained_on(
    first_run, iemocap, tmp_path
):
    """A fold-1 run evaluated on fold 2's test speakers (it trained on
    Ses02_M; Ses02_F was its dev speaker) is refused, naming them;
    allowed, the result says so and is an experiment of its own."""
    out, results = first_run
    manifests = Path(results["manifests"]["test"]).parents[1]
    fold2 = {"test": manifests / "fold2" / "test.csv"}
    with pytest.raises(SpeakerLeakError, match=r"\(test: Ses02_M\)"):
        evaluate_run(
            out / "run",
            fold2,
            tmp_path / "leak",
            corpus="IEMOCAP",
            data_root=iemocap,
        )
    allowed = evaluate_run(
        out / "run",
        fold2,
        tmp_path / "leak",
        corpus="IEMOCAP",
        data_root=iemocap,
        allow_trained_speakers=True,
    )
    assert allowed["speaker_check"] == {
        "status": "trained speakers allowed",
        "overlap": {"test": ["Ses02_M"]},
    }
    # The command line, as documented.
    command = [
        str(out / "run"),
        "--manifest",
        f"test={fold2['test']}",
        "--out",
        str(tmp_path / "cli"),
        "--corpus",
        "IEMOCAP",
        "--data-root",
        str(iemocap),
        "--max-duration",
        "1.5",
    ]
    with pytest.raises(SpeakerLeakError, match="--allow-trained-speakers"):
        evaluate_main(command)
    assert evaluate_main([*command, "--allow-trained-speakers"]) == 0
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert cli["speaker_check"] == allowed["speaker_check"]
    assert cli["cropped"]["test"]["max_duration"] == 1.5
    own = evaluate_run(
        out / "run",
        {"test": results["manifests"]["test"]},
        tmp_path / "own",
        data_root=iemocap,
    )
    assert own["speaker_check"]["status"] == "disjoint"
    assert own["experiment"]["id"] != allowed["experiment"]["id"]


def test_evaluation_scores_whole_utterances(iemocap, tiny_encoders, tmp_path):
    """max_duration crops training only; an explicit evaluation crop is
    counted per split."""
    results = _run(
        iemocap, tiny_encoders["wavlm"], tmp_path, "--max_duration=1.2"
    )
    manifests = results["manifests"]
    durations = {
        split: pd.read_csv(path)["duration"]
        for split, path in manifests.items()
    }
    assert results["cropped"]["train"] == {
        "max_duration": 1.2,
        "utterances": int((durations["train"] > 1.2).sum()),
    }
    assert results["cropped"]["train"]["utterances"] > 0
    assert results["cropped"]["test"] == {"max_duration": None, "utterances": 0}
    whole = evaluate_run(
        tmp_path / "run",
        {"test": manifests["test"]},
        tmp_path / "whole",
        data_root=iemocap,
    )
    assert whole["splits"]["test"]["UA"] == results["splits"]["test"]["UA"]
    cropped = evaluate_run(
        tmp_path / "run",
        {"test": manifests["test"]},
        tmp_path / "cropped",
        data_root=iemocap,
        max_duration=1.2,
    )
    assert (
        cropped["cropped"]["test"]["utterances"]
        == int((durations["test"] > 1.2).sum())
        > 0
    )
    assert cropped["experiment"]["id"] != whole["experiment"]["id"]


def test_results_and_exports_record_the_library_versions(first_run, tmp_path):
    out, results = first_run
    expected = {
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
        "speechbrain": speechbrain.__version__,
    }
    for name, version in expected.items():
        assert results["software"][name].split("+")[0] == version
    assert results["software"]["peft"] is not None
    config = export_run(out / "run", tmp_path / "export")
    assert config[EXPORT_KEY]["software"] == results["software"]


def test_results_hold_scores_per_gender_and_speaker(first_run):
    """Each split's metrics give UA and WA per gender and per speaker of
    the split, and the female-minus-male gap, a metric the table shows."""
    _, results = first_run
    test = results["splits"]["test"]
    speakers = pd.read_csv(results["manifests"]["test"])["spk_id"]
    assert sorted(test["groups"]["speaker"]) == sorted(set(speakers))
    assert sum(s["n"] for s in test["groups"]["speaker"].values()) == test["n"]
    genders = test["groups"]["gender"]
    assert test["gender_gap"] == pytest.approx(
        genders["F"]["UA"] - genders["M"]["UA"]
    )
    table = aggregate([results], n_boot=10)
    assert "gender_gap" in set(table["metric"])
