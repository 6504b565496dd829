"""One module per corpus: how to read its release, its label map and its
speaker-independent protocol (``data_prep/<corpus>_prepare.py`` runs
each from the command line).

A corpus module is named after its corpus (``IEMOCAP`` -> ``iemocap``,
``MSP-Podcast`` -> ``msp_podcast``) and holds ``prepare_<module>``,
``HEADLINE_TEST`` (the test split papers report) and, for a fold protocol,
``FOLDS``.

Authors
 * speechbrain-peft-ser developers 2026
"""

import importlib

from speechbrain_peft.utils.errors import ConfigError

# A corpus without a module of its own (a user's manifests) is judged on
# the split named so.
DEFAULT_TEST = "test"


def corpus_module(corpus):
    """The module of ``corpus`` (as recipes name it in ``corpus:``).

    Example
    -------
    >>> corpus_module("MSP-Podcast").HEADLINE_TEST
    'test1'
    >>> corpus_module("Nowhere")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_peft.utils.errors.ConfigError: corpus Nowhere has no ...
    """
    name = f"{__name__}.{corpus.lower().replace('-', '_')}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        raise ConfigError(f"corpus {corpus} has no module {name}") from None


def corpus_folds(corpus):
    """The folds of ``corpus``' protocol, or None when it has fixed
    splits.

    Example
    -------
    >>> corpus_folds("IEMOCAP"), corpus_folds("CREMA-D")
    ((1, 2, 3, 4, 5), None)
    """
    return getattr(corpus_module(corpus), "FOLDS", None)


def headline_test_split(corpus):
    """The test split of ``corpus`` that papers report (``test`` for a
    corpus without a module).

    Example
    -------
    >>> headline_test_split("IEMOCAP"), headline_test_split("MSP-Podcast")
    ('test', 'test1')
    >>> headline_test_split("my corpus")
    'test'
    """
    try:
        return corpus_module(corpus).HEADLINE_TEST
    except ConfigError:
        return DEFAULT_TEST


def prepare_function(corpus):
    """``prepare_<module>`` of ``corpus``' module (its data prep)."""
    module = corpus_module(corpus)
    return getattr(module, f"prepare_{module.__name__.rsplit('.', 1)[1]}")
