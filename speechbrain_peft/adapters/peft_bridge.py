"""Any Hugging Face ``peft`` tuner (IA3, LoHa, LoKr, LoRA, ...) as a method:
``adapters: {peft: {peft_type: IA3, target_modules: [...], ...}}``, the
settings being the peft config's own. peft wraps the target modules'
``forward``, which WavLM's attention never calls: a WavLM attention holding
a target is rerouted through its projection modules
(:mod:`speechbrain_peft.adapters.wavlm_attention`) so the tuner acts there
too.

Authors
 * speechbrain-peft-ser developers 2026
"""

import dataclasses
import json

from peft import PeftConfig, get_peft_config, inject_adapter_in_model
from peft.tuners.tuners_utils import BaseTunerLayer, check_target_module_exists

from speechbrain_peft.adapters.registry import Method, register
from speechbrain_peft.adapters.wavlm_attention import (
    call_projections,
    is_wavlm_attention,
    restore_attention,
)
from speechbrain_peft.utils.errors import ConfigError

# peft keeps a tuner's tensors under this adapter name.
ADAPTER_NAME = "default"


def apply_peft_config(model, config):
    """Inject the tuner described by ``config`` into ``model``.

    Arguments
    ---------
    model : torch.nn.Module
        The encoder (modified in place). Base parameters must already be
        frozen; the injected tuner parameters are trainable.
    config : peft.PeftConfig or dict
        A peft config, or its dict form (e.g. ``{"peft_type": "IA3",
        "target_modules": ["feed_forward.output_dense"],
        "feedforward_modules": ["feed_forward.output_dense"]}``).

    Returns
    -------
    torch.nn.Module
        The same model, with the tuner injected.
    """
    if isinstance(config, dict):
        config = get_peft_config(dict(config))
    targeted = [
        name
        for name, _ in model.named_modules()
        if name and check_target_module_exists(config, name)
    ]
    if not targeted:
        raise ConfigError(
            f"peft {config.peft_type} targets {config.target_modules} match "
            f"no module of {type(model).__name__}"
        )
    # peft marks everything but its own tensors as frozen: keep what the
    # lobe (full fine-tuning) and the other adaptors train.
    trains = {n for n, p in model.named_parameters() if p.requires_grad}
    model = inject_adapter_in_model(config, model, adapter_name=ADAPTER_NAME)
    for name, param in model.named_parameters():
        if name in trains:
            param.requires_grad_(True)
    for name in targeted:
        parent = model.get_submodule(name.rpartition(".")[0])
        if is_wavlm_attention(parent):
            call_projections(parent)
    return model


@dataclasses.dataclass
class PeftSettings:
    """A peft config, kept as the mapping the YAML gave (``peft_type`` and
    the type's own fields); peft validates it."""

    config: dict

    def __post_init__(self):
        if isinstance(self.config, PeftConfig):
            self.config = json.loads(
                json.dumps(self.config.to_dict(), default=sorted)
            )
        if "peft_type" not in self.config:
            raise ConfigError(
                "The peft adaptor needs a `peft_type` (IA3, LOHA, LORA, ...) "
                f"and that type's settings; got {self.config}"
            )
        get_peft_config(dict(self.config))


class Peft(Method):
    """A Hugging Face peft tuner as a registered method."""

    name = "peft"
    config_class = PeftSettings
    legacy_fields = {"peft_config": "config"}

    def settings(self, values=None):
        """The peft config of the YAML mapping (see :class:`PeftSettings`)."""
        if isinstance(values, PeftConfig):
            return PeftSettings(values)
        return PeftSettings(dict(values or {}))

    def describe(self, config):
        """The peft config mapping, as given."""
        return dict(config.config)

    def legacy_settings(self, flat):
        """The ``peft_config`` of a run written before the registry."""
        return flat.get("peft_config")

    def example(self):
        """IA3 on the feed-forward output of every layer (identity at init)."""
        target = ["feed_forward.output_dense"]
        return PeftSettings(
            {
                "peft_type": "IA3",
                "target_modules": target,
                "feedforward_modules": target,
            }
        )

    def inject(self, model, config, layers=None):
        """Inject the tuner (it targets modules by name, not by layer)."""
        apply_peft_config(model, config.config)

    mergeable = True

    def merge(self, model):
        """Fold every tuner into its base weights (peft's own merge)."""
        layers = _tuner_layers(model)
        for _, layer in layers:
            layer.merge()
        return len(layers)

    def unmerge(self, model):
        """Take the tuners back out of the base weights."""
        for _, layer in _tuner_layers(model):
            layer.unmerge()

    def unload(self, model):
        """Put the (merged) base modules back in place of the tuner layers,
        so the model has its original parameter names."""
        layers = _tuner_layers(model)
        for name, layer in layers:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name)
            setattr(parent, child, layer.get_base_layer())
            restore_attention(parent)
        return len(layers)

    def owns(self, parameter_name):
        """The tuner's tensors: peft keeps them under the adapter's name
        (``lora_A.default.weight``, ``ia3_l.default``)."""
        return ADAPTER_NAME in parameter_name.split(".")


def _tuner_layers(model):
    """``(name, layer)`` of the peft tuner layers in ``model``."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, BaseTunerLayer)
    ]


register(Peft())
