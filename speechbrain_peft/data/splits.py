"""Speaker-disjoint splits for corpora without official ones (CREMA-D,
RAVDESS): a seeded shuffle of the speakers within each gender, so that
train, dev and test keep the corpus' balance of female and male voices.

Authors
 * speechbrain-peft-ser developers 2026
"""

import numpy as np

from speechbrain_peft.data.manifest import DataPrepError
from speechbrain_peft.data.schema import SPLITS


def check_fractions(dev_fraction, test_fraction):
    """Refuse shares of dev and test speakers that leave no training set.

    Example
    -------
    >>> check_fractions(0.5, 0.5)
    Traceback (most recent call last):
    ...
    speechbrain_peft.data.manifest.DataPrepError: dev_fraction=0.5 and ...
    """
    if not (
        0 < dev_fraction
        and 0 < test_fraction
        and dev_fraction + test_fraction < 1
    ):
        raise DataPrepError(
            f"dev_fraction={dev_fraction} and test_fraction={test_fraction} "
            "must be positive and sum to less than 1"
        )


def gender_stratified_split(
    genders, seed, dev_fraction, test_fraction, corpus, n_in_release
):
    """Speaker-disjoint, gender-stratified ``{split: [speaker, ...]}``.

    Within each gender, a seeded shuffle; ``fraction * n`` speakers
    (rounded half up, at least one) for test, then for dev, the rest for
    train.

    Arguments
    ---------
    genders : dict
        ``{speaker: "F" or "M"}``.
    seed : int
        Seed of the shuffle.
    dev_fraction, test_fraction : float
        Shares of each gender's speakers for dev and test.
    corpus : str
        Corpus name, for the error of a copy with too few speakers.
    n_in_release : int
        The release's number of speakers, for that error.

    Returns
    -------
    dict
        Each split's sorted speakers.

    Example
    -------
    >>> genders = {str(1000 + i): "FM"[i % 2] for i in range(20)}
    >>> split = gender_stratified_split(genders, 1986, 0.1, 0.2, "C", 20)
    >>> {name: len(speakers) for name, speakers in split.items()}
    {'train': 14, 'dev': 2, 'test': 4}
    """
    rng = np.random.default_rng(seed)
    split = {name: [] for name in SPLITS}
    for gender in sorted(set(genders.values())):
        speakers = sorted(s for s, g in genders.items() if g == gender)
        order = [str(speaker) for speaker in rng.permutation(speakers)]
        n_test = max(1, int(test_fraction * len(speakers) + 0.5))
        n_dev = max(1, int(dev_fraction * len(speakers) + 0.5))
        if n_test + n_dev >= len(speakers):
            raise DataPrepError(
                f"Only {len(speakers)} speaker(s) of gender {gender}: too "
                f"few for train, dev and test; {corpus} has {n_in_release} "
                "speakers, is the copy complete?"
            )
        split["test"] += order[:n_test]
        split["dev"] += order[n_test : n_test + n_dev]
        split["train"] += order[n_test + n_dev :]
    return {name: sorted(speakers) for name, speakers in split.items()}


def add_split_options(parser):
    """The data-prep command-line options of :func:`gender_stratified_split`:
    ``--seed``, ``--dev-fraction``, ``--test-fraction``."""
    parser.add_argument(
        "--seed", type=int, default=1986, help="seed of the speaker split"
    )
    parser.add_argument(
        "--dev-fraction",
        type=float,
        default=0.1,
        help="share of each gender's speakers in dev",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of each gender's speakers in test",
    )
