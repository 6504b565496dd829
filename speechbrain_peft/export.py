"""Export a trained run as a small adaptor-only artifact, or with its
mergeable adaptors (LoRA, peft tuners) merged into a plain transformers
encoder.

Usage::

    python -m speechbrain_peft.export RUN_DIR OUT_DIR [--format FORMAT]

Without ``--merge``, ``OUT_DIR`` gets the run's ``adapters.safetensors``
(the trainable tensors only) and its ``run.json`` plus an ``export`` entry:
the encoder id and the revision of its weights (SHA-256 of the weight files
of a local folder, the commit hash of a hub model), the source run and, for
a stage-two run, its parent run (``run_info["parent_run"]``). The base
encoder is not copied; loading checks that its weights are the exported
ones.

With ``--merge``, every adaptor whose method can merge (LoRA, a peft
tuner) is folded into its base weights and the encoder is written with
``save_pretrained`` (plus its feature-extractor config) to
``OUT_DIR/encoder``, which plain ``transformers.AutoModel.from_pretrained``
loads. What cannot be merged (bottleneck and parallel adapters, gates, the
weighted sum of layers) and the head are saved beside it in
``adapters.safetensors``. Both kinds of export load with
:meth:`speechbrain_peft.inference.EmotionRecognizer.from_run` and with
``python -m speechbrain_peft.infer``.

``--format speechbrain`` adds what SpeechBrain's ``foreign_class`` loads,
``--format transformers`` what ``transformers.pipeline(
"audio-classification", trust_remote_code=True)`` loads (the modeling
code is :mod:`speechbrain_peft.inference.transformers_model`); both are
merged exports. ``--format transformers_stock`` writes a run that
transformers' own ``*ForSequenceClassification`` class holds exactly (see
:mod:`speechbrain_peft.inference.stock_transformers`), which loads with no
remote code. ``--format onnx`` writes ``model.onnx`` (see
:mod:`speechbrain_peft.inference.onnx_graph`) and ``classify.py``, which
runs it with onnxruntime and soundfile only.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json
import shutil
from pathlib import Path

from torch import nn

from speechbrain_peft.inference import (
    onnx_example,
    speechbrain_interface,
    transformers_model,
)
from speechbrain_peft.inference.model_card import write_model_card
from speechbrain_peft.inference.onnx_graph import export_onnx
from speechbrain_peft.inference.recognizer import EXPORT_KEY, EmotionRecognizer
from speechbrain_peft.inference.stock_transformers import (
    check_stock_fit,
    feature_extractor,
    label_fields,
    stock_model,
)
from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.pretrained import encoder_revision
from speechbrain_peft.model.saved_tensors import (
    save_trainable,
    trainable_state_dict,
)
from speechbrain_peft.runs.artifact import (
    RUN_CONFIG,
    RUN_WEIGHTS,
)
from speechbrain_peft.runs.finished import FinishedRun
from speechbrain_peft.utils.errors import ConfigError, UserError
from speechbrain_peft.utils.files import honour_umask
from speechbrain_peft.utils.versions import software_versions

ENCODER_DIR = "encoder"
FORMATS = (
    "adapters",
    "merged",
    "speechbrain",
    "transformers",
    "transformers_stock",
    "onnx",
)
INTERFACE_FILE = "custom_interface.py"
MODELING_FILE = "modeling_peft_ser.py"
ONNX_FILE = "model.onnx"
ONNX_EXAMPLE = "classify.py"
# SpeechBrain's hyperparameters of an export: the recognizer is built from
# the folder the interface module was fetched into.
HYPERPARAMS = """\
# SpeechBrain interface of a speechbrain-peft-ser run, exported from
# {exported_from}. Load it with
# speechbrain.inference.interfaces.foreign_class(source=<this folder>,
#     pymodule_file="custom_interface.py", classname="PEFTEmotionClassifier")
task: {task}
label_set: {labels}
sample_rate: {sample_rate}
export_folder: !apply:{module}.export_folder []
recognizer: !apply:speechbrain_peft.inference.EmotionRecognizer.from_run
    - !ref <export_folder>
modules:
    recognizer: !ref <recognizer>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables: {{}}
