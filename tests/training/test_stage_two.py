"""Two-stage acted-to-natural adaptation: stage two starts from the
stage-one weights, can freeze them and add adaptors, reports both domains,
records its parent, and refuses a stage-one run that does not fit.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json

import pytest
import torch
from recipe_runs import QUICK, RECIPES, recipe_args, run_recipe
from safetensors.torch import load_file

from speechbrain_peft.corpora.emodb import make_synthetic as make_emodb
from speechbrain_peft.corpora.iemocap import make_synthetic as make_iemocap
from speechbrain_peft.corpora.ravdess import make_synthetic as make_ravdess
from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.heads import EmotionHead
from speechbrain_peft.model.saved_tensors import (
    CheckpointMismatchError,
    load_trainable,
)
from speechbrain_peft.runs.artifact import read_run_config
from speechbrain_peft.runs.finished import FinishedRun
from speechbrain_peft.runs.speakers import SpeakerLeakError
from speechbrain_peft.synthetic.encoders import save_tiny_encoder
from speechbrain_peft.training.hparams import load_hparams
from speechbrain_peft.training.stage_two import init_from_run

STAGE1_ADAPTERS = "--adapters=[bottleneck, weighted_sum, gating]"


def finished_crema_d_run(corpora, encoders, out, yaml, *extra):
    """Run a CREMA-D recipe for one epoch; its run folder."""
    args = recipe_args(
        "CREMA-D", yaml, corpora["CREMA-D"], encoders["wavlm"], out, *extra
    )
    run_recipe("CREMA-D", *args, *QUICK)
    return out / "run"


@pytest.fixture(scope="module")
def stage_one(small_corpora, tiny_encoders, tmp_path_factory):
    """A finished CREMA-D run with BA + WS + WG (no LoRA)."""
    out = tmp_path_factory.mktemp("stage1")
    return finished_crema_d_run(
        small_corpora, tiny_encoders, out, "combo.yaml", STAGE1_ADAPTERS
    )


def stage_two_args(small_corpora, encoder, stage_one, out, *extra):
    return recipe_args(
        "MSP-Podcast",
        "stage2_from_crema_d.yaml",
        small_corpora["MSP-Podcast"],
        encoder,
        out,
        f"--init_from={stage_one}",
        *extra,
    )


def load_run(run_dir):
    """The stage-one model exactly as its artifact stores it."""
    config = read_run_config(run_dir)
    encoder = PEFTEncoder(**config["encoder"])
    head = EmotionHead(**config["head"])
    modules = torch.nn.ModuleDict({"encoder": encoder, "head": head})
    load_trainable(modules, run_dir / "adapters.safetensors")
    return encoder.eval(), head.eval(), config


def test_stage_two_starts_from_stage_one_predictions(
    stage_one, small_corpora, tiny_encoders, tmp_path
):
    encoder1, head1, config1 = load_run(stage_one)
    args = stage_two_args(
        small_corpora, tiny_encoders["wavlm"], stage_one, tmp_path
    )
    overrides = {a.split("=")[0][2:]: a.split("=", 1)[1] for a in args[1:]}
    overrides["label_map"] = {"ang": "ang", "neu": "neu", "sad": "sad"}
    overrides["parent_name"] = "crema_d"
    hparams = load_hparams(args[0], overrides)
    encoder2 = hparams["encoder"]
    labels2 = hparams["label_set"]
    head2 = hparams["head"](input_size=encoder2.output_size, n_outputs=8)
    fresh_rows = head2.mlp[-1].weight.detach().clone()
    init_from_run(
        FinishedRun.read(stage_one),
        encoder2,
        head2,
        overrides["label_map"],
        labels2,
    )
    encoder2.eval()
    head2.eval()

    torch.manual_seed(0)
    wav, lens = torch.randn(3, 12000), torch.tensor([1.0, 0.8, 0.5])
    with torch.no_grad():
        logits1 = head1(*encoder1(wav, lens))
        logits2 = head2(*encoder2(wav, lens))
    for label in overrides["label_map"]:
        torch.testing.assert_close(
            logits2[:, labels2.index(label)],
            logits1[:, config1["label_set"].index(label)],
            atol=1e-5,
            rtol=0,
        )
    # Classes with no stage-one counterpart keep their fresh output rows.
    for label in set(labels2) - set(overrides["label_map"]):
        row = labels2.index(label)
        assert torch.equal(head2.mlp[-1].weight[row], fresh_rows[row])


def test_frozen_stage_one_with_new_lora_reports_both_domains(
    stage_one, small_corpora, tiny_encoders, tmp_path
):
    args = stage_two_args(
        small_corpora,
        tiny_encoders["wavlm"],
        stage_one,
        tmp_path,
        "--freeze_stage1=True",
    )
    results = run_recipe("MSP-Podcast", *args, *QUICK)

    stage1 = load_file(stage_one / "adapters.safetensors")
    stage2 = load_file(tmp_path / "run" / "adapters.safetensors")
    stage1_encoder = [k for k in stage1 if k.startswith("encoder.")]
    assert stage1_encoder
    for name in stage1_encoder:
        assert torch.equal(stage1[name], stage2[name]), f"{name} changed"
    lora = [k for k in stage2 if "lora_B" in k]
    assert lora and all(stage2[k].abs().sum() > 0 for k in lora)

    parent = results["parent_run"]
    assert parent["path"] == str(stage_one.resolve())
    assert len(parent["sha256"]) == 64 and parent["frozen"] is True
    assert parent["run_info"]["corpus"] == "CREMA-D"
    assert "source_test" in results["splits"]
    assert "test1" in results["splits"] and "dev" in results["splits"]
    # The source test set is relabelled into this run's label set.
    source = results["splits"]["source_test"]
    assert len(source["confusion"]) == len(results["label_set"])
    artifact = json.loads((tmp_path / "run" / "run.json").read_text())
    assert artifact["run_info"]["parent_run"]["sha256"] == parent["sha256"]


def test_mismatched_stage_one_names_both_configurations(
    stage_one, small_corpora, tiny_encoders, tmp_path
):
    narrow = save_tiny_encoder("wavlm", tmp_path / "narrow", hidden_size=32)
    args = stage_two_args(small_corpora, narrow, stage_one, tmp_path)
    with pytest.raises(CheckpointMismatchError) as error:
        run_recipe("MSP-Podcast", *args, *QUICK)
    message = str(error.value)
    assert "hidden_size: 64 vs 32" in message
    assert "stage one:" in message and "this run:" in message

    args = stage_two_args(
        small_corpora,
        tiny_encoders["wavlm"],
        stage_one,
        tmp_path / "other",
        "--adapters=[lora]",
    )
    with pytest.raises(CheckpointMismatchError, match="bottleneck missing"):
        run_recipe("MSP-Podcast", *args, *QUICK)

    args = stage_two_args(
        small_corpora,
        tiny_encoders["wavlm"],
        stage_one,
        tmp_path / "linear",
        "--head={hidden_size: null}",
    )
    with pytest.raises(CheckpointMismatchError) as error:
        run_recipe("MSP-Podcast", *args, *QUICK)
    assert "head hidden_size: " in str(error.value)
    assert " vs None" in str(error.value)


def test_stage_two_yamls_name_their_parent():
    for path in RECIPES.glob("*/hparams/stage2_*.yaml"):
        text = path.read_text()
        assert "init_from: !PLACEHOLDER" in text, path
        assert "label_map:" in text, path


@pytest.fixture(scope="module")
def lora_stage_one(small_corpora, tiny_encoders, tmp_path_factory):
    """A finished CREMA-D run with LoRA only."""
    out = tmp_path_factory.mktemp("stage1_lora")
    return finished_crema_d_run(small_corpora, tiny_encoders, out, "lora.yaml")


def test_stage_two_decides_per_adaptor_loaded_or_fresh_trained_or_frozen(
    lora_stage_one, small_corpora, tiny_encoders, tmp_path
):
    args = stage_two_args(
        small_corpora,
        tiny_encoders["wavlm"],
        lora_stage_one,
        tmp_path,
        "--adapters=[lora, bottleneck]",
        "--freeze_stage1=[lora]",
    )
    results = run_recipe("MSP-Podcast", *args, *QUICK)

    table = {row["adaptor"]: row for row in results["parent_run"]["adaptors"]}
    assert set(table) == {"lora", "bottleneck", "head"}
    assert (table["lora"]["stage_one"], table["lora"]["stage_two"]) == (
        "loaded",
        "frozen",
    )
    assert (
        table["bottleneck"]["stage_one"],
        table["bottleneck"]["stage_two"],
    ) == ("fresh", "trained")
    assert table["head"]["stage_one"] == "loaded"
    assert results["parent_run"]["frozen_adaptors"] == ["lora"]
    # 2 layers x (q, k, v) x rank 8 x (64 + 64) inputs and outputs.
    assert table["lora"]["parameters"] == 2 * 3 * 8 * 128
    logged = (tmp_path / "run" / "log.txt").read_text()
    assert "bottleneck  fresh      trained" in logged
    assert "lora        loaded     frozen" in logged

    stage1 = load_file(lora_stage_one / "adapters.safetensors")
    stage2 = load_file(tmp_path / "run" / "adapters.safetensors")
    lora = [k for k in stage1 if "lora_" in k]
    assert lora and all(torch.equal(stage1[k], stage2[k]) for k in lora)
    bottleneck_up = [k for k in stage2 if "adapter_bottleneck.up" in k]
    assert bottleneck_up and all(
        stage2[k].abs().sum() > 0 for k in bottleneck_up
    )


def test_freezing_an_adaptor_stage_one_lacks_is_refused(
    lora_stage_one, small_corpora, tiny_encoders, tmp_path
):
    args = stage_two_args(
        small_corpora,
        tiny_encoders["wavlm"],
        lora_stage_one,
        tmp_path,
        "--adapters=[lora, bottleneck]",
        "--freeze_stage1=[bottleneck]",
    )
    with pytest.raises(
        ValueError, match=r"freeze_stage1 names \['bottleneck'\]"
    ):
        run_recipe("MSP-Podcast", *args, *QUICK)


@pytest.fixture(scope="module")
def iemocap_scripted(tiny_encoders, tmp_path_factory):
    """An IEMOCAP whose scripted and improvised dialogs both hold every
    class, and a scripted stage-one run of fold 1."""
    root = tmp_path_factory.mktemp("iemocap_si")
    data = make_iemocap(
        root / "IEMOCAP_full_release", utts_per_speaker=16, max_dur=1.5
    )["root"]
    args = recipe_args(
        "IEMOCAP",
        "combo.yaml",
        data,
        tiny_encoders["wavlm"],
        root / "stage1",
        "--subset=scripted",
        "--fold=1",
    )
    run_recipe("IEMOCAP", *args, *QUICK)
    return data, root / "stage1" / "run"


def test_stage_two_on_speakers_stage_one_trained_on_is_refused(
    iemocap_scripted, tiny_encoders, tmp_path
):
    data, stage_one = iemocap_scripted
    improvised = recipe_args(
        "IEMOCAP",
        "stage2_improvised.yaml",
        data,
        tiny_encoders["wavlm"],
        tmp_path / "fold2",
        f"--init_from={stage_one}",
        "--fold=2",
    )
    with pytest.raises(SpeakerLeakError) as error:
        run_recipe("IEMOCAP", *improvised, *QUICK)
    message = str(error.value)
    # Fold 2 tests on session 2 and develops on Ses03_M; fold 1's stage
    # one trained on both but Ses02_F (its dev speaker).
    assert "test: Ses02_M" in message and "Ses02_F" not in message
    assert "dev: Ses03_M" in message
    assert "fold 2" in message
    assert not (tmp_path / "fold2" / "run" / "results.json").exists()

    matching = recipe_args(
        "IEMOCAP",
        "stage2_improvised.yaml",
        data,
        tiny_encoders["wavlm"],
        tmp_path / "fold1",
        f"--init_from={stage_one}",
        "--fold=1",
    )
    results = run_recipe("IEMOCAP", *matching, *QUICK)
    assert results["parent_run"]["path"] == str(stage_one.resolve())
    speakers = json.loads(
        (tmp_path / "fold1" / "run" / "speakers.json").read_text()
    )
    assert speakers["splits"]["test"] == ["Ses01_F", "Ses01_M"]
    assert len(speakers["trained_on"]) == 2
    assert all(s["corpus"] == "IEMOCAP" for s in speakers["trained_on"])


def test_any_two_corpora_chain_through_their_shared_classes(
    tiny_encoders, tmp_path
):
    """RAVDESS (eight classes) -> EmoDB (seven) with stage2.yaml's
    label_map: null: the six classes both hold map to themselves, the
    source test's calm and surprised are left out and counted."""
    ravdess = make_ravdess(
        tmp_path / "RAVDESS",
        n_actors=6,
        statements=("01",),
        repetitions=("01",),
        song=False,
        min_dur=0.4,
        max_dur=0.6,
    )
    emodb = make_emodb(
        tmp_path / "EmoDB", texts=("a01",), min_dur=0.4, max_dur=0.6
    )
    encoder = tiny_encoders["wavlm"]
    one = recipe_args(
        "RAVDESS", "combo.yaml", ravdess["root"], encoder, tmp_path / "one"
    )
    run_recipe("RAVDESS", *one, *QUICK)
    two = recipe_args(
        "EmoDB",
        "stage2.yaml",
        emodb["root"],
        encoder,
        tmp_path / "two",
        f"--init_from={tmp_path / 'one' / 'run'}",
    )
    results = run_recipe("EmoDB", *two, *QUICK)
    shared = ["neu", "hap", "sad", "ang", "fea", "dis"]
    assert results["parent_run"]["label_map"] == {c: c for c in shared}
    one_results = json.loads(
        (tmp_path / "one" / "run" / "results.json").read_text()
    )
    left_out = results["left_out"]["source_test"]
    # Each of the stage-one test actors spoke calm and surprised twice.
    assert left_out == {"cal": 2 * 2, "sur": 2 * 2}
    assert results["splits"]["source_test"]["n"] == (
        one_results["splits"]["test"]["n"] - sum(left_out.values())
    )
    assert results["fold"] == 1 and "test" in results["splits"]
