"""The encoder lobe: a SpeechBrain HF wrapper around a pretrained speech
encoder (WavLM, HuBERT, wav2vec 2.0), frozen, with adaptors injected.

Usable from HyperPyYAML::

    encoder: !new:speechbrain_peft.encoder.PEFTEncoder
        source: microsoft/wavlm-large
        save_path: !ref <save_folder>/encoder
        adapters: [lora, weighted_sum]

Three things differ from calling SpeechBrain's wrapper directly, each because
the direct route silently gives wrong results:

* the wrapper is built with ``freeze=False`` (``freeze=True`` runs the model
  under ``torch.no_grad()``, so adaptors inside it never learn) and the base
  parameters are frozen here instead;
* LayerDrop is set from our ``layerdrop`` argument (0 by default): in train
  mode it drops entries of ``hidden_states`` and breaks the weighted sum;
* waveform normalisation uses the valid samples of each utterance only;
  the wrapper's ``layer_norm`` over the padded batch row lets padding change
  the features.

Authors
 * speechbrain-peft-ser developers 2026
"""

import contextlib
import json
import logging

import torch
from speechbrain.integrations.huggingface.hubert import HuBERT
from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2
from speechbrain.integrations.huggingface.wavlm import WavLM
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from torch import nn
from transformers import AutoConfig

from speechbrain_peft.adapters import (
    ADAPTER_NAMES,
    WeightedSum,
    apply_peft_config,
    inject_bottleneck,
    inject_gating,
    inject_lora,
)
from speechbrain_peft.checkpoints import load_trainable, save_trainable

logger = logging.getLogger(__name__)

WRAPPERS = {"wavlm": WavLM, "hubert": HuBERT, "wav2vec2": Wav2Vec2}


def count_parameters(module):
    """``(trainable, total)`` parameter counts of ``module``.

    Example
    -------
    >>> count_parameters(torch.nn.Linear(3, 2))
    (8, 8)
    """
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return trainable, total


def valid_sample_mask(wav, wav_lens):
    """Boolean ``[batch, samples]`` mask of the non-padded samples.

    Arguments
    ---------
    wav : torch.Tensor
        ``[batch, samples]`` padded waveforms.
    wav_lens : torch.Tensor
        Relative lengths in ``(0, 1]`` (SpeechBrain convention).

    Returns
    -------
    torch.Tensor

    Example
    -------
    >>> valid_sample_mask(torch.zeros(2, 4), torch.tensor([1.0, 0.5]))
    tensor([[ True,  True,  True,  True],
            [ True,  True, False, False]])
    """
    n_valid = torch.round(wav_lens * wav.shape[1]).long()
    positions = torch.arange(wav.shape[1], device=wav.device)
    return positions[None, :] < n_valid[:, None]


def normalize_valid(wav, mask, eps=1e-7):
    """Zero-mean unit-variance per utterance over its valid samples, as the
    HF feature extractor does on unpadded audio; padding stays zero.

    Example
    -------
    >>> wav = torch.tensor([[1.0, 3.0, 0.0]])
    >>> normalize_valid(wav, torch.tensor([[True, True, False]]))
    tensor([[-1.,  1.,  0.]])
    """
    weights = mask.to(wav.dtype)
    n = weights.sum(dim=1, keepdim=True).clamp(min=1)
    mean = (wav * weights).sum(dim=1, keepdim=True) / n
    var = (((wav - mean) * weights) ** 2).sum(dim=1, keepdim=True) / n
    normalized = (wav - mean) / torch.sqrt(var + eps)
    return torch.where(mask, normalized, torch.zeros_like(wav))


