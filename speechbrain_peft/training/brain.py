"""The one ``EmotionBrain`` used by every recipe: categorical or dimensional
emotion from a PEFT encoder lobe and a pooling head.

Beyond SpeechBrain's ``Brain`` it makes long runs survivable: a non-finite
loss skips its optimizer step (and too many in a row stop the run, pointing
at the learning rate), resuming falls back to an older checkpoint when the
newest cannot be loaded, and multi-process (DDP) training keeps the
effective batch of the single-process run.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import logging
from pathlib import Path

import speechbrain as sb
import torch
from speechbrain.dataio.dataloader import SaveableDataLoader
from speechbrain.utils.distributed import (
    if_main_process,
    is_distributed_initialized,
)

from speechbrain_peft.model.saved_tensors import CheckpointMismatchError
from speechbrain_peft.training.losses import ccc_loss, mse_loss
from speechbrain_peft.training.metrics import EmotionMetrics
from speechbrain_peft.utils.errors import ConfigError, UserError

logger = logging.getLogger(__name__)

# The dev metric that selects the best checkpoint, per task, unless the
# hparams' ``selection_metric`` names another.
SELECTION_KEY = {"categorical": "UA", "dimensional": "CCC_mean"}
CLASS_WEIGHTS = (None, "balanced")


def balanced_class_weights(labels, label_set):
    """``n / (C * n_c)`` for each class of ``label_set`` (scikit-learn's
    ``balanced`` rule): a class half as frequent weighs twice as much.

    Example
    -------
    >>> balanced_class_weights(["neu", "neu", "neu", "ang"], ["neu", "ang"])
    [0.6666666666666666, 2.0]
    """
    counts = [list(labels).count(label) for label in label_set]
    missing = [label for label, n in zip(label_set, counts) if n == 0]
    if missing:
        raise ConfigError(
            f"class_weights: balanced needs every class in the training "
            f"set; {missing} have no training utterance"
        )
    total = sum(counts)
    return [total / (len(label_set) * n) for n in counts]


class NonFiniteLossError(UserError, RuntimeError):
    """The loss stayed NaN or infinite for too many batches in a row."""


def per_process_accumulation(factor, world_size):
    """The gradient accumulation factor of each of ``world_size`` processes
    that keeps the effective batch of a single process accumulating
    ``factor`` batches: every process contributes one batch per
    accumulation step, so the factor is divided by the world size.

    Arguments
    ---------
    factor : int
        ``grad_accumulation_factor`` of the single-process run.
    world_size : int
        Number of data-parallel processes.

    Returns
    -------
    int

    Example
    -------
    >>> per_process_accumulation(4, 2)
    2
    >>> per_process_accumulation(1, 2)
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: grad_accumulation_factor=1 is ...
    """
    if factor % world_size:
        raise ConfigError(
            f"grad_accumulation_factor={factor} is not divisible by the "
            f"{world_size} processes, so the effective batch (batch_size x "
            f"{factor}) of a single-process run cannot be kept. Use a "
            f"multiple of {world_size} (e.g. --grad_accumulation_factor="
            f"{world_size * max(1, factor // world_size)}) or another "
            "number of processes."
        )
    return factor // world_size


def recover_with_fallback(checkpointer, max_key=None, min_key=None):
    """Load the checkpoint SpeechBrain would pick (the newest, or the best by
    ``max_key`` / ``min_key``); when it cannot be loaded (a file truncated
    by a crash or a full disk), warn and try the next one in that order.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        Holds the recoverables.
    max_key, min_key : str, optional
        As in ``Checkpointer.recover_if_possible``.

    Returns
    -------
    Checkpoint or None
        The loaded checkpoint; None when there is none.

    Raises
    ------
    CheckpointMismatchError
        When no checkpoint can be loaded: it names each one with why, and
        the folders to delete (the first error is its cause).
    """
    candidates = checkpointer.find_checkpoints(max_key=max_key, min_key=min_key)
    if not candidates:
        logger.info("No checkpoint in %s yet", checkpointer.checkpoints_dir)
        return None
    failures = []
    for index, checkpoint in enumerate(candidates):
        try:
            checkpointer.load_checkpoint(checkpoint)
            return checkpoint
        except Exception as error:  # any reader can fail on a broken file
            failures.append((checkpoint, error))
            following = candidates[index + 1 : index + 2]
            logger.warning(
                "Cannot load checkpoint %s (%s: %s); %s",
                checkpoint.path,
                type(error).__name__,
                error,
                f"falling back to the next one, {following[0].path}"
                if following
                else "no other checkpoint is left",
            )
            # A mid-epoch checkpoint may have set the train loader's resume
            # position before failing; an end-of-epoch one does not reset it.
            for recoverable in checkpointer.recoverables.values():
                if isinstance(recoverable, SaveableDataLoader):
                    recoverable._speechbrain_recovery_skip_to = None
    raise CheckpointMismatchError(
        f"No checkpoint in {checkpointer.checkpoints_dir} can be loaded: "
        + "; ".join(
            f"{checkpoint.path.name}: {type(error).__name__}: {error}"
            for checkpoint, error in failures
        )
        + ". Delete those checkpoint folders ("
        + " ".join(str(checkpoint.path) for checkpoint, _ in failures)
        + ") to train from scratch with the same command."
    ) from failures[0][1]


class EmotionBrain(sb.Brain):
    """Trains ``modules.encoder`` (a
    :class:`~speechbrain_peft.model.encoder.PEFTEncoder`) and ``modules.head``
    (an
    :class:`~speechbrain_peft.model.heads.EmotionHead`).

    Expected hparams: ``task`` (``categorical`` | ``dimensional``),
    ``output_folder``, ``lr_annealing``, ``train_logger``, ``epoch_counter``,
    and for dimensional tasks ``dimensional_loss`` (``ccc`` | ``mse``).
    Beyond ``Brain``'s arguments: ``label_names`` (the class names, in
    output order, for a categorical task), ``sampler`` (the training batch
    sampler, told each epoch) and ``feature_cache`` (see
    :func:`~speechbrain_peft.training.feature_cache.make_feature_cache`) and
    ``class_weights`` (one weight per class of ``label_names`` for the
    cross-entropy, see :func:`balanced_class_weights`).

    Each dev pass logs the stats, anneals the learning rate, appends to
    ``history.json``, and keeps the best checkpoint by dev UA (categorical)
    or dev mean CCC (dimensional) plus the latest one for resuming. Each
    :meth:`evaluate_split` stores its split's metrics and per-utterance
    predictions in ``evaluated`` (see
    :mod:`speechbrain_peft.runs.result_files`).

    Reliability rules (SpeechBrain run options, settable in the YAML or on
    the command line):

    * a NaN or infinite training loss skips the optimizer step of its
      accumulation window (parameters and optimizer state stay unchanged)
      and is counted (``train_skipped_steps`` in ``history.json``); more than
      ``nonfinite_patience`` such batches *in a row* (3 by default) stop the
      run with :class:`NonFiniteLossError`, which points at the learning
      rate. Under DDP the processes agree on every skip.
    * resuming (``fit``) and evaluating load the newest (best) checkpoint,
      falling back to the previous one with a warning when it is unreadable
      (see :func:`recover_with_fallback`); ``ckpt_interval_minutes`` or
      ``ckpt_interval_steps`` add intra-epoch checkpoints.
    * under DDP (``torchrun``) with W processes, each process accumulates
      ``grad_accumulation_factor / W`` batches, so an optimizer step still
      sees ``batch_size * grad_accumulation_factor`` utterances.
    """

    def __init__(
        self,
        *args,
        label_names=None,
        sampler=None,
        feature_cache=None,
        class_weights=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.label_names = label_names
        self.sampler = sampler
        self.feature_cache = feature_cache
        self.class_weights = (
            None
            if class_weights is None
            else torch.tensor(
                class_weights, dtype=torch.float, device=self.device
            )
        )
        self.evaluated = {}
        self.nonfinite_streak = 0
        self.skipped_steps = 0
        self.window_is_finite = True
        if is_distributed_initialized():
            world_size = torch.distributed.get_world_size()
            factor = per_process_accumulation(
                self.grad_accumulation_factor, world_size
            )
            logger.info(
                "%d processes: grad_accumulation_factor %d -> %d per process "
                "(an optimizer step still sees batch_size x %d utterances)",
                world_size,
                self.grad_accumulation_factor,
                factor,
                self.grad_accumulation_factor,
            )
            self.grad_accumulation_factor = factor

    @property
    def selection_key(self):
        """The dev metric that selects the best checkpoint: the hparams'
        ``selection_metric`` for the task, else :data:`SELECTION_KEY`'s."""
        chosen = getattr(self.hparams, "selection_metric", None) or {}
        return chosen.get(self.hparams.task) or SELECTION_KEY[self.hparams.task]

    def compute_forward(self, batch, stage):
        """Encoder features pooled by the head into logits or dimensions."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        if self.feature_cache is not None:
            return self.feature_cache.predict(
                batch.wav, wavs, lens, self.modules.encoder, self.modules.head
            )
        return self.modules.head(*self.modules.encoder(wavs, lens))

    def compute_objectives(self, predictions, batch, stage):
        """Cross-entropy, or CCC (MSE) loss on the three dimensions."""
        targets = batch.target_tensor.data
        if self.hparams.task == "categorical":
            targets = targets.view(-1).long()
            loss = torch.nn.functional.cross_entropy(
                predictions, targets, weight=self.class_weights
            )
        elif getattr(self.hparams, "dimensional_loss", "ccc") == "mse":
            loss = mse_loss(predictions, targets)
        else:
            loss = ccc_loss(predictions, targets)
        if stage != sb.Stage.TRAIN:
            self.metrics.append(batch.id, predictions.detach(), targets)
        return loss

    def on_fit_start(self):
        """SpeechBrain's start of ``fit`` (compile, DDP wrapping, optimizer),
        resuming with :func:`recover_with_fallback`."""
        self._compile()
        self._wrap_distributed()
        self.init_optimizers()
        if self.checkpointer is not None:
            recover_with_fallback(self.checkpointer)

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Load the best checkpoint, falling back when it is unreadable."""
        if self.checkpointer is not None:
            recover_with_fallback(self.checkpointer, max_key, min_key)

    def check_loss_isfinite(self, loss):
        """Count a non-finite loss and mark its accumulation window to be
        skipped; stop after more than ``nonfinite_patience`` in a row.

        SpeechBrain's version counts per epoch, not in a row, and the step
        still runs on NaN gradients; here :meth:`optimizers_step` skips it.
        """
        finite = bool(torch.isfinite(loss))
        if is_distributed_initialized():
            # Every process must skip the same steps, or their parameters
            # (and collective calls) drift apart.
            flag = torch.tensor(float(not finite), device=self.device)
            torch.distributed.all_reduce(flag)
            finite = flag.item() == 0
        if finite:
            self.nonfinite_streak = 0
            return
        self.window_is_finite = False
        self.nonfinite_streak += 1
        self.skipped_steps += 1
        lr = self.optimizer.param_groups[0]["lr"]
        if self.nonfinite_streak > self.nonfinite_patience:
            raise NonFiniteLossError(
                f"The training loss was NaN or infinite for "
                f"{self.nonfinite_streak} batches in a row (nonfinite_patience"
                f"={self.nonfinite_patience}); stopping. The learning rate is "
                f"the usual cause: lower `lr` (now {lr:.2e}, e.g. "
                f"--lr={lr / 10:.1e}) and keep gradient clipping on "
                f"(max_grad_norm, now {self.max_grad_norm}). Then check the "
                "data (a file of extreme values); torch.autograd."
                "detect_anomaly() around fit() finds the first bad operation."
            )
        logger.warning(
            "Non-finite training loss at epoch step %d: its optimizer step is "
            "skipped (%d in a row, patience %d; lr %.2e)",
            self.step,
            self.nonfinite_streak,
            self.nonfinite_patience,
            lr,
        )

    def optimizers_step(self):
        """SpeechBrain's step, unless a loss of this accumulation window was
        non-finite: then its gradients are dropped and nothing is updated."""
        if self.window_is_finite:
            super().optimizers_step()
        else:
            self.zero_grad(set_to_none=True)
        self.window_is_finite = True

    def on_stage_start(self, stage, epoch=None):
        """Fresh metric accumulators; log the padding of this epoch."""
        self.metrics = EmotionMetrics(self.hparams.task, self.label_names)
        if stage == sb.Stage.TRAIN:
            self.skipped_steps = 0
            # Gradients of an unfinished window are dropped at epoch end.
            self.window_is_finite = True
        if stage == sb.Stage.TRAIN and self.sampler is not None:
            self.sampler.set_epoch(epoch)
            logger.info(
                "Epoch %s: %.1f%% of the audio in training batches is padding",
                epoch,
                100 * self.sampler.padding_fraction(),
            )

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, anneal, checkpoint (dev) or record results (test)."""
        if self.feature_cache is not None:
            logger.info(
                "Feature cache: %d utterances encoded, %d read so far",
                self.feature_cache.computed,
                self.feature_cache.read,
            )
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            if self.skipped_steps:
                logger.warning(
                    "Epoch %s: %d batch(es) with a non-finite loss skipped",
                    epoch,
                    self.skipped_steps,
                )
            return
        stats = {"loss": stage_loss, **self.metrics.summarize()}
        scalars = {k: v for k, v in stats.items() if isinstance(v, int | float)}
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
        # Every DDP process validates; one writes.
        if not if_main_process():
            return
        # Keyed by epoch so that a resumed run overwrites, never duplicates.
        path = Path(self.hparams.output_folder) / "history.json"
        history = json.loads(path.read_text()) if path.exists() else {}
        history[str(epoch)] = {
            "epoch": epoch,
            "lr": lr,
            "train_loss": self.train_loss,
            "train_skipped_steps": self.skipped_steps,
            **{f"valid_{k}": v for k, v in scalars.items() if k != "n"},
        }
        path.write_text(json.dumps(history, indent=2))

    def evaluate_split(self, name, dataset, **loader_kwargs):
        """Evaluate the best checkpoint on ``dataset`` and keep the results
        under ``name`` (``dev``, ``test``, ``test1``...) in ``evaluated``."""
        self.eval_split = name
        self.evaluate(
            dataset,
            max_key=self.selection_key,
            test_loader_kwargs=loader_kwargs,
        )
        return self.evaluated[name]["stats"]
