"""The modules' names before the package was laid out by role, kept
importable: a YAML that names ``!new:speechbrain_peft.encoder.PEFTEncoder``
(a run folder or a recipe copied before the move) and code that imports
``speechbrain_peft.encoder`` get today's module, the same object.

Example
-------
>>> import speechbrain_peft.heads, speechbrain_peft.model.heads
>>> speechbrain_peft.heads is speechbrain_peft.model.heads
True

Authors
 * speechbrain-peft-ser developers 2026
"""

import importlib
import importlib.abc
import importlib.util
import sys

# Old name -> today's, below ``speechbrain_peft.``.
MOVED = {
    "activation_checkpointing": "model.activation_checkpointing",
    "brain": "training.brain",
    "checkpointer": "training.checkpointer",
    "checkpoints": "model.saved_tensors",
    "dataio": "data.datasets",
    "encoder": "model.encoder",
    "encoder_source": "model.pretrained",
    "errors": "utils.errors",
    "experiment": "runs.experiment",
    "feature_cache": "training.feature_cache",
    "files": "utils.files",
    "heads": "model.heads",
    "layer_split": "model.layer_split",
    "lineage": "runs.speakers",
    "losses": "training.losses",
    "metrics": "training.metrics",
    "model_card": "inference.model_card",
    "outputs": "runs.result_files",
    "padding": "model.padding",
    "plots": "runs.plots",
    "recipe": "training.recipe",
    "recordings": "inference.windows",
    "run_artifact": "runs.artifact",
    "speechbrain_interface": "inference.speechbrain_interface",
    "stage_two": "training.stage_two",
}
PACKAGE = "speechbrain_peft."


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module name and loads today's module under it."""

    def find_spec(self, name, path=None, target=None):
        """A spec for an old name, None for every other."""
        if name.removeprefix(PACKAGE) in MOVED and name.startswith(PACKAGE):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        """Today's module itself (its own name and spec are kept)."""
        return importlib.import_module(
            PACKAGE + MOVED[spec.name.removeprefix(PACKAGE)]
        )

    def exec_module(self, module):
        """Nothing to run: today's module is already loaded."""


def install():
    """Make the old names importable (once)."""
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())