@contextlib.contextmanager
def per_file_front_end(cnn, n_samples):
    """Make a convolutional front-end encode each row of a padded batch on
    its own valid samples (its output zero-padded to the batch's frames),
    as it would the file alone.

    Arguments
    ---------
    cnn : torch.nn.Module
        The model's ``feature_extractor`` (called with ``[batch, samples]``,
        returning ``[batch, channels, frames]``).
    n_samples : torch.Tensor
        Valid samples per row.

    Example
    -------
    >>> cnn = torch.nn.Conv1d(1, 2, 4, stride=2)
    >>> cnn.forward = lambda x, conv=cnn.forward: conv(x[:, None] - x.mean())
    >>> wav = torch.cat([torch.randn(1, 10), torch.zeros(1, 10)], dim=1)
    >>> batch = torch.cat([torch.randn(1, 20), wav])
    >>> with per_file_front_end(cnn, torch.tensor([20, 10])):
    ...     frames = cnn(batch)
    >>> torch.allclose(frames[1, :, :4], cnn(wav[:, :10])[0])
    True
    """
    own_forward = cnn.__dict__.get("forward")
    batched = cnn.forward

    def forward(input_values):
        outputs = [
            batched(input_values[row : row + 1, : int(n)])
            for row, n in enumerate(n_samples)
        ]
        frames = max(output.shape[-1] for output in outputs)
        return torch.cat(
            [
                nn.functional.pad(output, (0, frames - output.shape[-1]))
                for output in outputs
            ]
        )

    cnn.forward = forward
    try:
        yield
    finally:
        if own_forward is None:
            del cnn.forward
        else:
            cnn.forward = own_forward


