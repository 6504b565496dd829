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

from speechbrain_peft.data.manifest import DIMENSIONAL
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
    release_folder : str
        The folder the release unpacks to (``IEMOCAP_full_release``), where
        the demo writes the corpus' synthetic copy.
    """

    name = None
    headline_test = DEFAULT_TEST
    folds = None
    release_folder = None

    def make_synthetic(self, root, seed=0, **sizes):
        """Write a small synthetic copy of the release, in its layout and
        with its quirks, to ``root`` (the same arguments write the same
        bytes). Returns the generator's summary: ``root``,
        ``utterances`` (a DataFrame), ``n_utterances``,
        ``total_seconds``, ``sample_rate``."""
        raise NotImplementedError(f"{self.name} has no synthetic copy")

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


class FoldCorpus(Corpus):
    """A corpus with a fold protocol: each run takes one of ``folds``
    (``fold:``) and reads ``<manifest_folder>/fold<k>/<split>.csv``, its
    dimensional manifests under ``dimensional/``.

    Attributes
    ----------
    fold_tests_on : str
        What fold k tests on, for the error on an unknown fold
        (``session``: fold k tests on session k).

    Example
    -------
    >>> class Toy(FoldCorpus):
    ...     name, folds, fold_tests_on = "Toy-doc", (1, 2), "speaker"
    >>> paths = Toy().manifest_paths(
    ...     {"manifest_folder": "m", "fold": 2, "task": "dimensional"})
    >>> paths["test"].as_posix()
    'm/dimensional/fold2/test.csv'
    >>> Toy().check({"fold": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: fold 3 is not one of Toy-doc's...
    """

    fold_tests_on = "speaker group"

    def check(self, config):
        """Refuse a fold outside the protocol."""
        if config["fold"] not in self.folds:
            raise ConfigError(
                f"fold {config['fold']!r} is not one of {self.name}'s "
                f"folds; choose one of {', '.join(map(str, self.folds))} "
                f"(fold k tests on {self.fold_tests_on} k)"
            )

    def manifest_paths(self, hparams):
        """The run's fold, for its task."""
        self.check(hparams)
        folder = Path(hparams["manifest_folder"])
        if hparams.get("task") == "dimensional":
            folder = folder / DIMENSIONAL
        fold = folder / f"fold{hparams['fold']}"
        return {split: fold / f"{split}.csv" for split in SPLITS}


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
