"""Mistakes get one clear line and lose nothing: encoder paths checked
before any download, our own errors end every command in one ``error:``
line (a traceback only on request or for a bug), broken checkpoints and
audio are named with what to do, and everything written is readable
under the umask.

Authors
 * speechbrain-peft-ser developers 2026
"""

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from recipe_runs import QUICK, REPO, load_recipe, recipe_args

from speechbrain_peft.corpora.iemocap import make_synthetic as make_iemocap
from speechbrain_peft.corpora.iemocap import prepare_iemocap
from speechbrain_peft.export import export_run
from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.pretrained import EncoderSourceError, check_source
from speechbrain_peft.utils.errors import TRACEBACK_VARIABLE, run_command

# ---- 1. Encoder sources ------------------------------------------------------


def test_a_missing_encoder_folder_is_refused_naming_it(tmp_path):
    for given in (tmp_path / "wavlm", "./models/wavlm", "a/b/wavlm"):
        with pytest.raises(EncoderSourceError, match="does not exist"):
            check_source(given)
    with pytest.raises(EncoderSourceError) as error:
        PEFTEncoder(str(tmp_path / "wavlm"))
    assert str(tmp_path / "wavlm") in str(error.value)


def test_an_unreachable_hub_id_says_how_to_use_a_local_copy(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderSourceError) as error:
        PEFTEncoder("models/wavlm-never-seen")
    message = str(error.value)
    assert "'models/wavlm-never-seen'" in message
    assert "--local-dir" in message and "HF_HUB_OFFLINE=1" in message


def test_a_folder_that_is_not_a_model_is_named(tmp_path):
    with pytest.raises(EncoderSourceError, match="not a transformers model"):
        PEFTEncoder(str(tmp_path))


# ---- 2. One line per error ---------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A small IEMOCAP, prepared: ``(corpus folder, manifest folder)``."""
    root = tmp_path_factory.mktemp("errors")
    corpus = make_iemocap(root / "IEMOCAP", 2, min_dur=0.3, max_dur=0.5)
    prepare_iemocap(corpus["root"], root / "manifests")
    return corpus["root"], root / "manifests"


def _fold1_wav(prepared, split, row=0):
    corpus, manifests = prepared
    frame = pd.read_csv(manifests / "fold1" / f"{split}.csv")
    return Path(frame["wav"][row].replace("$data_root", corpus))


def _run_command(args, capsys):
    """A recipe's command in this process: exit status and stderr."""
    # SpeechBrain's log handlers keep the stderr of the test that set them
    # up; point them at this test's (one run per process needs none of it).
    for handler in logging.getLogger().handlers:
        if type(handler).__module__.startswith("speechbrain"):
            handler.stream = sys.stderr
    with pytest.raises(SystemExit) as stop:
        run_command(load_recipe("IEMOCAP").main, args)
    return stop.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--adapters=[lora, prompt]"], "Unknown adaptor 'prompt'"),
        (["--lr_rate=0.1"], "--lr_rate is not a setting"),
        (["--init_from=/no/run/here"], "is not a finished run"),
        (["--freeze_stage1=[lora]"], "--freeze_stage1 is not a setting"),
    ],
    ids=["unknown-adaptor", "override-typo", "not-a-run", "stage-one-key"],
)
def test_recipe_mistakes_end_in_one_line(
    extra, expected, prepared, tiny_encoders, tmp_path, capsys
):
    corpus, _ = prepared
    args = recipe_args(
        "IEMOCAP", "lora.yaml", corpus, tiny_encoders["wavlm"], tmp_path
    )
    if "--init_from" in extra[0]:
        args[0] = str(Path(args[0]).with_name("stage2_improvised.yaml"))
    status, err = _run_command([*args, *extra, *QUICK], capsys)
    assert status == 1
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], err


