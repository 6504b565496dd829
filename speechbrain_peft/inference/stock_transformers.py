"""A run as transformers' own ``*ForSequenceClassification`` model, which
``pipeline("audio-classification")`` and ``AutoModelForAudioClassification``
load with no remote code.

A stock class computes the encoder's last hidden state or, with
``use_weighted_layer_sum``, a softmax-weighted sum of its ``L + 1`` hidden
states; then a ``projector`` Linear on every frame, the mean over the valid
frames and a ``classifier`` Linear. A run fits it exactly when each of its
adaptors merges into the encoder weights (LoRA, peft tuners) or is the
weighted sum of layers, and its head is linear (``hidden_size: null``).
The projector is then the head's linear map (the mean of an affine map of
the frames is that map of their mean) and the classifier the identity, or
for a dimensional run the map from the head's ``[-1, 1]`` scale to the
corpus scale, so that the logits are what ``EmotionRecognizer`` reports.

Authors
 * speechbrain-peft-ser developers 2026
"""

import copy

import torch
from transformers import (
    HubertForSequenceClassification,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForSequenceClassification,
    WavLMForSequenceClassification,
)

from speechbrain_peft.adapters import METHODS
from speechbrain_peft.adapters.weighted_sum import WeightedSum
from speechbrain_peft.utils.errors import ConfigError

STOCK_CLASSES = {
    "wavlm": WavLMForSequenceClassification,
    "hubert": HubertForSequenceClassification,
    "wav2vec2": Wav2Vec2ForSequenceClassification,
}


def label_fields(recognizer):
    """The config fields transformers' audio classification reads: the
    output names (``id2label``, ``label2id``) and the ``problem_type``."""
    names = recognizer.output_names
    return {
        "id2label": dict(enumerate(names)),
        "label2id": {name: index for index, name in enumerate(names)},
        "problem_type": (
            "single_label_classification"
            if recognizer.task == "categorical"
            else "regression"
        ),
    }


def feature_extractor(sample_rate, do_normalize):
    """The feature extractor of an exported folder: mono waveforms at
    ``sample_rate``, zero-padded, with the attention mask that keeps the
    padding out of the features, normalised per file or not."""
    return Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=sample_rate,
        padding_value=0.0,
        do_normalize=do_normalize,
        return_attention_mask=True,
    )


def _stock_problems(recognizer):
    """What keeps a run from a stock class; empty when it fits."""
    encoder = recognizer.encoder
    kept = [
        name
        for name in encoder.adapters
        if not METHODS[name].mergeable and name != encoder.combiner_name
    ]
    problems = []
    if kept:
        problems.append(f"its adaptors {kept} do not merge into the encoder")
    if encoder.combiner is not None and not isinstance(
        encoder.combiner, WeightedSum
    ):
        problems.append(
            f"{encoder.combiner_name} is not a softmax-weighted layer sum"
        )
    if not recognizer.head.is_linear:
        problems.append(
            "its head has a hidden layer "
            f"({recognizer.head.init_kwargs['hidden_size']} units; train "
            "with head hidden_size: null for a linear head)"
        )
    return problems


def check_stock_fit(recognizer):
    """Refuse a run that a stock class cannot hold exactly.

    Arguments
    ---------
    recognizer : speechbrain_peft.inference.EmotionRecognizer
        The loaded run.

    Raises
    ------
    ConfigError
        Naming what does not fit: adaptors that do not merge, a layer
        combination other than the weighted sum, a head with a hidden
        layer.
    """
    problems = _stock_problems(recognizer)
    if problems:
        raise ConfigError(
            "transformers' stock classes cannot hold this run: "
            f"{'; '.join(problems)}. Use --format transformers"
        )


def _output_map(recognizer):
    """The classifier's weight and bias: the identity, or the head's
    ``[-1, 1]`` scale to the corpus scale."""
    size = len(recognizer.output_names)
    if recognizer.task == "categorical":
        return torch.eye(size), torch.zeros(size)
    low, high = recognizer.dimension_scale
    half_range = (high - low) / 2
    return half_range * torch.eye(size), torch.full((size,), low + half_range)


def _stock_config(recognizer, model_class):
    """The encoder's config with the classification fields of the run."""
    encoder = recognizer.encoder
    config = copy.deepcopy(encoder.ssl.model.config)
    for field, value in label_fields(recognizer).items():
        setattr(config, field, value)
    config.use_weighted_layer_sum = encoder.combiner is not None
    config.classifier_proj_size = len(recognizer.output_names)
    config.architectures = [model_class.__name__]
    return config


def stock_model(recognizer):
    """The run as the stock class of its encoder family.

    The run's mergeable adaptors are merged into ``recognizer``'s encoder
    (in place) on the way.

    Arguments
    ---------
    recognizer : speechbrain_peft.inference.EmotionRecognizer
        The loaded run.

    Returns
    -------
    transformers.PreTrainedModel
        In eval mode; its logits are the recognizer's raw categorical
        outputs, or its dimensions on the corpus scale.

    Raises
    ------
    ConfigError
        When the run does not fit (see :func:`check_stock_fit`).
    """
    check_stock_fit(recognizer)
    encoder = recognizer.encoder
    encoder.merge_adaptors()
    model_class = STOCK_CLASSES[encoder.config_summary["model_type"]]
    model = model_class(_stock_config(recognizer, model_class))
    model.base_model.load_state_dict(encoder.plain_state_dict())
    head = recognizer.head.output_layer
    weight, bias = _output_map(recognizer)
    with torch.no_grad():
        model.projector.load_state_dict(head.state_dict())
        model.classifier.weight.copy_(weight)
        model.classifier.bias.copy_(bias)
        if encoder.combiner is not None:
            model.layer_weights.copy_(encoder.combiner.logits)
    return model.eval()
