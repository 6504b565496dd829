"""The corpus registry: each corpus module registers one :class:`Corpus`
under the name recipes give it in ``corpus:``, as each PEFT method
registers itself (:mod:`speechbrain_peft.adapters.registry`). Recipes,
studies and figures look a corpus up here by that name; a name nobody
registered is a corpus of your own, given as manifests
(:mod:`speechbrain_peft.data.own_manifests`).

Authors
 * speechbrain-peft-ser developers 2026
"""

from pathlib import Path

from speechbrain_peft.data.schema import SPLITS
from speechbrain_peft.utils.errors import ConfigError

CORPORA = {}
# The split a corpus without a protocol of its own is judged on.
DEFAULT_TEST = "test"


class Corpus:
    """What a corpus module tells the rest of the toolkit.

    Attributes
    ----------
    name : str
        As recipes name it in ``corpus:`` (``IEMOCAP``, ``MSP-Podcast``).
    headline_test : str
        The test split papers report.
    folds : tuple or None
        The folds of a fold protocol (runs take ``fold:``); None for fixed
        splits.
    """

    name = None
    headline_test = DEFAULT_TEST
    folds = None

    def prepare(self, data_folder, save_folder, **options):
        """Write the manifests of the release in ``data_folder`` to
        ``save_folder`` (skipped when done with the same options); the
        options are the recipe's ``prep_options``. Returns the
        preparation's ``prep_info.json`` content."""
        raise NotImplementedError

    def check(self, config):
        """Refuse a recipe configuration (plain values) this corpus cannot
        run, before anything is built or written: e.g. an unknown fold."""

    def manifest_paths(self, hparams):
        """``{split: csv}`` of the prepared manifests one run trains and
        is scored on (train, dev, then the test splits)."""
        return {
            split: Path(hparams["manifest_folder"]) / f"{split}.csv"
            for split in SPLITS
        }

    def protocol(self, hparams):
        """The run's place in the corpus' protocol for ``results.json``:
        ``fold`` and ``folds`` for a fold protocol, else empty."""
        if self.folds is None:
            return {}
        return {"fold": hparams["fold"], "folds": list(self.folds)}


def register(corpus):
    """Add ``corpus`` (a :class:`Corpus`) to :data:`CORPORA`; returns it.

    Example
    -------
    >>> class Toy(Corpus):
    ...     name = "Toy-doc"
    >>> register(Toy()).headline_test, corpus_named("Toy-doc").folds
    ('test', None)
    >>> _ = CORPORA.pop("Toy-doc")
    """
    if not isinstance(corpus.name, str) or not corpus.name:
        raise ValueError(f"{type(corpus).__name__} has no name")
    if corpus.name in CORPORA:
        raise ValueError(f"a corpus named {corpus.name} is registered already")
    CORPORA[corpus.name] = corpus
    return corpus


def corpus_named(name):
    """The registered corpus ``name``.

    Example
    -------
    >>> corpus_named("Nowhere")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: corpus Nowhere is not ...
    """
    if name not in CORPORA:
        raise ConfigError(
            f"corpus {name} is not registered (registered: "
            f"{', '.join(sorted(CORPORA))}); train your own data with "
            "recipes/Manifests"
        )
    return CORPORA[name]


def is_registered(name):
    """Whether a corpus module registered ``name``."""
    return name in CORPORA
