"""The modeling code of an ``export --format transformers`` folder: a run
as a transformers audio-classification model, so that
``transformers.pipeline("audio-classification", model=DIR,
trust_remote_code=True)`` and ``AutoModelForAudioClassification`` load it.

The export copies this file into the folder as ``modeling_peft_ser.py``
and names its classes in ``config.json``'s ``auto_map``. The model inside
is the run's :class:`~speechbrain_peft.inference.EmotionRecognizer` (the
merged encoder, the adaptors that do not merge, the head), loaded from the
folder's ``run.json``, ``adapters.safetensors`` and ``encoder/``: our head
(masked mean, Linear-ReLU-Linear) and adaptors such as gates and
bottleneck adapters have no stock transformers class, and a second
implementation of them could drift from the trained one. Loading therefore
needs this package installed (``pip install speechbrain-peft-ser``).

Outputs are the pipeline's ``logits``: the head's logits for a categorical
run (the pipeline's softmax gives the recognizer's probabilities), and
arousal, valence and dominance on the corpus scale for a dimensional run
(``problem_type: regression``, so the pipeline applies nothing).

Authors
 * speechbrain-peft-ser developers 2026
"""

from pathlib import Path

import torch
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from speechbrain_peft.data.datasets import denormalize_dimensions
from speechbrain_peft.inference.recognizer import EmotionRecognizer


class PEFTSERConfig(PretrainedConfig):
    """``config.json`` of an exported run: the labels (``id2label``),
    ``problem_type`` and the run's task and sample rate."""

    model_type = "peft_ser"

    def __init__(self, task="categorical", sample_rate=16000, **kwargs):
        self.task = task
        self.sample_rate = sample_rate
        super().__init__(**kwargs)


class PEFTSERForAudioClassification(PreTrainedModel):
    """A trained run behind transformers' audio-classification interface.

    Build it with :meth:`from_pretrained` on an export folder (or a Hub
    repository holding one).

    Arguments
    ---------
    config : PEFTSERConfig
        The export's ``config.json``.
    """

    config_class = PEFTSERConfig
    main_input_name = "input_values"
    base_model_prefix = "recognizer"

    def __init__(self, config):
        super().__init__(config)
        self.recognizer = None
        self.post_init()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """Load the export in a folder, or download a Hub repository
        holding one (``revision`` honoured). The model runs in float32
        (another ``dtype`` is refused) on one device (``device_map`` a
        device, or the pipeline's ``device``)."""
        device = _one_device(kwargs.get("device_map"))
        _check_float32(kwargs.get("dtype", kwargs.get("torch_dtype")))
        folder = Path(pretrained_model_name_or_path)
        if not folder.is_dir():
            from huggingface_hub import snapshot_download

            folder = Path(
                snapshot_download(
                    str(pretrained_model_name_or_path),
                    revision=kwargs.get("revision"),
                )
            )
        config = kwargs.get("config")
        if not isinstance(config, PEFTSERConfig):
            config = PEFTSERConfig.from_pretrained(folder)
        model = cls(config)
        # Attached after post_init, so that transformers' weight
        # initialisation never touches the trained tensors.
        model.recognizer = EmotionRecognizer.from_run(folder)
        return model.to(device).eval()

    def forward(self, input_values, attention_mask=None, **kwargs):
        """Logits (categorical) or corpus-scale dimensions (dimensional).

        Arguments
        ---------
        input_values : torch.Tensor
            ``[batch, samples]`` waveforms at the run's sample rate, as the
            folder's feature extractor gives them (unnormalised: the
            encoder normalises the valid samples itself).
        attention_mask : torch.Tensor, optional
            ``[batch, samples]``, 1 on the valid samples of padded rows.

        Returns
        -------
        transformers.modeling_outputs.SequenceClassifierOutput
        """
        if self.recognizer is None:
            raise RuntimeError(
                "Load this model with from_pretrained on an export folder"
            )
        wav_lens = None
        if attention_mask is not None:
            wav_lens = attention_mask.sum(dim=1) / input_values.shape[1]
        outputs = self.recognizer(input_values, wav_lens)
        if self.config.task == "dimensional":
            scale = self.recognizer.dimension_scale
            outputs = denormalize_dimensions(outputs, scale)
        return SequenceClassifierOutput(logits=outputs)

    def _init_weights(self, module):
        """Nothing to initialise: every tensor comes from the export."""


def _one_device(device_map):
    """The device a ``device_map`` argument names (cpu when None); a map
    spreading the model over devices is refused.

    Example
    -------
    >>> _one_device(None), _one_device("cuda:1"), _one_device({"": "cpu"})
    ('cpu', 'cuda:1', 'cpu')
    >>> _one_device("auto")
    Traceback (most recent call last):
    ...
    ValueError: device_map='auto': this model loads on one device; pass ...
    """
    if isinstance(device_map, dict) and set(device_map) == {""}:
        device_map = device_map[""]
    if device_map is None:
        return "cpu"
    if (
        isinstance(device_map, (str, int, torch.device))
        and device_map != "auto"
    ):
        return device_map
    raise ValueError(
        f"device_map={device_map!r}: this model loads on one device; pass "
        "device_map='cuda:0' (or a pipeline's device=0)"
    )


def _check_float32(dtype):
    """Refuse a ``dtype`` other than float32: the recognizer's
    normalisation and pooling are float32 code.

    Example
    -------
    >>> _check_float32("auto"), _check_float32(torch.float32)
    (None, None)
    >>> _check_float32(torch.float16)
    Traceback (most recent call last):
    ...
    ValueError: dtype=torch.float16: this model runs in float32; load it ...
    """
    if dtype in (None, "auto", "float32", torch.float32):
        return
    raise ValueError(
        f"dtype={dtype}: this model runs in float32; load it without dtype"
    )