@register_checkpoint_hooks
class PEFTEncoder(nn.Module):
    """A frozen pretrained speech encoder with trainable adaptors.

    Arguments
    ---------
    source : str
        Hub id (``microsoft/wavlm-large``) or a local ``save_pretrained``
        folder of a WavLM, HuBERT or wav2vec 2.0 model.
    save_path : str
        Download cache for hub models.
    adapters : list of str
        Any subset of ``lora``, ``bottleneck``, ``weighted_sum``, ``gating``.
        With ``weighted_sum`` the output is the learned combination of all
        hidden states, otherwise the last layer.
    lora_rank, lora_alpha, lora_dropout : int, float, float
        LoRA settings (see :class:`~speechbrain_peft.adapters.LoRALinear`).
    lora_targets : list of str
        Linear modules inside each layer to adapt (name or suffix).
    bottleneck_size : int
        Bottleneck adapter width.
    bottleneck_activation : str
        ``relu``, ``gelu`` or ``silu``.
    gating_init : str
        ``identity`` (gate ``2 sigmoid(g)``, g = 0) or ``paper``
        (``sigmoid(g)``, g = 1; not the identity at init).
    adapter_layers : list of int, optional
        Encoder layers that receive LoRA, bottleneck and gating adaptors
        (all when None). Layers below the lowest adapted layer get no
        gradient, so backpropagation stops there.
    peft_config : dict or peft.PeftConfig, optional
        A Hugging Face peft tuner to inject as well (see
        :func:`~speechbrain_peft.adapters.apply_peft_config`).
    full_finetune : bool
        Train every encoder parameter (the baseline); adaptors still apply.
    freeze_feature_extractor : bool
        With ``full_finetune``, keep the CNN front-end frozen (usual
        practice for wav2vec 2.0-family fine-tuning).
    layerdrop : float
        LayerDrop probability during training; keep 0 with a weighted sum.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_peft.synthetic.encoders import save_tiny_encoder
    >>> path = save_tiny_encoder("wavlm", tempfile.mkdtemp())
    >>> enc = PEFTEncoder(str(path), adapters=["lora", "weighted_sum"])
    >>> feats, lens = enc(torch.randn(2, 16000), torch.tensor([1.0, 0.6]))
    >>> feats.shape, lens
    (torch.Size([2, 49, 64]), tensor([1.0000, 0.5918]))
    >>> enc.parameter_counts()["trainable"]  # 2 layers x q,k,v x 1024 + 3
    6147
    """

    def __init__(
        self,
        source,
        save_path="pretrained_models",
        adapters=(),
        lora_rank=8,
        lora_alpha=16.0,
        lora_dropout=0.0,
        lora_targets=("q_proj", "k_proj", "v_proj"),
        bottleneck_size=64,
        bottleneck_activation="relu",
        gating_init="identity",
        adapter_layers=None,
        peft_config=None,
        full_finetune=False,
        freeze_feature_extractor=True,
        layerdrop=0.0,
    ):
        super().__init__()
        if isinstance(adapters, str):
            raise TypeError(
                f"`adapters` must be a list, e.g. [{adapters}], not "
                f"{adapters!r}"
            )
        adapters = list(adapters or [])
        unknown = [a for a in adapters if a not in ADAPTER_NAMES]
        if unknown:
            raise ValueError(
                f"Unknown adaptor(s) {unknown} in `adapters`; choose any of "
                f"{list(ADAPTER_NAMES)} (peft tuners go in `peft_config`)"
            )
        self.source = str(source)
        self.adapters = adapters
        # Everything needed to rebuild this lobe (inference, stage two).
        self.init_kwargs = {
            "source": self.source,
            "adapters": adapters,
            "lora_rank": lora_rank,
            "lora_alpha": lora_alpha,
            "lora_dropout": lora_dropout,
            "lora_targets": list(lora_targets),
            "bottleneck_size": bottleneck_size,
            "bottleneck_activation": bottleneck_activation,
            "gating_init": gating_init,
            "adapter_layers": (
                None if adapter_layers is None else list(adapter_layers)
            ),
            "peft_config": _peft_summary(peft_config),
            "full_finetune": bool(full_finetune),
            "freeze_feature_extractor": bool(freeze_feature_extractor),
            "layerdrop": layerdrop,
        }
        self.config_summary = {
            "source": self.source,
            "adapters": adapters,
            "lora_rank": lora_rank if "lora" in adapters else None,
            "lora_alpha": lora_alpha if "lora" in adapters else None,
            "lora_targets": list(lora_targets) if "lora" in adapters else None,
            "bottleneck_size": (
                bottleneck_size if "bottleneck" in adapters else None
            ),
            "gating_init": gating_init if "gating" in adapters else None,
            "adapter_layers": self.init_kwargs["adapter_layers"],
            "peft_config": self.init_kwargs["peft_config"],
            "full_finetune": bool(full_finetune),
        }

        model_type = AutoConfig.from_pretrained(
            self.source, cache_dir=save_path
        ).model_type
        if model_type not in WRAPPERS:
            raise ValueError(
                f"{self.source} is a {model_type!r} model; supported encoders "
                f"are {sorted(WRAPPERS)}"
            )
        self.ssl = WRAPPERS[model_type](
            source=self.source,
            save_path=save_path,
            freeze=False,
            output_all_hiddens=False,
        )
        model = self.ssl.model
        model.config.layerdrop = layerdrop
        self.normalize_wav = self.ssl.normalize_wav
        # A group-norm front-end (the base checkpoints) normalises each
        # channel over the whole padded row: batched, padding would change
        # the features of the shorter files.
        self.front_end_per_file = model.config.feat_extract_norm == "group"
        self.config_summary.update(
            model_type=model_type,
            hidden_size=model.config.hidden_size,
            num_layers=model.config.num_hidden_layers,
        )

        for param in model.parameters():
            param.requires_grad = full_finetune
        if full_finetune and freeze_feature_extractor:
            model.feature_extractor.requires_grad_(False)

        if "lora" in adapters:
            inject_lora(
                model,
                list(lora_targets),
                rank=lora_rank,
                alpha=lora_alpha,
                dropout=lora_dropout,
                layers=adapter_layers,
            )
        if "bottleneck" in adapters:
            inject_bottleneck(
                model,
                size=bottleneck_size,
                activation=bottleneck_activation,
                layers=adapter_layers,
            )
        if "gating" in adapters:
            inject_gating(model, init=gating_init, layers=adapter_layers)
        if peft_config is not None:
            apply_peft_config(model, peft_config)
        self.weighted_sum = (
            WeightedSum(model.config.num_hidden_layers + 1)
            if "weighted_sum" in adapters
            else None
        )
        self.encoder_trains = any(p.requires_grad for p in model.parameters())
        cnn = model.feature_extractor
        if not any(p.requires_grad for p in cnn.parameters()):
            # Frozen weights are not enough: in train mode transformers marks
            # the waveform as requiring grad (for gradient checkpointing)
            # unless this flag is cleared, and then backpropagates through
            # the whole CNN on every step for nothing.
            cnn._freeze_parameters()
        # What this lobe saves, even if stage two later freezes some of it.
        self.adaptor_names = frozenset(
            name for name, p in self.named_parameters() if p.requires_grad
        )
        counts = self.parameter_counts()
        logger.info(
            "Encoder %s (%s), adaptors %s: %d trainable of %d parameters "
            "(%.3f%%)",
            self.source,
            model_type,
            adapters or "none",
            counts["trainable"],
            counts["total"],
            counts["trainable_pct"],
        )

    @property
    def output_size(self):
        """Width of the returned features."""
        return self.ssl.model.config.hidden_size

    def parameter_counts(self):
        """Trainable and total parameters of the lobe (adaptors included).

        Returns
        -------
        dict
            ``trainable``, ``total`` and ``trainable_pct``.
        """
        trainable, total = count_parameters(self)
        return {
            "trainable": trainable,
            "total": total,
            "trainable_pct": 100.0 * trainable / total,
        }

    def train(self, mode=True):
        """Keep a fully frozen encoder in eval mode (deterministic features,
        no dropout on what only feeds the head)."""
        super().train(mode)
        if not self.encoder_trains:
            self.ssl.model.eval()
        return self

    def forward(self, wav, wav_lens=None):
        """Encode a padded batch.

        Arguments
        ---------
        wav : torch.Tensor
            ``[batch, samples]`` waveforms at the encoder's sample rate.
        wav_lens : torch.Tensor, optional
            Relative lengths (SpeechBrain convention); all 1 when None.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, dim]`` features (weighted sum or last layer).
        feat_lens : torch.Tensor
            Relative lengths of the valid frames.
        """
        hidden, feat_lens = self.hidden_states(wav, wav_lens)
        return self.combine(hidden), feat_lens

    def hidden_states(self, wav, wav_lens=None):
        """The encoder outputs this lobe uses, before any adaptor outside
        the encoder: what a feature cache may store.

        Arguments
        ---------
        wav, wav_lens : torch.Tensor
            As in :meth:`forward`.

        Returns
        -------
        hidden : torch.Tensor
            ``[layers, batch, frames, dim]``: all ``L + 1`` hidden states
            with a weighted sum, else only the last one.
        feat_lens : torch.Tensor
            Relative lengths of the valid frames.
        """
        if wav_lens is None:
            wav_lens = torch.ones(wav.shape[0], device=wav.device)
        mask = valid_sample_mask(wav, wav_lens)
        if self.normalize_wav:
            wav = normalize_valid(wav, mask)
        # With no trainable parameter inside the encoder, building its graph
        # would only cost memory and time.
        grad_context = (
            contextlib.nullcontext()
            if self.encoder_trains and torch.is_grad_enabled()
            else torch.no_grad()
        )
        front_end = (
            per_file_front_end(self.ssl.model.feature_extractor, mask.sum(1))
            if self.front_end_per_file and wav.shape[0] > 1
            else contextlib.nullcontext()
        )
        # The attention mask is always given, even to checkpoints trained
        # without one: then the transformer ignores padding too, and every
        # file gets the features it gets alone.
        with grad_context, front_end:
            out = self.ssl.model(
                wav,
                attention_mask=mask.long(),
                output_hidden_states=self.weighted_sum is not None,
            )
        if self.weighted_sum is not None:
            expected = self.weighted_sum.logits.numel()
            if len(out.hidden_states or ()) != expected:
                raise ValueError(
                    f"The weighted sum needs {expected} hidden states but the "
                    f"encoder returned {len(out.hidden_states or ())}: "
                    "LayerDrop skips layers in training; set layerdrop: 0"
                )
            hidden = torch.stack(out.hidden_states)
        else:
            hidden = out.last_hidden_state.unsqueeze(0)
        n_frames = self.ssl.model._get_feat_extract_output_lengths(
            mask.sum(dim=1)
        )
        return hidden, n_frames.to(hidden.dtype) / hidden.shape[2]

    def combine(self, hidden):
        """Features from :meth:`hidden_states`: their weighted sum, or the
        last layer."""
        if self.weighted_sum is not None:
            return self.weighted_sum(hidden)
        return hidden[-1]

    @mark_as_saver
    def _save(self, path):
        save_trainable(self, path, metadata=self.config_summary)

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        del end_of_epoch  # the same tensors are restored either way
        load_trainable(self, path, expected_metadata=self.config_summary)


def _peft_summary(peft_config):
    if peft_config is None:
        return None
    if isinstance(peft_config, dict):
        return dict(peft_config)
    # JSON-friendly (peft stores target sets).
    return json.loads(json.dumps(peft_config.to_dict(), default=sorted))
