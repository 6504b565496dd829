"""The encoder lobe: a SpeechBrain HF wrapper around a pretrained speech
encoder (WavLM, HuBERT, wav2vec 2.0), frozen, with adaptors injected.

Usable from HyperPyYAML::

    encoder: !new:speechbrain_peft.model.encoder.PEFTEncoder
        source: microsoft/wavlm-large
        save_path: !ref <save_folder>/encoder
        adapters:
            lora: {rank: 8}
            weighted_sum: {}

The adaptors are the registered PEFT methods
(:mod:`speechbrain_peft.adapters`), each with its settings under its name.
Three things differ from calling SpeechBrain's wrapper directly, each
because the direct route silently gives wrong results:

* the wrapper is built with ``freeze=False`` (``freeze=True`` runs the model
  under ``torch.no_grad()``, so adaptors inside it never learn) and the base
  parameters are frozen here instead;
* LayerDrop is set from our ``layerdrop`` argument (0 by default): in train
  mode it drops entries of ``hidden_states`` and breaks the weighted sum;
* padding never reaches a file's features (see
  :mod:`speechbrain_peft.model.padding`).

Authors
 * speechbrain-peft-ser developers 2026
"""

import contextlib
import functools
import logging
import re

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

from speechbrain_peft.adapters import (
    METHODS,
    adaptor_settings,
    as_dict,
    owner_of,
    upgrade_flat_settings,
)
from speechbrain_peft.model.activation_checkpointing import (
    checkpointing_mode,
    enable_activation_checkpointing,
)
from speechbrain_peft.model.layer_split import lower_part, upper_part
from speechbrain_peft.model.padding import (
    masked_front_end,
    normalize_valid,
    valid_sample_mask,
)
from speechbrain_peft.model.pretrained import (
    encoder_identity,
    load_encoder_config,
)
from speechbrain_peft.model.saved_tensors import load_trainable, save_trainable
from speechbrain_peft.utils.errors import ConfigError

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
    adapters : dict or list, optional
        ``{method: {setting: value}}`` of registered PEFT methods (see
        :data:`speechbrain_peft.adapters.METHODS`; settings left out take
        their defaults), or a list of method names with default settings.
        With a method that combines the layers (``weighted_sum``) the output
        is that combination of all hidden states, otherwise the last layer.
    adapter_layers : list of int, optional
        Encoder layers that receive the per-layer adaptors (all when None).
        Layers below the lowest adapted layer get no gradient, so
        backpropagation stops there.
    full_finetune : bool
        Train every encoder parameter (the baseline); adaptors still apply.
    freeze_feature_extractor : bool
        With ``full_finetune``, keep the CNN front-end frozen (usual
        practice for wav2vec 2.0-family fine-tuning).
    layerdrop : float
        LayerDrop probability during training; keep 0 with a weighted sum.
    activation_checkpointing : bool or str
        Recompute each encoder layer's activations in the backward instead
        of keeping them: less memory (a larger batch or longer utterances
        fit), more time. ``"full"`` (or True) recomputes whole layers,
        ``"selective"`` keeps the feed-forward projections' outputs and
        recomputes the rest (see
        :mod:`speechbrain_peft.model.activation_checkpointing`). Outputs and
        gradients are the plain path's. No effect when nothing inside the
        encoder trains.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_peft.synthetic.encoders import save_tiny_encoder
    >>> path = save_tiny_encoder("wavlm", tempfile.mkdtemp())
    >>> enc = PEFTEncoder(str(path), adapters={"lora": {}, "weighted_sum": {}})
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
        adapters=None,
        adapter_layers=None,
        full_finetune=False,
        freeze_feature_extractor=True,
        layerdrop=0.0,
        activation_checkpointing=False,
    ):
        super().__init__()
        self.settings = adaptor_settings(adapters)
        checkpointing = checkpointing_mode(activation_checkpointing)
        self.source = str(source)
        self.adapter_layers = (
            None if adapter_layers is None else list(adapter_layers)
        )
        # Everything needed to rebuild this lobe (inference, stage two).
        self.init_kwargs = {
            "source": self.source,
            "adapters": as_dict(self.settings),
            "adapter_layers": self.adapter_layers,
            "full_finetune": bool(full_finetune),
            "freeze_feature_extractor": bool(freeze_feature_extractor),
            "layerdrop": layerdrop,
        }
        model_type = load_encoder_config(self.source, save_path).model_type
        if model_type not in WRAPPERS:
            raise ConfigError(
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
        # channel over the whole padded row: unmasked, padding would change
        # the features of the shorter files.
        self.front_end_masked = model.config.feat_extract_norm == "group"
        # What must agree with a checkpoint or a stage-one run.
        self.config_summary = {
            "source": self.source,
            "adapters": self.init_kwargs["adapters"],
            "adapter_layers": self.adapter_layers,
            "full_finetune": bool(full_finetune),
            "model_type": model_type,
            "hidden_size": model.config.hidden_size,
            "num_layers": model.config.num_hidden_layers,
        }
        self._freeze(model, full_finetune, freeze_feature_extractor)
        self._inject(model)
        if checkpointing and self.encoder_trains:
            enable_activation_checkpointing(model, checkpointing)
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
            self.adapters or "none",
            counts["trainable"],
            counts["total"],
            counts["trainable_pct"],
        )

    @staticmethod
    def _freeze(model, full_finetune, freeze_feature_extractor):
        """Freeze the base weights (all but what full fine-tuning trains)."""
        for param in model.parameters():
            param.requires_grad = full_finetune
        cnn = model.feature_extractor
        if full_finetune and freeze_feature_extractor:
            cnn.requires_grad_(False)
        if not any(p.requires_grad for p in cnn.parameters()):
            # Frozen weights are not enough: in train mode transformers marks
            # the waveform as requiring grad (for gradient checkpointing)
            # unless this flag is cleared, and then backpropagates through
            # the whole CNN on every step for nothing.
            cnn._freeze_parameters()

    def _inject(self, model):
        """Put every adaptor into the encoder; a method that combines the
        layers becomes this lobe's child under its own name."""
        combining = [
            name for name in self.settings if METHODS[name].combines_layers
        ]
        if len(combining) > 1:
            raise ConfigError(
                f"Adaptors {combining} each combine the layer outputs; use "
                "one of them"
            )
        self.combiner_name = combining[0] if combining else None
        for name, settings in self.settings.items():
            method = METHODS[name]
            if method.combines_layers:
                states = model.config.num_hidden_layers + 1
                self.add_module(name, method.combiner(settings, states))
            else:
                method.inject(model, settings, self.adapter_layers)

    @property
    def adapters(self):
        """The names of this lobe's adaptors."""
        return list(self.settings)

    @property
    def combiner(self):
        """The module combining the layer outputs, or None (last layer)."""
        return getattr(self, self.combiner_name) if self.combiner_name else None

    @property
    def encoder_trains(self):
        """Whether any parameter inside the encoder trains (stage two may
        freeze loaded adaptors after construction)."""
        return any(p.requires_grad for p in self.ssl.model.parameters())

    @property
    def lowest_trained_layer(self):
        """The lowest encoder layer with a trainable parameter, when every
        trainable parameter of the encoder lies in its layers: what is
        below it (front-end included) gives the same output every epoch.
        None otherwise (nothing trains, or the front-end does)."""
        trained = [
            name
            for name, param in self.ssl.model.named_parameters()
            if param.requires_grad
        ]
        layers = [re.match(r"encoder\.layers\.(\d+)\.", n) for n in trained]
        if not trained or not all(layers):
            return None
        return min(int(match.group(1)) for match in layers)

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

    def merge_adaptors(self):
        """Fold every adaptor whose method can merge (LoRA, peft tuners)
        into the encoder's weights and take it out of the model.

        Returns
        -------
        list of str
            The merged adaptors (the lobe's settings still name them: they
            say what the lobe was trained with).
        """
        model = self.ssl.model
        merged = [name for name in self.adapters if METHODS[name].mergeable]
        for name in merged:
            METHODS[name].merge(model)
            METHODS[name].unload(model)
        return merged

    def plain_state_dict(self):
        """The transformers model's state dict without the adaptors still
        in it: exactly the parameter names of the plain model."""
        return {
            name: tensor
            for name, tensor in self.ssl.model.state_dict().items()
            if owner_of(name) is None
        }

    def train(self, mode=True):
        """Keep a fully frozen encoder in eval mode (deterministic features,
        no dropout on what only feeds the head)."""
        super().train(mode)
        if not self.encoder_trains:
            self.ssl.model.eval()
        return self

    def forward(self, wav=None, wav_lens=None, states=None, lower=None):
        """Encode a padded batch, or go on from cached states.

        Arguments
        ---------
        wav : torch.Tensor
            ``[batch, samples]`` waveforms at the encoder's sample rate.
        wav_lens : torch.Tensor, optional
            Relative lengths (SpeechBrain convention); all 1 when None.
        states : torch.Tensor, optional
            Instead of ``wav``: states from :meth:`hidden_states` (or their
            pooled vectors) to combine, as a feature cache gives them; only
            the combination is returned. Called through ``forward`` so that
            a DDP wrapper synchronises the combination's gradients.
        lower : torch.Tensor, optional
            Instead of ``wav``: the lower part's states from
            :meth:`lower_states`, with ``wav_lens`` the relative lengths of
            their frames; the layers from :attr:`lowest_trained_layer` on
            run.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, dim]`` features (the layers' combination, or
            the last layer).
        feat_lens : torch.Tensor
            Relative lengths of the valid frames.
        """
        if states is not None:
            return self.combine(states)
        if lower is not None:
            hidden = self.upper_hidden_states(lower, wav_lens)
            return self.combine(hidden), wav_lens
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
            when the layers are combined, else only the last one.
        feat_lens : torch.Tensor
            Relative lengths of the valid frames.
        """
        wav, mask, front_end = self._model_input(wav, wav_lens)
        # With no trainable parameter inside the encoder, building its graph
        # would only cost memory and time.
        grad_context = (
            contextlib.nullcontext()
            if self.encoder_trains and torch.is_grad_enabled()
            else torch.no_grad()
        )
        # The attention mask is always given, even to checkpoints trained
        # without one: then the transformer ignores padding too, and every
        # file gets the features it gets alone.
        with grad_context, front_end:
            out = self.ssl.model(
                wav,
                attention_mask=mask.long(),
                output_hidden_states=self.combiner is not None,
            )
        if self.combiner is not None:
            expected = self.ssl.model.config.num_hidden_layers + 1
            if len(out.hidden_states or ()) != expected:
                raise ConfigError(
                    f"{self.combiner_name} needs {expected} hidden states but "
                    f"the encoder returned {len(out.hidden_states or ())}: "
                    "LayerDrop skips layers in training; set layerdrop: 0"
                )
            hidden = torch.stack(out.hidden_states)
        else:
            hidden = out.last_hidden_state.unsqueeze(0)
        return hidden, self._relative_frames(mask, hidden)

    def lower_states(self, wav, wav_lens=None):
        """What a lower-layer cache stores: the input of the lowest
        trained layer (with a layer combination, the inputs of every layer
        up to it), computed without a graph and with the lower part in eval
        mode: dropout does not act below that layer.

        Arguments
        ---------
        wav, wav_lens : torch.Tensor
            As in :meth:`forward`.

        Returns
        -------
        lower : torch.Tensor
            ``[states, batch, frames, dim]``, for ``forward(lower=...)``.
        feat_lens : torch.Tensor
            Relative lengths of the valid frames.
        """
        split = self.lowest_trained_layer
        if split is None:
            raise ConfigError(
                "The lower layers can only be computed apart when every "
                "trainable encoder parameter lies in the encoder layers"
            )
        wav, mask, front_end = self._model_input(wav, wav_lens)
        model = self.ssl.model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), front_end:
                lower = lower_part(model, wav, mask.long(), split)
        finally:
            model.train(was_training)
        if self.combiner is None:
            lower = lower[-1:]
        return lower, self._relative_frames(mask, lower)

    def upper_hidden_states(self, lower, feat_lens):
        """The hidden states :meth:`hidden_states` gives, from the lower
        part's states (:meth:`lower_states`) and the layers above."""
        frames = lower.shape[2]
        n_frames = torch.round(feat_lens * frames)
        positions = torch.arange(frames, device=lower.device)
        frame_mask = positions[None, :] < n_frames[:, None]
        outputs, last = upper_part(
            self.ssl.model, lower[-1], frame_mask, self.lowest_trained_layer
        )
        if self.combiner is not None:
            return torch.cat([lower, torch.stack(outputs)])
        return last.unsqueeze(0)

    def _model_input(self, wav, wav_lens):
        """The waveform as the model takes it, the mask of its valid
        samples and the context that keeps padding out of the front-end."""
        if wav_lens is None:
            wav_lens = torch.ones(wav.shape[0], device=wav.device)
        mask = valid_sample_mask(wav, wav_lens)
        if self.normalize_wav:
            wav = normalize_valid(wav, mask)
        front_end = (
            masked_front_end(self.ssl.model.feature_extractor, mask.sum(1))
            if self.front_end_masked
            else contextlib.nullcontext()
        )
        return wav, mask, front_end

    def _relative_frames(self, mask, hidden):
        """Relative lengths of the valid frames of ``hidden``
        ``[states, batch, frames, dim]``."""
        n_frames = self.ssl.model._get_feat_extract_output_lengths(
            mask.sum(dim=1)
        )
        return n_frames.to(hidden.dtype) / hidden.shape[2]

    def combine(self, hidden):
        """Features from :meth:`hidden_states` ``[states, batch, ...]`` (or
        from their pooled vectors): their combination, or the last
        layer."""
        if self.combiner is not None:
            return self.combiner(hidden)
        return hidden[-1]

    @functools.cached_property
    def weights_identity(self):
        """The base encoder's name and weights (see
        :func:`~speechbrain_peft.model.pretrained.encoder_identity`), read
        once: what runs, checkpoints and exports name it by."""
        return encoder_identity(self.source, self.ssl.model.config)

    def _checkpoint_metadata(self):
        """What a checkpoint of this lobe must agree with: its
        configuration and the base encoder's weights."""
        return {
            **self.config_summary,
            "weights": self.weights_identity["revision"],
        }

    @mark_as_saver
    def _save(self, path):
        save_trainable(self, path, metadata=self._checkpoint_metadata())

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        del end_of_epoch  # the same tensors are restored either way
        expected = self._checkpoint_metadata()

        def upgrade(saved):
            # Checkpoints written before the weights were recorded cannot
            # be checked for them.
            return {
                "weights": expected["weights"],
                **upgrade_flat_settings(saved),
            }

        load_trainable(self, path, expected_metadata=expected, upgrade=upgrade)