def test_broken_audio_ends_in_one_error_naming_the_files(
    prepared, tiny_encoders, tmp_path, capsys
):
    """NaN samples in a float file of the test split and a file gone from
    the train split: both found before training, in one error."""
    corpus, manifests = prepared
    nan_file = _fold1_wav(prepared, "test")
    original = nan_file.read_bytes()
    gone = _fold1_wav(prepared, "train")
    kept = gone.read_bytes()
    audio = np.full(1600, 0.1, dtype="float32")
    audio[5] = np.nan
    try:
        sf.write(nan_file, audio, 16000, subtype="FLOAT")
        gone.unlink()
        args = recipe_args(
            "IEMOCAP", "lora.yaml", corpus, tiny_encoders["wavlm"], tmp_path
        )
        args[-1] = f"--manifest_folder={manifests}"
        status, err = _run_command([*args, *QUICK], capsys)
    finally:
        nan_file.write_bytes(original)
        gone.write_bytes(kept)
    assert status == 1 and "Traceback" not in err
    assert f"{nan_file}: NaN or infinite samples" in err
    assert f"{gone}: missing" in err
    assert not list((tmp_path / "run" / "save").glob("CKPT*"))


def test_the_traceback_of_our_errors_is_behind_a_switch(
    prepared, tiny_encoders, tmp_path, capsys, monkeypatch
):
    corpus, _ = prepared
    args = recipe_args(
        "IEMOCAP", "lora.yaml", corpus, tiny_encoders["wavlm"], tmp_path
    )
    monkeypatch.setenv(TRACEBACK_VARIABLE, "1")
    status, err = _run_command([*args, "--adapters=[prompt]"], capsys)
    assert status == 1 and "Traceback" in err
    assert err.rstrip().splitlines()[-1].startswith("error: Unknown adaptor")


def test_the_real_commands_end_our_errors_in_one_line(
    prepared, tiny_encoders, tmp_path
):
    corpus, manifests = prepared
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    recipe = [
        sys.executable,
        "recipes/IEMOCAP/train.py",
        "hparams/lora.yaml",
        f"--data_folder={corpus}",
        f"--encoder_source={tiny_encoders['wavlm']}",
        f"--output_folder={tmp_path / 'run'}",
        "--lora_rnk=4",
    ]
    evaluate = [
        sys.executable,
        "-m",
        "speechbrain_peft.evaluate",
        str(tmp_path / "not_a_run"),
        f"--manifest=test={manifests / 'fold1' / 'test.csv'}",
        f"--out={tmp_path / 'eval'}",
    ]
    for command, expected in (
        (recipe, "--lora_rnk is not a setting"),
        (evaluate, "is not a finished run"),
    ):
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True
        )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        last = done.stderr.rstrip().splitlines()[-1]
        assert last.startswith("error: ") and expected in last, last


# ---- 5. Readable outputs -----------------------------------------------------


def test_everything_written_honours_the_umask(
    prepared, tiny_encoders, tmp_path
):
    corpus, _ = prepared
    previous = os.umask(0o022)
    try:
        args = recipe_args(
            "IEMOCAP", "lora.yaml", corpus, tiny_encoders["wavlm"], tmp_path
        )
        load_recipe("IEMOCAP").main([*args, *QUICK])
        export_run(tmp_path / "run", tmp_path / "merged", merge=True)
    finally:
        os.umask(previous)
    written = [
        path
        for folder in ("manifests", "run", "merged")
        for path in (tmp_path / folder).rglob("*")
        if path.is_file()
    ]
    names = {path.name for path in written}
    for name in (
        "prep_info.json",
        "train.csv",
        "adapters.safetensors",
        "encoder.ckpt",
        "model.safetensors",
        "results.json",
        "run_identity.json",
        "hyperparams.yaml",
    ):
        assert name in names, name
    modes = {str(path): oct(path.stat().st_mode & 0o777) for path in written}
    assert set(modes.values()) == {"0o644"}, modes
