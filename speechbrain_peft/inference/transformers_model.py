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
        holding one (``revision`` honoured)."""
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
        return model.eval()

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
