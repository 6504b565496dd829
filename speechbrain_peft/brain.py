"""The one ``EmotionBrain`` used by every recipe: categorical or dimensional
emotion from a PEFT encoder lobe and a pooling head.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import logging
from pathlib import Path

import speechbrain as sb
import torch

from speechbrain_peft.losses import ccc_loss, mse_loss
from speechbrain_peft.metrics import EmotionMetrics
from speechbrain_peft.plots import plot_confusion, plot_training_curves

logger = logging.getLogger(__name__)

# The dev metric that selects the best checkpoint, per task.
SELECTION_KEY = {"categorical": "UA", "dimensional": "CCC_mean"}


class EmotionBrain(sb.Brain):
    """Trains ``modules.encoder`` (a
    :class:`~speechbrain_peft.encoder.PEFTEncoder`) and ``modules.head`` (an
    :class:`~speechbrain_peft.heads.EmotionHead`).

    Expected hparams: ``task`` (``categorical`` | ``dimensional``),
    ``output_folder``, ``lr_annealing``, ``train_logger``, ``epoch_counter``,
    and for dimensional tasks ``dimensional_loss`` (``ccc`` | ``mse``).
    For categorical tasks set ``brain.label_names`` before fitting.

    Each dev pass logs the stats, anneals the learning rate, appends to
    ``history.json``, and keeps the best checkpoint by dev UA (categorical)
    or dev mean CCC (dimensional) plus the latest one for resuming. Each
    :meth:`evaluate` stores its split's metrics and per-utterance
    predictions for :meth:`write_results`.
    """

    label_names = None
    sampler = None

    @property
    def selection_key(self):
        """The dev metric that selects the best checkpoint."""
        return SELECTION_KEY[self.hparams.task]

    def compute_forward(self, batch, stage):
        """Encoder features pooled by the head into logits or dimensions."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        feats, feat_lens = self.modules.encoder(wavs, lens)
        return self.modules.head(feats, feat_lens)

    def compute_objectives(self, predictions, batch, stage):
        """Cross-entropy, or CCC (MSE) loss on the three dimensions."""
        targets = batch.target_tensor.data
        if self.hparams.task == "categorical":
            targets = targets.view(-1).long()
            loss = torch.nn.functional.cross_entropy(predictions, targets)
        elif getattr(self.hparams, "dimensional_loss", "ccc") == "mse":
            loss = mse_loss(predictions, targets)
        else:
            loss = ccc_loss(predictions, targets)
        if stage != sb.Stage.TRAIN:
            self.metrics.append(batch.id, predictions.detach(), targets)
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Fresh metric accumulators; log the padding of this epoch."""
        self.metrics = EmotionMetrics(self.hparams.task, self.label_names)
        if stage == sb.Stage.TRAIN and self.sampler is not None:
            self.sampler.set_epoch(epoch)
            logger.info(
                "Epoch %s: %.1f%% of the audio in training batches is padding",
                epoch,
                100 * self.sampler.padding_fraction(),
            )

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, anneal, checkpoint (dev) or record results (test)."""
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            return
        stats = {"loss": stage_loss, **self.metrics.summarize()}
        scalars = {k: v for k, v in stats.items() if k not in ("confusion",)}
        if stage == sb.Stage.VALID:
            old_lr, new_lr = self.hparams.lr_annealing(stats["loss"])
            sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": old_lr},
                train_stats={"loss": self.train_loss},
                valid_stats=scalars,
            )
            self._record_history(epoch, old_lr, scalars)
            self.checkpointer.save_and_keep_only(
                meta={self.selection_key: stats[self.selection_key]},
                max_keys=[self.selection_key],
            )
        else:
            self.evaluated[self.eval_split] = {
                "stats": stats,
                "predictions": self.metrics.per_utterance(),
            }

    def _record_history(self, epoch, lr, scalars):
        # Keyed by epoch so that a resumed run overwrites, never duplicates.
        path = Path(self.hparams.output_folder) / "history.json"
        history = json.loads(path.read_text()) if path.exists() else {}
        history[str(epoch)] = {
            "epoch": epoch,
            "lr": lr,
            "train_loss": self.train_loss,
            **{f"valid_{k}": v for k, v in scalars.items() if k != "n"},
        }
        path.write_text(json.dumps(history, indent=2))

    def evaluate_split(self, name, dataset, **loader_kwargs):
        """Evaluate the best checkpoint on ``dataset`` and keep the results
        under ``name`` (``dev``, ``test``, ``test1``...)."""
        if not hasattr(self, "evaluated"):
            self.evaluated = {}
        self.eval_split = name
        self.evaluate(
            dataset,
            max_key=self.selection_key,
            test_loader_kwargs=loader_kwargs,
        )
        return self.evaluated[name]["stats"]

    def write_results(self, run_info):
        """Write ``results.json``, per-utterance predictions and plots.

        Arguments
        ---------
        run_info : dict
            Run description (config name, corpus, encoder, seed, fold,
            parent run...) stored at the top of ``results.json``.

        Returns
        -------
        dict
            The content of ``results.json``.
        """
        out = Path(self.hparams.output_folder)
        encoder = self.modules.encoder
        counts = encoder.parameter_counts()
        head_params = sum(p.numel() for p in self.modules.head.parameters())
        results = {
            **run_info,
            "task": self.hparams.task,
            "encoder": encoder.source,
            "adapters": encoder.adapters,
            "params": {
                "trainable": counts["trainable"] + head_params,
                "total": counts["total"] + head_params,
                "trainable_pct": 100.0
                * (counts["trainable"] + head_params)
                / (counts["total"] + head_params),
                "encoder_trainable": counts["trainable"],
                "head": head_params,
            },
            "label_set": self.label_names,
            "splits": {},
        }
        for split, evaluated in self.evaluated.items():
            results["splits"][split] = evaluated["stats"]
            with open(out / f"predictions_{split}.jsonl", "w") as handle:
                for row in evaluated["predictions"]:
                    handle.write(json.dumps(row) + "\n")
            if self.hparams.task == "categorical":
                plot_confusion(
                    evaluated["stats"]["confusion"],
                    self.label_names,
                    out / f"confusion_{split}.png",
                    title=f"{run_info.get('config', '')} {split}",
                )
        history_path = out / "history.json"
        if history_path.exists():
            history = json.loads(history_path.read_text())
            plot_training_curves(
                [history[k] for k in sorted(history, key=int)],
                out / "training_curves.png",
            )
        (out / "results.json").write_text(json.dumps(results, indent=2))
        logger.info("Results written to %s", out / "results.json")
        return results
