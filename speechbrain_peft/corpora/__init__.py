"""One module per corpus: how to read its release, its label map, its
speaker-independent protocol and a synthetic copy of it in its layout,
registered by name (see
:mod:`speechbrain_peft.corpora.registry`); ``data_prep/<corpus>_prepare.py``
runs each from the command line. Importing this package imports every
module in it, so each corpus module registers itself and nothing else
names it.

Authors
 * speechbrain-peft-ser developers 2026
"""

import importlib
import pkgutil

from speechbrain_peft.corpora.registry import (
    CORPORA,
    DEFAULT_TEST,
    Corpus,
    FoldCorpus,
    corpus_named,
    is_registered,
    register,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "CORPORA",
    "Corpus",
    "FoldCorpus",
    "corpus_folds",
    "corpus_named",
    "headline_test_split",
    "is_registered",
    "register",
]


def corpus_folds(corpus):
    """The folds of ``corpus``' protocol, or None when it has fixed
    splits (or is a corpus of your own).

    Example
    -------
    >>> corpus_folds("IEMOCAP"), corpus_folds("CREMA-D"), corpus_folds("Mine")
    ((1, 2, 3, 4, 5), None, None)
    """
    return corpus_named(corpus).folds if is_registered(corpus) else None


def headline_test_split(corpus):
    """The test split of ``corpus`` that papers report (``test`` for a
    corpus of your own).

    Example
    -------
    >>> headline_test_split("IEMOCAP"), headline_test_split("MSP-Podcast")
    ('test', 'test1')
    >>> headline_test_split("my corpus")
    'test'
    """
    if is_registered(corpus):
        return corpus_named(corpus).headline_test
    return DEFAULT_TEST