"""


def _write_merged(recognizer, out_dir, savedir):
    """Fold every mergeable adaptor into the encoder of ``recognizer`` and
    write the merged encoder plus the remaining trainable tensors to
    ``out_dir``.

    Returns
    -------
    config : dict
        ``run.json`` of the export, without the ``export`` entry.
    revision : dict
        The merged encoder's revision (see ``encoder_revision``).
    """
    run_encoder = recognizer.encoder
    merged = run_encoder.merge_adaptors()
    encoder_dir = out_dir / ENCODER_DIR
    run_encoder.ssl.model.save_pretrained(
        encoder_dir, state_dict=run_encoder.plain_state_dict()
    )
    run_encoder.ssl.feature_extractor.save_pretrained(encoder_dir)
    honour_umask(encoder_dir)

    # The merged encoder with the adaptors that stay, as loading the export
    # will build it; the merged weights are now in the folder.
    kwargs = {**run_encoder.init_kwargs}
    kwargs.update(
        source=str(encoder_dir),
        adapters={
            name: settings
            for name, settings in kwargs["adapters"].items()
            if name not in merged
        },
        full_finetune=False,
    )
    if savedir is not None:
        kwargs["save_path"] = savedir
    encoder = PEFTEncoder(**kwargs)
    modules = nn.ModuleDict({"encoder": encoder, "head": recognizer.head})
    trained = nn.ModuleDict(
        {"encoder": run_encoder, "head": recognizer.head}
    ).state_dict()
    modules.load_state_dict(
        {name: trained[name] for name in trainable_state_dict(modules)},
        strict=False,
    )

    config = {k: v for k, v in recognizer.config.items() if k != EXPORT_KEY}
    config["encoder"] = {**encoder.init_kwargs, "source": ENCODER_DIR}
    config["encoder_config"] = {
        **encoder.config_summary,
        "source": ENCODER_DIR,
    }
    save_trainable(modules, out_dir / RUN_WEIGHTS, metadata=config)
    return config, encoder_revision(encoder.source, encoder.ssl.model.config)


def _write_speechbrain_interface(out_dir, config):
    """SpeechBrain's files: ``hyperparams.yaml`` building the recognizer
    from the folder, and the interface module ``custom_interface.py``."""
    shutil.copyfile(
        Path(speechbrain_interface.__file__), out_dir / INTERFACE_FILE
    )
    (out_dir / "hyperparams.yaml").write_text(
        HYPERPARAMS.format(
            exported_from=config[EXPORT_KEY]["exported_from"],
            module=Path(INTERFACE_FILE).stem,
            task=config["task"],
            labels=json.dumps(config.get("label_set")),
            sample_rate=config["sample_rate"],
        )
    )


def _write_transformers_files(out_dir, config, labels):
    """transformers' files: ``config.json`` with the output ``labels`` (see
    ``label_fields``) and the ``auto_map`` to the modeling code, that code,
    and the feature extractor (no normalisation: the encoder normalises
    itself)."""
    shutil.copyfile(Path(transformers_model.__file__), out_dir / MODELING_FILE)
    module = Path(MODELING_FILE).stem
    hf_config = transformers_model.PEFTSERConfig(
        task=config["task"],
        sample_rate=config["sample_rate"],
        **labels,
    )
    hf_config.auto_map = {
        "AutoConfig": f"{module}.PEFTSERConfig",
        "AutoModelForAudioClassification": (
            f"{module}.PEFTSERForAudioClassification"
        ),
    }
    hf_config.save_pretrained(out_dir)
    feature_extractor(config["sample_rate"], False).save_pretrained(out_dir)
    honour_umask(out_dir)


def _write_stock_model(recognizer, out_dir):
    """The run as transformers' stock class (see ``stock_model``), with
    the feature extractor normalising each file as the encoder does."""
    stock_model(recognizer).save_pretrained(out_dir)
    feature_extractor(
        recognizer.config["sample_rate"], recognizer.encoder.normalize_wav
    ).save_pretrained(out_dir)
    honour_umask(out_dir)


def export_run(
    run_dir, out_dir, merge=False, source=None, savedir=None, format=None
):
    """Export the run in ``run_dir`` to the new folder ``out_dir``, with a
    model card (``README.md``).

    The run is loaded first (see
    :meth:`~speechbrain_peft.inference.EmotionRecognizer.from_run`), so a
    broken or inconsistent run is refused before anything is written.

    Arguments
    ---------
    run_dir : str or pathlib.Path
        A trained run or an unmerged export (a merged export is final).
    out_dir : str or pathlib.Path
        Destination; must not exist or be empty.
    merge : bool
        Short for ``format="merged"``.
    source, savedir : str, optional
        As for ``from_run`` (a moved encoder folder, a hub cache).
    format : str, optional
        ``adapters`` (the default: the trained tensors, the base encoder
        named), ``merged`` (mergeable adaptors folded into an encoder saved
        with ``save_pretrained``) or ``speechbrain`` (merged, plus the
        files SpeechBrain's ``foreign_class`` loads) or ``transformers``
        (merged, plus what ``transformers.pipeline("audio-classification",
        trust_remote_code=True)`` loads) or ``transformers_stock`` (the
        stock ``*ForSequenceClassification`` class, for runs it holds) or
        ``onnx`` (``model.onnx`` for onnxruntime, with ``classify.py``
        needing only onnxruntime and soundfile).

    Returns
    -------
    dict
        The export's ``run.json``.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    format = format or ("merged" if merge else "adapters")
    if format not in FORMATS:
        raise ConfigError(f"--format {format!r} is not one of {FORMATS}")
    # Formats that hold the whole model in another form keep no run tensors.
    merge = format not in ("adapters", "onnx", "transformers_stock")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty; choose a new folder")
    run = FinishedRun.read(run_dir)
    if run.config.get(EXPORT_KEY, {}).get("merged"):
        raise ConfigError(
            f"{run_dir} is a merged export; export the original run instead"
        )
    recognizer = EmotionRecognizer.from_run(run, source=source, savedir=savedir)
    base = {
        "id": recognizer.config["encoder"]["source"],
        "revision": recognizer.encoder.weights_identity["revision"],
    }
    if format == "transformers_stock":
        check_stock_fit(recognizer)
    out_dir.mkdir(parents=True, exist_ok=True)
    if merge:
        config, revision = _write_merged(recognizer, out_dir, savedir)
    else:
        config = {k: v for k, v in recognizer.config.items() if k != EXPORT_KEY}
        revision = base["revision"]
    if format == "adapters":
        shutil.copyfile(run_dir / RUN_WEIGHTS, out_dir / RUN_WEIGHTS)
    if format == "transformers_stock":
        _write_stock_model(recognizer, out_dir)
    if format == "onnx":
        export_onnx(recognizer, out_dir / ONNX_FILE)
        shutil.copyfile(Path(onnx_example.__file__), out_dir / ONNX_EXAMPLE)
        honour_umask(out_dir)
    config[EXPORT_KEY] = {
        "format": format,
        "merged": merge,
        # What the run trained, merged or not: the card names all of it.
        "trained_adaptors": recognizer.config["encoder"].get("adapters"),
        "encoder_revision": revision,
        "base_encoder": base,
        "exported_from": str(run_dir.resolve()),
        "parent_run": (config.get("run_info") or {}).get("parent_run"),
        "software": software_versions(),
    }
    (out_dir / RUN_CONFIG).write_text(json.dumps(config, indent=2))
    if format == "speechbrain":
        _write_speechbrain_interface(out_dir, config)
    if format == "transformers":
        _write_transformers_files(out_dir, config, label_fields(recognizer))
    write_model_card(out_dir, config, run_dir, format)
    return config


def main(argv=None):
    """Command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        description="Export a trained run, with a model card: adaptor-only, "
        "merged into a plain transformers encoder, or in SpeechBrain's "
        "format."
    )
    parser.add_argument("run_dir", help="the run's output folder")
    parser.add_argument("out_dir", help="new folder to write the export to")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="adapters (default): the trained tensors; merged: mergeable "
        "adaptors (LoRA, peft tuners) folded into an encoder saved with "
        "save_pretrained; speechbrain: merged, loadable with SpeechBrain's "
        "foreign_class; transformers: merged, loadable with "
        "transformers.pipeline('audio-classification', trust_remote_code="
        "True); transformers_stock: transformers' own "
        "*ForSequenceClassification, for runs with merged adaptors, the "
        "weighted sum and a linear head; onnx: model.onnx for onnxruntime",
    )
    parser.add_argument(
        "--merge", action="store_true", help="same as --format merged"
    )
    parser.add_argument(
        "--source", help="load the base encoder from this folder instead"
    )
    parser.add_argument("--savedir", help="download cache of hub encoders")
    args = parser.parse_args(argv)
    try:
        export_run(
            args.run_dir,
            args.out_dir,
            args.merge,
            args.source,
            args.savedir,
            format=args.format,
        )
    except (UserError, ValueError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    out_dir = Path(args.out_dir)
    for path in sorted(out_dir.rglob("*")):
        if path.is_file():
            size = path.stat().st_size
            print(f"{size / 1e6:10.3f} MB  {path.relative_to(out_dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
