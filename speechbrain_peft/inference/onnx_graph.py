"""A run as an ONNX graph: ``model.onnx`` that onnxruntime runs with the
probabilities (or dimensions) :class:`EmotionRecognizer` gives.

Inputs: ``waveform`` (float32 ``[batch, samples]``, mono at the run's
sample rate, as read from the file) and ``wav_lens`` (float32 ``[batch]``,
relative lengths, SpeechBrain's convention; all ones for one file or
files of one length). Outputs: ``scores``, the class probabilities in the
order of the ``labels`` metadata (a dimensional run: arousal, valence and
dominance on the corpus scale), and ``embedding``, the head's pooled
input. Batch and length are dynamic; the graph's metadata holds the task,
labels and sample rate.

The graph is traced with the TorchScript exporter: torch.export (the
``dynamo`` exporter) refuses the dynamic batch of transformers' speech
encoders. Tracing records one path through the code, so the export traces
a padded batch (the masked path every batch takes) and then checks
onnxruntime against the recognizer on batches of other sizes and
lengths before anything is kept.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import warnings

import numpy as np
import onnx
import onnxruntime
import torch
from torch import nn

from speechbrain_peft.data.datasets import (
    MIN_SAMPLES,
    denormalize_dimensions,
)
from speechbrain_peft.utils.errors import UserError

INPUTS = ("waveform", "wav_lens")
OUTPUTS = ("scores", "embedding")
OPSET = 17
# What the exported graph may differ from the recognizer by.
TOLERANCE = 1e-4


class ExportCheckError(UserError):
    """The ONNX graph does not give the recognizer's outputs."""


class RecognizerGraph(nn.Module):
    """What ``model.onnx`` computes: a recognizer's scores and embeddings
    from waveforms and relative lengths.

    Arguments
    ---------
    recognizer : speechbrain_peft.inference.EmotionRecognizer
        The run, in eval mode.

    Example
    -------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from speechbrain_peft.inference import EmotionRecognizer
    >>> from speechbrain_peft.synthetic.encoders import save_tiny_encoder
    >>> from speechbrain_peft.synthetic.runs import save_random_run
    >>> root = Path(tempfile.mkdtemp())
    >>> source = save_tiny_encoder("wavlm", root / "enc")
    >>> run = save_random_run(root / "run", source, ["lora"], ["neu", "ang"])
    >>> recognizer = EmotionRecognizer.from_run(run)
    >>> wav = torch.randn(1, 8000)
    >>> scores, embedding = RecognizerGraph(recognizer)(wav, torch.ones(1))
    >>> scores.shape, embedding.shape
    (torch.Size([1, 2]), torch.Size([1, 64]))
    >>> expected = recognizer.classify_batch(wav)[0]["probabilities"]
    >>> torch.testing.assert_close(scores[0].double(), torch.tensor(
    ...     [expected["neu"], expected["ang"]], dtype=torch.float64),
    ...     atol=1e-6, rtol=0)
    """

    def __init__(self, recognizer):
        super().__init__()
        self.recognizer = recognizer
        self.task = recognizer.task
        self.dimension_scale = recognizer.dimension_scale

    def forward(self, waveform, wav_lens):
        """``(scores, embedding)``: see the module docstring."""
        encoder, head = self.recognizer.encoder, self.recognizer.head
        embedding = head.pool(*encoder(waveform, wav_lens))
        outputs = head(embedding)
        if self.task == "categorical":
            return outputs.softmax(dim=-1), embedding
        return denormalize_dimensions(outputs, self.dimension_scale), embedding


def _trace_batch(sample_rate):
    """A padded batch of two (the second row half padding): tracing
    follows the masked path, which every batch then takes."""
    generator = torch.Generator().manual_seed(0)
    waveform = 0.1 * torch.randn(2, sample_rate, generator=generator)
    waveform[1, sample_rate // 2 :] = 0.0
    return waveform, torch.tensor([1.0, 0.5])


def _check_batches(sample_rate):
    """Batches unlike the traced one: other sizes, lengths and padding."""
    generator = torch.Generator().manual_seed(1)
    batches = []
    for rows, seconds in ((1, 0.7), (3, 1.6)):
        samples = int(seconds * sample_rate)
        waveform = 0.1 * torch.randn(rows, samples, generator=generator)
        wav_lens = torch.linspace(1.0, 0.55, rows)
        for row, length in enumerate(wav_lens):
            waveform[row, int(round(float(length) * samples)) :] = 0.0
        batches.append((waveform, wav_lens))
    return batches


def _add_metadata(path, metadata):
    """Store ``metadata`` (str values) in the graph's ``metadata_props``,
    which ``InferenceSession.get_modelmeta().custom_metadata_map`` reads."""
    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def check_graph(path, graph):
    """Raise :class:`ExportCheckError` unless onnxruntime gives ``graph``'s
    outputs (within :data:`TOLERANCE`) on batches unlike the traced one."""
    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    sample_rate = graph.recognizer.config["sample_rate"]
    for waveform, wav_lens in _check_batches(sample_rate):
        with torch.no_grad():
            expected = [t.numpy() for t in graph(waveform, wav_lens)]
        found = session.run(
            None, {"waveform": waveform.numpy(), "wav_lens": wav_lens.numpy()}
        )
        for name, want, got in zip(OUTPUTS, expected, found):
            difference = float(np.abs(want - got).max())
            if difference > TOLERANCE:
                raise ExportCheckError(
                    f"{path}: onnxruntime's {name} differ from the model's "
                    f"by {difference:.2g} on a batch of {tuple(waveform.shape)}"
                    "; please report it with the run's run.json"
                )


def export_onnx(recognizer, path):
    """Write ``recognizer`` to ``path`` as an ONNX graph and check it.

    Arguments
    ---------
    recognizer : speechbrain_peft.inference.EmotionRecognizer
        The run to export.
    path : pathlib.Path
        The ``.onnx`` file to write.

    Returns
    -------
    dict
        The metadata stored in the graph (``task``, ``labels``,
        ``sample_rate``, JSON-encoded where not a string).
    """
    graph = RecognizerGraph(recognizer).eval()
    sample_rate = recognizer.config["sample_rate"]
    with warnings.catch_warnings():
        # The tracer warns at every data-dependent Python value; the
        # batches check_graph runs show that none of them matters.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index")
        torch.onnx.export(
            graph,
            _trace_batch(sample_rate),
            str(path),
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_axes={
                "waveform": {0: "batch", 1: "samples"},
                "wav_lens": {0: "batch"},
                "scores": {0: "batch"},
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    metadata = {
        "task": recognizer.task,
        "labels": json.dumps(recognizer.output_names),
        "sample_rate": str(sample_rate),
        # Shorter files are zero-padded to this many samples, as
        # EmotionRecognizer pads them (the encoder's receptive field).
        "min_samples": str(MIN_SAMPLES),
    }
    _add_metadata(path, metadata)
    check_graph(path, graph)
    return metadata
