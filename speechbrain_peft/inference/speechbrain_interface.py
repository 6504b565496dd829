"""SpeechBrain's interface to an exported speechbrain-peft-ser run.

``python -m speechbrain_peft.export RUN_DIR OUT_DIR --format speechbrain``
copies this file into the export as ``custom_interface.py``, beside a
``hyperparams.yaml`` that builds the run's
:class:`~speechbrain_peft.inference.EmotionRecognizer` from the folder, so
the export loads the way SpeechBrain models on the Hub do::

    from speechbrain.inference.interfaces import foreign_class

    classifier = foreign_class(
        source="OUT_DIR",
        pymodule_file="custom_interface.py",
        classname="PEFTEmotionClassifier",
    )
    out_prob, score, index, text_lab = classifier.classify_file("a.wav")

Authors
 * speechbrain-peft-ser developers 2026
"""

from pathlib import Path

import torch
from speechbrain.inference.interfaces import Pretrained


def export_folder():
    """The export folder: the one this file was copied into (symbolic
    links resolved, as SpeechBrain's fetching links local files)."""
    return str(Path(__file__).resolve().parent)


class PEFTEmotionClassifier(Pretrained):
    """Emotion recognition with an exported run, in SpeechBrain's interface
    (the run's :class:`~speechbrain_peft.inference.EmotionRecognizer` is
    the module ``recognizer``)."""

    MODULES_NEEDED = ["recognizer"]

    def classify_batch(self, wavs, wav_lens=None):
        """Classify a padded batch of waveforms at the run's sample rate.

        Returns
        -------
        out_prob : torch.Tensor
            Class probabilities ``[batch, classes]`` (categorical), or
            arousal, valence and dominance ``[batch, 3]`` on the corpus'
            scale (dimensional).
        score : torch.Tensor
            The best probability per utterance (categorical; None else).
        index : torch.Tensor
            The best class index per utterance (categorical; None else).
        text_lab : list of str
            The best label per utterance (categorical), or the dimension
            names (dimensional).
        """
        recognizer = self.mods.recognizer
        outputs = recognizer.decode(recognizer(wavs, wav_lens))
        if recognizer.task != "categorical":
            names = list(outputs[0])
            values = [[row[name] for name in names] for row in outputs]
            return torch.tensor(values), None, None, names
        labels = recognizer.label_set
        out_prob = torch.tensor(
            [
                [row["probabilities"][label] for label in labels]
                for row in outputs
            ]
        )
        score, index = out_prob.max(dim=-1)
        return out_prob, score, index, [labels[i] for i in index.tolist()]

    def classify_file(self, path):
        """Classify one audio file (any rate and channel count), as the
        run's evaluation did (see ``EmotionRecognizer.classify_file``)."""
        signal = self.mods.recognizer.read_audio(str(path))
        return self.classify_batch(signal.unsqueeze(0))

    def forward(self, wavs, wav_lens=None):
        """Same as :meth:`classify_batch`."""
        return self.classify_batch(wavs, wav_lens)
