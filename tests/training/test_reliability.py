"""Reliability on synthetic data and tiny local encoders: awkward and broken
audio, configuration mistakes, non-finite losses, determinism, runs killed
mid-epoch and corrupt checkpoints.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import logging
import math
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import torchaudio
import yaml
from recipe_runs import (
    REPO,
    load_recipe,
    recipe_args,
    run_recipe,
    start_recipe,
)
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.checkpoints import (
    Checkpointer,
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)

from speechbrain_peft.corpora.iemocap import make_synthetic as make_iemocap
from speechbrain_peft.corpora.iemocap import prepare_iemocap
from speechbrain_peft.data.datasets import (
    MIN_SAMPLES,
    AudioReader,
    ManifestError,
    create_datasets,
    make_label_encoder,
)
from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.heads import EmotionHead
from speechbrain_peft.model.saved_tensors import CheckpointMismatchError
from speechbrain_peft.training.brain import (
    EmotionBrain,
    NonFiniteLossError,
    recover_with_fallback,
)
from speechbrain_peft.training.checkpointer import CrashSafeCheckpointer

RATE = 16000
ALL_ADAPTORS = ["lora", "bottleneck", "weighted_sum", "gating"]


def _tone(seconds, rate=RATE):
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype("float32")


def _write(path, audio, rate=RATE, subtype=None):
    sf.write(path, audio, rate, subtype=subtype)
    return str(path)


def _dominant_hz(signal, rate=RATE):
    spectrum = np.abs(np.fft.rfft(signal.numpy()))
    return np.fft.rfftfreq(len(signal), 1 / rate)[spectrum.argmax()]


def _messages(caplog):
    return [record.getMessage() for record in caplog.records]


# ---- 1. Audio edge cases ---------------------------------------------------


def test_stereo_is_averaged_to_mono_and_logged_once(tmp_path, caplog):
    left = _tone(0.5)
    stereo = np.stack([left, 0.5 * left], axis=1)
    path = _write(tmp_path / "stereo.wav", stereo, subtype="FLOAT")
    reader = AudioReader()
    with caplog.at_level(
        logging.WARNING, logger="speechbrain_peft.data.datasets"
    ):
        signal = reader(path)
        reader(path)
    assert signal.shape == (8000,)
    np.testing.assert_allclose(signal.numpy(), 0.75 * left, atol=1e-6)
    logged = [m for m in _messages(caplog) if "averaged to mono" in m]
    assert len(logged) == 1 and "2 channels" in logged[0]


@pytest.mark.parametrize("rate", [44100, 8000])
def test_other_rates_are_resampled_and_logged(rate, tmp_path, caplog):
    path = _write(tmp_path / f"{rate}.wav", _tone(0.5, rate), rate)
    with caplog.at_level(
        logging.WARNING, logger="speechbrain_peft.data.datasets"
    ):
        signal = AudioReader(RATE)(path)
    assert abs(signal.numel() - 8000) <= 1
    assert abs(_dominant_hz(signal) - 220.0) < 5.0  # same pitch, new rate
    assert f"Resampling {rate} Hz audio to 16000 Hz (first: {path})" in (
        _messages(caplog)
    )


def test_long_audio_is_cropped_to_max_duration(tmp_path, caplog):
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 3 * 44100)
    path = _write(tmp_path / "long.wav", audio.astype("float32"), 44100)
    reader = AudioReader(RATE, max_duration=1.0)
    with caplog.at_level(
        logging.WARNING, logger="speechbrain_peft.data.datasets"
    ):
        signal = reader(path)
    assert signal.numel() == RATE
    # What the file holds (16-bit quantized), not the float source.
    stored, _ = sf.read(path, dtype="float32")
    start = torchaudio.functional.resample(
        torch.from_numpy(stored[:44100]), 44100, RATE
    )
    torch.testing.assert_close(signal[:8000], start[:8000])
    assert any(
        f"Cropping {path} (3.00 s) to its first max_duration = 1.0 s" in m
        for m in _messages(caplog)
    )


def test_very_short_audio_is_zero_padded_to_one_frame(tmp_path, tiny_encoders):
    audio = _tone(100 / RATE)
    signal = AudioReader()(
        _write(tmp_path / "short.wav", audio, subtype="FLOAT")
    )
    assert signal.numel() == MIN_SAMPLES
    torch.testing.assert_close(signal[:100], torch.from_numpy(audio))
    assert not signal[100:].any()
    encoder = PEFTEncoder(str(tiny_encoders["wavlm"]), adapters=ALL_ADAPTORS)
    feats, lens = encoder(signal[None], torch.ones(1))
    assert feats.shape[1] == 1 and lens.item() == 1.0
    assert torch.isfinite(feats).all()


def test_nan_or_infinite_samples_name_the_file(tmp_path):
    for value in (float("nan"), float("inf")):
        audio = _tone(0.1)
        audio[10] = value
        path = _write(tmp_path / f"{value}.wav", audio, subtype="FLOAT")
        with pytest.raises(ManifestError, match="NaN or infinite") as error:
            AudioReader()(path)
        assert path in str(error.value)


def test_silent_clipped_and_short_audio_train_with_finite_gradients(
    encoder_kind, tiny_encoders, tmp_path
):
    """Through the real reader, every adaptor, the head and the loss."""
    loud = np.clip(8.0 * _tone(0.5), -1.0, 1.0)
    files = {
        "silent": _write(tmp_path / "silent.wav", np.zeros(8000, "float32")),
        "clipped": _write(tmp_path / "clipped.wav", loud),
        "short": _write(tmp_path / "short.wav", _tone(0.005)),
    }
    reader = AudioReader()
    batch = PaddedBatch(
        [{"id": k, "sig": reader(path)} for k, path in files.items()]
    )
    assert reader(files["clipped"]).abs().max() <= 1.0
    encoder = PEFTEncoder(
        str(tiny_encoders[encoder_kind]), adapters=ALL_ADAPTORS
    )
    head = EmotionHead(encoder.output_size, n_outputs=2)
    encoder.train()
    feats, lens = encoder(*batch.sig)
    assert torch.isfinite(feats).all() and (lens > 0).all()
    loss = torch.nn.functional.cross_entropy(
        head(feats, lens), torch.tensor([0, 1, 0])
    )
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in encoder.parameters() if p.requires_grad]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def _broken_files(folder):
    """Each kind of unusable file, with why it must be rejected."""
    good = _write(folder / "good.wav", _tone(1.0))
    data = Path(good).read_bytes()
    _write(folder / "full.flac", _tone(1.0))
    flac = (folder / "full.flac").read_bytes()
    broken = {
        "empty.wav": (b"", "empty (0 bytes)"),
        "header_cut.wav": (data[:20], "unreadable audio header"),
        "data_cut.wav": (data[: len(data) // 2], "the manifest says 1.00 s"),
        "cut.flac": (flac[: len(flac) // 2], "truncated"),
    }
    for name, (content, _) in broken.items():
        (folder / name).write_bytes(content)
    problems = {str(folder / n): why for n, (_, why) in broken.items()}
    problems[str(folder / "missing.wav")] = "missing"
    return good, problems


def _manifest(path, wavs, **columns):
    frame = pd.DataFrame(
        {
            "ID": [f"u{i}" for i in range(len(wavs))],
            "duration": 1.0,
            "wav": wavs,
            "spk_id": "s1",
            "emo": "neu",
            **columns,
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_broken_audio_files_are_all_named_before_training(tmp_path):
    good, problems = _broken_files(tmp_path)
    csv = _manifest(tmp_path / "train.csv", [good, *problems])
    with pytest.raises(ManifestError, match="5 audio file") as error:
        create_datasets(
            {"train": csv}, "categorical", make_label_encoder(["neu"])
        )
    message = str(error.value)
    for path, why in problems.items():
        line = next(
            x for x in message.splitlines() if x.strip().startswith(path)
        )
        assert why in line, line
    assert good not in message


def test_recipe_stops_on_files_broken_after_data_prep(tiny_encoders, tmp_path):
    """The data prep already ran (and is reused), then files broke: the
    recipe names them before any training step or checkpoint."""
    corpus = make_iemocap(tmp_path / "IEMOCAP", 2, min_dur=0.3, max_dur=0.5)
    manifests = tmp_path / "manifests"
    prepare_iemocap(corpus["root"], manifests)
    train = pd.read_csv(manifests / "fold1" / "train.csv")
    wavs = [w.replace("$data_root", corpus["root"]) for w in train["wav"][:2]]
    Path(wavs[0]).write_bytes(b"")
    Path(wavs[1]).write_bytes(Path(wavs[1]).read_bytes()[:2000])

    args = recipe_args(
        "IEMOCAP", "lora.yaml", corpus["root"], tiny_encoders["wavlm"], tmp_path
    )
    with pytest.raises(ManifestError, match="2 audio file") as error:
        run_recipe("IEMOCAP", *args, "--noprogressbar")
    assert wavs[0] in str(error.value) and wavs[1] in str(error.value)
    assert not list((tmp_path / "run" / "save").glob("CKPT*"))


# ---- 2. Configuration mistakes ---------------------------------------------


@pytest.fixture(scope="module")
def edge_iemocap(tmp_path_factory):
    """A tiny IEMOCAP whose files include every awkward kind of audio."""
    info = make_iemocap(
        tmp_path_factory.mktemp("edge") / "IEMOCAP", 2, min_dur=0.3, max_dur=0.6
    )
    frame = info["utterances"].sort_values("id")
    usable = frame[frame["label"].isin(["neu", "hap", "exc", "ang", "sad"])]
    edits = {
        "stereo": lambda x: (np.stack([x, 0.5 * x], axis=1), RATE),
        "44k": lambda x: (_resampled(x, 44100), 44100),
        "8k": lambda x: (_resampled(x, 8000), 8000),
        "short": lambda x: (x[:100], RATE),
        "long": lambda x: (np.resize(x, 3 * RATE), RATE),
        "silent": lambda x: (np.zeros_like(x), RATE),
        "clipped": lambda x: (np.clip(8.0 * x, -1.0, 1.0), RATE),
    }
    for path, edit in zip(usable["path"], edits.values()):
        audio, rate = edit(sf.read(path, dtype="float32")[0])
        sf.write(path, audio, rate)
    return info["root"]


def _resampled(audio, rate):
    tensor = torch.from_numpy(audio)
    return torchaudio.functional.resample(tensor, RATE, rate).numpy()


@pytest.mark.parametrize(
    "override,error,message",
    [
        (
            "--lora_targets=[q_prj]",
            ValueError,
            r"\['q_prj'\] match no linear.*Available names: "
            r".*'attention.q_proj'",
        ),
        ("--adapters=lora", TypeError, "must be a list, e.g. \\[lora\\]"),
        ("--task=categorial", ValueError, "categorical or dimensional"),
        (
            "--label_set=[neu, hap, ang, sadness]",
            ManifestError,
            r"labels outside the run's label set .*'sad'",
        ),
    ],
    ids=["lora-target", "adapters-string", "task", "label-set"],
)
def test_config_mistakes_get_a_clear_message_from_our_code(
    override, error, message, edge_iemocap, tiny_encoders, tmp_path
):
    args = recipe_args(
        "IEMOCAP",
        "lora.yaml",
        edge_iemocap,
        tiny_encoders["wavlm"],
        tmp_path,
        override,
    )
    with pytest.raises(error, match=message) as raised:
        load_recipe("IEMOCAP").main(args)
    # Raised where the mistake is understood, not deep inside SpeechBrain.
    package = REPO / "speechbrain_peft"
    assert Path(raised.traceback[-1].path).is_relative_to(package)


def test_manifest_missing_columns_are_listed(tmp_path):
    csv = tmp_path / "train.csv"
    pd.DataFrame({"ID": ["a"], "wav": ["a.wav"], "duration": [1.0]}).to_csv(
        csv, index=False
    )
    with pytest.raises(ManifestError, match=r"lacks column\(s\)") as error:
        create_datasets(
            {"train": csv}, "categorical", make_label_encoder(["x"])
        )
    assert "['spk_id', 'emo']" in str(error.value)
    assert "['ID', 'wav', 'duration']" in str(error.value)
    with pytest.raises(ManifestError, match="'arousal', 'valence'"):
        create_datasets({"train": csv}, "dimensional", dimension_scale=(1, 5))


def test_duplicate_ids_are_refused_naming_them(tmp_path):
    """A dict keyed by ID would drop a duplicate row and shift every label
    after it; the manifest is refused instead."""
    wavs = []
    for index in range(4):
        wavs.append(tmp_path / f"{index}.wav")
        sf.write(wavs[-1], np.zeros(1600, dtype="float32"), 16000)
    rows = ["ID,duration,wav,spk_id,emo"]
    rows += [
        f"u{i},0.1,{wav},s,{emo}"
        for i, (wav, emo) in enumerate(zip(wavs, ["neu", "ang", "sad", "hap"]))
    ]
    rows.append(f"u1,0.1,{wavs[3]},s,hap")
    csv = tmp_path / "handwritten.csv"
    csv.write_text("\n".join(rows) + "\n")
    encoder = make_label_encoder(["neu", "hap", "ang", "sad"])
    with pytest.raises(ManifestError, match=r"more than once: \['u1'\]"):
        create_datasets({"test": csv}, "categorical", encoder)


# ---- 3. Non-finite losses --------------------------------------------------


def _brain(encoder_path, tmp_path, **run_opts):
    torch.manual_seed(0)
    encoder = PEFTEncoder(str(encoder_path), adapters=["lora"])
    head = EmotionHead(encoder.output_size, n_outputs=2)
    brain = EmotionBrain(
        modules={"encoder": encoder, "head": head},
        opt_class=lambda params: torch.optim.AdamW(params, lr=0.01),
        hparams={"task": "categorical", "output_folder": str(tmp_path)},
        run_opts={"device": "cpu", "max_grad_norm": 1.0, **run_opts},
    )
    brain.init_optimizers()
    # No dropout: two brains given the same batches must update alike.
    brain.modules.eval()
    return brain


def _batch(seed):
    generator = torch.Generator().manual_seed(seed)
    return PaddedBatch(
        [
            {
                "id": f"u{i}",
                "sig": torch.randn(1600, generator=generator),
                "target_tensor": torch.tensor([i]),
            }
            for i in range(2)
        ]
    )


class Poison:
    """Makes a head return NaN while ``on``."""

    def __init__(self, monkeypatch, head):
        self.on = False
        self.forward = head.forward
        monkeypatch.setattr(head, "forward", self)

    def __call__(self, feats, lengths):
        out = self.forward(feats, lengths)
        return out * float("nan") if self.on else out


def _trainable(brain):
    return {
        name: p.detach().clone()
        for name, p in brain.modules.named_parameters()
        if p.requires_grad
    }


def _step(brain, seed):
    brain.step += 1  # as SpeechBrain's epoch loop does
    return brain.fit_batch(_batch(seed))


def _same(a, b):
    return all(torch.equal(a[name], b[name]) for name in a)


def test_nonfinite_loss_skips_the_step_and_is_counted(
    tiny_encoders, tmp_path, monkeypatch, caplog
):
    brain = _brain(tiny_encoders["wavlm"], tmp_path)
    poison = Poison(monkeypatch, brain.modules.head)
    before = _trainable(brain)

    poison.on = True
    with caplog.at_level(
        logging.WARNING, logger="speechbrain_peft.training.brain"
    ):
        assert not torch.isfinite(_step(brain, 0))
    assert _same(before, _trainable(brain))  # nothing updated
    assert not brain.optimizer.state and brain.optimizer_step == 0
    assert all(p.grad is None for p in brain.modules.parameters())
    assert brain.skipped_steps == 1 and brain.nonfinite_streak == 1
    assert any("step is skipped (1 in a row" in m for m in _messages(caplog))

    poison.on = False
    assert torch.isfinite(_step(brain, 1))
    after = _trainable(brain)
    assert not _same(before, after) and brain.optimizer_step == 1
    assert all(torch.isfinite(p).all() for p in after.values())
    assert brain.nonfinite_streak == 0 and brain.skipped_steps == 1


def test_nonfinite_loss_drops_its_whole_accumulation_window(
    tiny_encoders, tmp_path, monkeypatch
):
    """Window 1 (a finite batch, then a NaN one) changes nothing; window 2
    then updates exactly as it would on a fresh model."""
    brain = _brain(tiny_encoders["wavlm"], tmp_path, grad_accumulation_factor=2)
    poison = Poison(monkeypatch, brain.modules.head)
    before = _trainable(brain)
    _step(brain, 0)
    poison.on = True
    _step(brain, 1)
    assert _same(before, _trainable(brain)) and brain.optimizer_step == 0
    poison.on = False
    _step(brain, 2)
    _step(brain, 3)

    fresh = _brain(tiny_encoders["wavlm"], tmp_path, grad_accumulation_factor=2)
    assert _same(before, _trainable(fresh))
    _step(fresh, 2)
    _step(fresh, 3)
    expected, got = _trainable(fresh), _trainable(brain)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name])
    assert brain.optimizer_step == fresh.optimizer_step == 1


def test_too_many_nonfinite_losses_in_a_row_stop_and_name_the_lr(
    tiny_encoders, tmp_path, monkeypatch
):
    brain = _brain(tiny_encoders["wavlm"], tmp_path, nonfinite_patience=2)
    poison = Poison(monkeypatch, brain.modules.head)
    for on in (True, True, False, True, True):  # a finite loss resets
        poison.on = on
        _step(brain, 0)
    assert brain.skipped_steps == 4 and brain.nonfinite_streak == 2
    with pytest.raises(NonFiniteLossError) as error:
        _step(brain, 0)
    message = str(error.value)
    assert "3 batches in a row (nonfinite_patience=2)" in message
    assert "learning rate" in message and "--lr=1.0e-03" in message


def test_recipe_run_survives_sporadic_nonfinite_losses(
    edge_iemocap, tiny_encoders, tmp_path, monkeypatch
):
    """Batches 1 and 3 of the epoch give NaN: skipped, counted in
    history.json, and the run finishes with finite results."""
    forward = EmotionHead.forward
    calls = []

    def sometimes_nan(self, feats, lengths):
        out = forward(self, feats, lengths)
        if self.training:
            calls.append(len(calls) + 1)
            if calls[-1] in (1, 3):
                return out * float("nan")
        return out

    monkeypatch.setattr(EmotionHead, "forward", sometimes_nan)
    args = recipe_args(
        "IEMOCAP", "lora.yaml", edge_iemocap, tiny_encoders["wavlm"], tmp_path
    )
    results = run_recipe(
        "IEMOCAP",
        *args,
        "--number_of_epochs=1",
        "--batch_size=2",
        "--grad_accumulation_factor=1",
        "--nonfinite_patience=1",
        "--noprogressbar",
    )
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["1"]["train_skipped_steps"] == 2
    assert math.isfinite(history["1"]["train_loss"])
    assert math.isfinite(results["splits"]["test"]["loss"])
    assert len(calls) > 3


# ---- 4. Determinism, 5. interrupted runs and corrupt checkpoints -----------

RUN = [
    "--number_of_epochs=2",
    "--batch_size=4",
    "--grad_accumulation_factor=1",
    "--max_duration=1.0",
    "--noprogressbar",
]


def _edge_args(data, encoder, out):
    return recipe_args("IEMOCAP", "lora.yaml", data, encoder, out, *RUN)


@pytest.fixture(scope="module")
def straight_runs(edge_iemocap, tiny_encoders, tmp_path_factory):
    """Two identical uninterrupted runs on the awkward audio."""
    outs = [tmp_path_factory.mktemp(f"straight{i}") for i in range(2)]
    for out in outs:
        run_recipe(
            "IEMOCAP", *_edge_args(edge_iemocap, tiny_encoders["wavlm"], out)
        )
    return [out / "run" for out in outs]


def test_awkward_audio_trains_and_each_kind_is_logged(straight_runs):
    run = straight_runs[0]
    log = (run / "log.txt").read_text()
    for expected in (
        "2 channels: averaged to mono",
        "Resampling 44100 Hz audio to 16000 Hz",
        "Resampling 8000 Hz audio to 16000 Hz",
    ):
        assert expected in log, expected
    history = json.loads((run / "history.json").read_text())
    assert all(math.isfinite(h["train_loss"]) for h in history.values())
    results = json.loads((run / "results.json").read_text())
    # The 3 s file is cropped to max_duration in training only: dev and
    # test are scored whole.
    cropped = results["cropped"]
    assert ("to its first max_duration = 1.0 s" in log) == (
        cropped["train"]["utterances"] == 1
    )
    assert sum(c["utterances"] for c in cropped.values()) <= 1
    assert all(
        c["max_duration"] is None for s, c in cropped.items() if s != "train"
    )
    assert all(math.isfinite(s["loss"]) for s in results["splits"].values())


def test_same_seed_and_data_give_identical_results(straight_runs):
    first, second = (
        json.loads((run / "results.json").read_text()) for run in straight_runs
    )
    assert first["splits"] == second["splits"]
    for name in ("predictions_test.jsonl", "history.json"):
        texts = [(run / name).read_text() for run in straight_runs]
        assert texts[0] == texts[1], name


def _checkpoints(save):
    """``{folder: meta}`` of the checkpoints whose meta file is written."""
    found = {}
    for meta in save.glob("CKPT+*/CKPT.yaml"):
        try:
            content = yaml.safe_load(meta.read_text())
        except (OSError, yaml.YAMLError):  # being written or deleted
            continue
        if isinstance(content, dict) and "end-of-epoch" in content:
            found[meta.parent] = content
    return found


def _complete(folder):
    try:  # the optimizer is written last: loadable means complete
        torch.load(folder / "optimizer.ckpt", weights_only=True)
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def killed_run(edge_iemocap, tiny_encoders, tmp_path_factory):
    """The straight runs' command with a checkpoint after every step,
    SIGKILLed in epoch 2 once an intra-epoch checkpoint is complete."""
    out = tmp_path_factory.mktemp("killed")
    args = _edge_args(edge_iemocap, tiny_encoders["wavlm"], out)
    proc = start_recipe(
        "recipes/IEMOCAP/train.py", *args, "--ckpt_interval_steps=1"
    )
    save, deadline = out / "run" / "save", time.time() + 600
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        found = _checkpoints(save)
        kinds = {
            end: [p for p, m in found.items() if m["end-of-epoch"] == end]
            for end in (True, False)
        }
        if len(kinds[False]) == 1 and len(kinds[True]) == 1:
            intra, end = kinds[False][0], kinds[True][0]
            proc.send_signal(signal.SIGSTOP)
            if (
                found[intra]["unixtime"] > found[end]["unixtime"]
                and _complete(intra)
                and _complete(end)
                and _checkpoints(save) == found
            ):
                proc.kill()
                proc.wait()
                break
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.01)
    else:
        proc.kill()
        pytest.fail("no intra-epoch checkpoint appeared in epoch 2")
    return {"out": out, "intra": intra.name, "end": end.name}


def _resume(killed, edge_iemocap, encoder, tmp_path, damage=None):
    """Rerun the killed command on a copy of its output (``damage`` may
    first break a file of the copy's checkpoints)."""
    shutil.copytree(killed["out"], tmp_path, dirs_exist_ok=True)
    save = tmp_path / "run" / "save"
    if damage is not None:
        damage(save)
    log = tmp_path / "run" / "log.txt"
    start = log.stat().st_size
    run_recipe("IEMOCAP", *_edge_args(edge_iemocap, encoder, tmp_path))
    return save, log.read_text()[start:]


def test_run_killed_mid_epoch_resumes_from_its_intra_epoch_checkpoint(
    killed_run, straight_runs, edge_iemocap, tiny_encoders, tmp_path
):
    assert not (killed_run["out"] / "run" / "results.json").exists()
    save, log = _resume(
        killed_run, edge_iemocap, tiny_encoders["wavlm"], tmp_path
    )
    loads = [
        line for line in log.splitlines() if "Loading a checkpoint" in line
    ]
    assert loads[0].endswith(str(save / killed_run["intra"]))
    assert "Cannot load checkpoint" not in log
    resumed = json.loads((tmp_path / "run" / "results.json").read_text())
    straight = json.loads((straight_runs[0] / "results.json").read_text())
    assert resumed["splits"] == straight["splits"]


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one(
    killed_run, straight_runs, edge_iemocap, tiny_encoders, tmp_path
):
    """The intra-epoch checkpoint's adaptor file is truncated: resuming
    warns, starts epoch 2 from the end-of-epoch-1 checkpoint, and still
    reaches the uninterrupted run's results."""

    def truncate(save):
        adaptors = save / killed_run["intra"] / "encoder.ckpt"
        adaptors.write_bytes(adaptors.read_bytes()[:1000])

    save, log = _resume(
        killed_run, edge_iemocap, tiny_encoders["wavlm"], tmp_path, truncate
    )
    assert (
        f"Cannot load checkpoint {save / killed_run['intra']} "
        "(CheckpointMismatchError"
    ) in log
    assert f"falling back to the next one, {save / killed_run['end']}" in log
    resumed = json.loads((tmp_path / "run" / "results.json").read_text())
    straight = json.loads((straight_runs[0] / "results.json").read_text())
    assert resumed["splits"] == straight["splits"]


def test_checkpoint_fallback_order_and_total_failure(tmp_path, caplog):
    """The unit behind the two tests above, on a plain Checkpointer."""
    layer = torch.nn.Linear(2, 2)
    checkpointer = Checkpointer(tmp_path, recoverables={"layer": layer})
    saved = []
    for value in (1.0, 2.0, 3.0):
        torch.nn.init.constant_(layer.weight, value)
        saved.append(checkpointer.save_checkpoint(meta={"score": value}))
        time.sleep(0.01)  # distinct recency
    saved[2].paramfiles["layer"].write_bytes(b"broken")
    torch.nn.init.zeros_(layer.weight)

    with caplog.at_level(
        logging.WARNING, logger="speechbrain_peft.training.brain"
    ):
        loaded = recover_with_fallback(checkpointer)
    assert loaded.path == saved[1].path and layer.weight[0, 0] == 2.0
    assert any(str(saved[2].path) in m for m in _messages(caplog))
    # The best by a key first, then the next best.
    best = recover_with_fallback(checkpointer, max_key="score")
    assert best.path == saved[1].path

    saved[1].paramfiles["layer"].unlink()
    saved[0].paramfiles["layer"].write_bytes(b"")
    caplog.clear()
    with caplog.at_level(
        logging.WARNING, logger="speechbrain_peft.training.brain"
    ):
        with pytest.raises(CheckpointMismatchError) as error:
            recover_with_fallback(checkpointer)
    with pytest.raises(Exception) as newest:
        checkpointer.load_checkpoint(saved[2])
    # The final error says what failed (the newest's own error first) and
    # which folders to delete; the first error is its cause.
    message = str(error.value)
    assert f"{type(newest.value).__name__}: {newest.value}" in message
    assert all(str(s.path) in message for s in saved)
    assert "Delete those checkpoint folders" in message
    assert str(error.value.__cause__) == str(newest.value)
    warnings = [m for m in _messages(caplog) if "Cannot load checkpoint" in m]
    assert len(warnings) == 3 and "no other checkpoint is left" in warnings[-1]


@register_checkpoint_hooks
class _DiesWhileSaving:
    """A recoverable whose second save is cut off after half a file, as
    when the process is killed in the middle of writing a checkpoint."""

    def __init__(self):
        self.saves = 0

    @mark_as_saver
    def save(self, path):
        self.saves += 1
        if self.saves == 2:
            Path(path).write_bytes(b"half a fi")
            raise KeyboardInterrupt("killed while saving")
        torch.save({"saves": self.saves}, path)

    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        self.saves = torch.load(path, weights_only=True)["saves"]


def test_a_save_cut_off_midway_is_not_a_checkpoint(tmp_path):
    """SpeechBrain's Checkpointer marks the folder as a checkpoint before
    writing the files, so the cut-off save would be resumed from (and fail
    with EOFError when it is the only one)."""
    layer = torch.nn.Linear(2, 2)
    checkpointer = CrashSafeCheckpointer(
        tmp_path, {"layer": layer, "dies": _DiesWhileSaving()}
    )
    complete = checkpointer.save_checkpoint()
    time.sleep(0.01)  # distinct recency
    with pytest.raises(KeyboardInterrupt):
        checkpointer.save_checkpoint()
    assert len(list(tmp_path.glob("CKPT+*"))) == 2
    assert [c.path for c in checkpointer.list_checkpoints()] == [complete.path]
    assert recover_with_fallback(checkpointer).path == complete.path

    plain = Checkpointer(tmp_path / "plain", {"dies": _DiesWhileSaving()})
    plain.save_checkpoint()
    time.sleep(0.01)
    with pytest.raises(KeyboardInterrupt):
        plain.save_checkpoint()
    assert len(plain.list_checkpoints()) == 2  # why the subclass exists


def test_checkpoint_of_another_configuration_still_fails_loudly(
    tiny_encoders, tmp_path
):
    """Falling back must not hide a real mismatch: every checkpoint fails
    and the first error is raised."""
    encoder = PEFTEncoder(str(tiny_encoders["wavlm"]), adapters=["lora"])
    checkpointer = Checkpointer(tmp_path, recoverables={"encoder": encoder})
    checkpointer.save_checkpoint()
    time.sleep(0.01)
    checkpointer.save_checkpoint()
    other = PEFTEncoder(
        str(tiny_encoders["wavlm"]), adapters={"lora": {"rank": 4}}
    )
    checkpointer.recoverables["encoder"] = other
    with pytest.raises(CheckpointMismatchError, match="lora.rank"):
        recover_with_fallback(checkpointer)
