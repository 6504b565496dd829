"""Use a trained run on new audio.

:class:`EmotionRecognizer` rebuilds the encoder lobe and the head of a run
from its ``run.json``, loads the trained tensors from its
``adapters.safetensors`` (safetensors only, nothing is unpickled), checks
that the two files belong together, and classifies audio files or batches.

Audio rules are those of training and evaluation, so a run's test files get
the predictions its evaluation wrote:

* any sample rate and channel count: channels are averaged, the rate is
  converted to the run's ``sample_rate``;
* files are classified **whole**, as evaluation scores them (the run's
  ``max_duration`` cropped its training utterances only); long recordings
  go through :mod:`speechbrain_peft.inference.windows`' windows instead;
* very short files are zero-padded to the encoder's receptive field.

Categorical runs give the most likely label and the probability of every
class (softmax of the logits); dimensional runs give arousal, valence and
dominance on the corpus' own rating scale (e.g. 1-5 for IEMOCAP).

Exports written by :mod:`speechbrain_peft.export` load the same way; for
them the encoder's weights are checked against the hash stored at export.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from speechbrain_peft.data.datasets import (
    DIMENSIONS,
    AudioReader,
    denormalize_dimensions,
)
from speechbrain_peft.model.encoder import PEFTEncoder
from speechbrain_peft.model.heads import EmotionHead
from speechbrain_peft.model.pretrained import EncoderSourceError
from speechbrain_peft.model.saved_tensors import (
    CheckpointMismatchError,
    apply_trainable,
)
from speechbrain_peft.runs.artifact import (
    RUN_WEIGHTS,
    model_config,
)
from speechbrain_peft.runs.finished import FinishedRun

logger = logging.getLogger(__name__)

# Key of ``run.json`` describing an export; never part of the checkpoint.
EXPORT_KEY = "export"


def _encoder_source(run_dir, config, source):
    """Where to load the base encoder from (see ``from_run``)."""
    if source is not None:
        return str(source)
    recorded = config["encoder"]["source"]
    if config.get(EXPORT_KEY, {}).get("merged"):
        return str(Path(run_dir) / recorded)
    if Path(recorded).is_absolute() and not Path(recorded).exists():
        raise EncoderSourceError(
            f"The run's encoder folder {recorded} does not exist on this "
            "machine; pass the folder holding the same model as `source` "
            "(CLI: --source)"
        )
    return recorded


def recorded_revision(config):
    """The base encoder's weights a run (or its export) recorded: the
    export's ``encoder_revision``, else the run's experiment settings."""
    exported = config.get(EXPORT_KEY, {}).get("encoder_revision")
    if exported:
        return exported
    experiment = (config.get("run_info") or {}).get("experiment") or {}
    return ((experiment.get("settings") or {}).get("encoder") or {}).get(
        "revision"
    )


def _check_revision(encoder, config):
    """Refuse base weights other than those the run was trained (or
    exported) with; a changed hub commit only warns: it may not touch the
    weights."""
    expected = recorded_revision(config)
    if not expected:
        return
    found = encoder.weights_identity["revision"]
    if "sha256" in expected and found.get("sha256") != expected["sha256"]:
        raise CheckpointMismatchError(
            f"The encoder at {encoder.source} is not the one these adaptors "
            f"were trained with; pass the run's encoder as source.\n  run: "
            f"{json.dumps(expected)}\n  found: {json.dumps(found)}"
        )
    if "commit" in expected and found.get("commit") != expected["commit"]:
        logger.warning(
            "Encoder %s is at hub commit %s, the run used %s",
            encoder.source,
            found.get("commit"),
            expected["commit"],
        )


class EmotionRecognizer(nn.Module):
    """A trained encoder lobe and head, with the run's labels and audio
    settings, in eval mode.

    Build it with :meth:`from_run`.

    Arguments
    ---------
    encoder : speechbrain_peft.model.encoder.PEFTEncoder
        The lobe with its trained adaptors.
    head : speechbrain_peft.model.heads.EmotionHead
        The trained head.
    config : dict
        The run's ``run.json``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_peft.runs.artifact import save_run_artifact
    >>> from speechbrain_peft.synthetic.encoders import save_tiny_encoder
    >>> run = Path(tempfile.mkdtemp())
    >>> encoder = PEFTEncoder(str(save_tiny_encoder("wavlm", run / "enc")))
    >>> head = EmotionHead(encoder.output_size, 2, hidden_size=8)
    >>> _ = save_run_artifact(
    ...     run, encoder, head, task="categorical", label_set=["neu", "ang"],
    ...     dimension_scale=None, sample_rate=16000, max_duration=10.0,
    ... )
    >>> recognizer = EmotionRecognizer.from_run(run)
    >>> out = recognizer.classify_batch(torch.randn(1, 8000))[0]
    >>> out["label"] in ("neu", "ang")
    True
    >>> round(sum(out["probabilities"].values()), 6)
    1.0
    """

    def __init__(self, encoder, head, config):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.config = config
        self.task = config["task"]
        self.label_set = config.get("label_set")
        self.dimension_scale = config.get("dimension_scale")
        self.read_audio = AudioReader(config["sample_rate"], max_duration=None)
        self.eval()

    @classmethod
    def from_run(cls, run_dir, device="cpu", source=None, savedir=None):
        """Load a run folder (``run.json`` + ``adapters.safetensors``) or an
        export of one.

        Arguments
        ---------
        run_dir : str, pathlib.Path or FinishedRun
            The run's output folder or an export folder, or the run already
            read (see :class:`~speechbrain_peft.runs.finished.FinishedRun`).
        device : str
            Where to run the model.
        source : str, optional
            Load the base encoder from here instead of the recorded hub id or
            folder (e.g. the encoder folder was moved). It must hold the same
            model; the adaptor configuration is checked all the same.
        savedir : str, optional
            Download cache for a hub encoder (the lobe's default when None).

        Returns
        -------
        EmotionRecognizer

        Raises
        ------
        speechbrain_peft.model.saved_tensors.CheckpointMismatchError
            When the folder lacks ``run.json`` or ``adapters.safetensors``,
            when the latter is not a safetensors file (e.g. a pickle) or was
            saved for another encoder, adaptor set or head than ``run.json``
            describes (the message shows both), or when an export's encoder
            weights are not the exported ones.
        FileNotFoundError
            When the run's local encoder folder is gone and no ``source``
            is given.
        """
        run = (
            run_dir
            if isinstance(run_dir, FinishedRun)
            else FinishedRun.read(run_dir)
        )
        config = run.config
        recorded = config["encoder"]["source"]
        kwargs = {**config["encoder"]}
        kwargs["source"] = _encoder_source(run.path, config, source)
        if savedir is not None:
            kwargs["save_path"] = savedir
        encoder = PEFTEncoder(**kwargs)
        _check_revision(encoder, config)
        head = EmotionHead(**config["head"])
        # What the checkpoint must have been saved with: the settings that
        # define the model, with the rebuilt modules' configuration. The
        # encoder is named by its recorded source, so an overridden `source`
        # still matches.
        expected = model_config(config)
        expected["encoder"] = {**encoder.init_kwargs, "source": recorded}
        expected["encoder_config"] = {
            **encoder.config_summary,
            "source": recorded,
        }
        expected["head"] = head.init_kwargs
        apply_trainable(
            nn.ModuleDict({"encoder": encoder, "head": head}),
            run.tensors,
            run.metadata,
            run.path / RUN_WEIGHTS,
            expected_metadata=expected,
            upgrade=model_config,
        )
        return cls(encoder, head, config).to(device)

    @property
    def device(self):
        """The device of the model's parameters."""
        return next(self.head.parameters()).device

    @property
    def output_names(self):
        """What each output column is, in order: the classes, or arousal,
        valence and dominance."""
        if self.task == "categorical":
            return list(self.label_set)
        return list(DIMENSIONS)

    @torch.no_grad()
    def forward(self, wavs, wav_lens=None):
        """Raw outputs: logits (categorical) or dimension values on the
        normalised ``[-1, 1]`` scale (dimensional).

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` waveforms at the run's sample rate.
        wav_lens : torch.Tensor, optional
            Relative lengths (all 1 when None).

        Returns
        -------
        torch.Tensor
            ``[batch, outputs]``.
        """
        wavs = wavs.to(self.device)
        if wav_lens is not None:
            wav_lens = wav_lens.to(self.device)
        feats, feat_lens = self.encoder(wavs, wav_lens)
        return self.head(feats, feat_lens)

    def decode(self, outputs):
        """Per-utterance results from :meth:`forward` outputs.

        Arguments
        ---------
        outputs : torch.Tensor
            ``[batch, outputs]``.

        Returns
        -------
        list of dict
            Categorical: ``{"label": str, "probabilities": {label: p}}``.
            Dimensional: ``{"arousal": a, "valence": v, "dominance": d}`` on
            the corpus scale.
        """
        outputs = outputs.detach().cpu().double()
        if self.task == "categorical":
            probabilities = torch.softmax(outputs, dim=-1).numpy()
            return [
                {
                    "label": self.label_set[int(row.argmax())],
                    "probabilities": dict(zip(self.label_set, row.tolist())),
                }
                for row in probabilities
            ]
        values = denormalize_dimensions(
            outputs.numpy(), np.asarray(self.dimension_scale)
        )
        return [dict(zip(DIMENSIONS, row.tolist())) for row in values]

    @torch.no_grad()
    def embed(self, wavs, wav_lens=None):
        """Utterance embeddings and raw outputs of a batch: the embedding
        is the head's input, the mean of the encoder features (the
        combined layers) over the valid frames.

        Returns
        -------
        embeddings : torch.Tensor
            ``[batch, d]``.
        outputs : torch.Tensor
            ``[batch, outputs]``, as :meth:`forward` gives them.
        """
        wavs = wavs.to(self.device)
        if wav_lens is not None:
            wav_lens = wav_lens.to(self.device)
        pooled = self.head.pool(*self.encoder(wavs, wav_lens))
        return pooled, self.head(pooled)

    def classify_batch(self, wavs, wav_lens=None):
        """Classify a padded batch of waveforms (used as given: no
        resampling or cropping).

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` mono waveforms at the run's sample rate.
        wav_lens : torch.Tensor, optional
            Relative lengths in ``(0, 1]`` (all 1 when None).

        Returns
        -------
        list of dict
            See :meth:`decode`.
        """
        return self.decode(self(wavs, wav_lens))

    def classify_file(self, path):
        """Classify one audio file, whole (any rate and channel count).

        Arguments
        ---------
        path : str or pathlib.Path
            Any file soundfile reads (wav, flac, ogg...).

        Returns
        -------
        dict
            See :meth:`decode`.

        Raises
        ------
        speechbrain_peft.data.datasets.ManifestError
            When the file is missing, not audio, or holds NaN samples.
        """
        signal = self.read_audio(str(path))
        return self.classify_batch(signal.unsqueeze(0))[0]
