"""A corpus is one registered unit: a corpus defined and registered in
this file alone trains through the shared recipe runner, with its own
data prep and protocol, and the toolkit finds it by name.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
from pathlib import Path

import pandas as pd
import pytest
from recipe_runs import QUICK, RECIPES, REPO

from speechbrain_peft.corpora import (
    CORPORA,
    Corpus,
    corpus_folds,
    corpus_named,
    headline_test_split,
    register,
)
from speechbrain_peft.data.manifest import validate_manifests
from speechbrain_peft.data.schema import COLUMNS
from speechbrain_peft.synthetic.corpora import make_labelled_folder
from speechbrain_peft.training.hparams import hparams_layers
from speechbrain_peft.training.recipe import run_corpus_recipe
from speechbrain_peft.utils.errors import ConfigError

LABELS = ["neu", "hap", "ang", "sad"]
SPLIT_OF = {"spk01": "test", "spk02": "test", "spk03": "dev"}


class ToyCorpus(Corpus):
    """Labelled WAVs ``<speaker>_<label>_<take>.wav``: speakers 1 and 2
    test, 3 dev, the others train; scored on ``eval`` as its headline."""

    name = "Toy"
    headline_test = "eval"

    def __init__(self):
        self.prepared = []

    def prepare(self, data_folder, save_folder, **options):
        self.prepared.append(options)
        rows = []
        for wav in sorted(Path(data_folder).glob("*.wav")):
            speaker, label, _ = wav.stem.split("_")
            split = SPLIT_OF.get(speaker, "train").replace("test", "eval")
            rows.append(
                [wav.stem, 1.0, str(wav), speaker, "", label]
                + [None, None, None, split]
            )
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        manifests = {
            f"{split}.csv": part for split, part in frame.groupby("split")
        }
        validate_manifests(manifests, LABELS)
        save_folder = Path(save_folder)
        save_folder.mkdir(parents=True, exist_ok=True)
        for name, part in manifests.items():
            part.to_csv(save_folder / name, index=False)

    def manifest_paths(self, hparams):
        folder = Path(hparams["manifest_folder"])
        return {
            split: folder / f"{split}.csv" for split in ("train", "dev", "eval")
        }


@pytest.fixture
def toy_corpus():
    """The toy corpus, registered for one test."""
    corpus = register(ToyCorpus())
    yield corpus
    CORPORA.pop(corpus.name)


def test_a_corpus_registered_in_a_test_file_trains_by_name(
    toy_corpus, tiny_encoders, tmp_path
):
    data = tmp_path / "toy"
    make_labelled_folder(data, n_speakers=6, per_label=2, max_dur=1.5)
    out = tmp_path / "run"
    results = run_corpus_recipe(
        str(RECIPES / "Manifests" / "train.py"),
        [
            str(RECIPES / "Manifests" / "hparams" / "lora.yaml"),
            "--corpus=Toy",
            f"--data_folder={data}",
            f"--manifest_folder={tmp_path / 'manifests'}",
            f"--encoder_source={tiny_encoders['hubert']}",
            f"--output_folder={out}",
            *QUICK,
        ],
    )
    assert toy_corpus.prepared == [{}]
    assert results["corpus"] == "Toy"
    assert set(results["splits"]) == {"dev", "eval"}
    assert results["splits"]["eval"]["n"] == 2 * len(LABELS) * 2
    speakers = json.loads((out / "speakers.json").read_text())
    assert sorted(speakers["splits"]["eval"]) == ["spk01", "spk02"]
    assert corpus_named("Toy") is toy_corpus
    assert headline_test_split("Toy") == "eval"
    assert corpus_folds("Toy") is None


def test_a_corpus_name_is_registered_once(toy_corpus):
    with pytest.raises(ValueError, match="Toy is registered already"):
        register(ToyCorpus())


def test_an_unknown_corpus_is_named_with_the_registered_ones():
    with pytest.raises(ConfigError) as error:
        corpus_named("Nowhere")
    message = str(error.value)
    assert ", ".join(sorted(CORPORA)) in message and "IEMOCAP" in message
    assert "recipes/Manifests" in message


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_every_registered_corpus_has_its_commands(name):
    """The users' two commands exist for every corpus module, and every
    method configuration runs on its train.yaml."""
    module = type(CORPORA[name]).__module__.rsplit(".", 1)[1]
    assert (REPO / "data_prep" / f"{module}_prepare.py").is_file()
    assert (RECIPES / name / "train.py").is_file()
    hparams = RECIPES / name / "hparams"
    assert (hparams / "train.yaml").is_file()
    for method in (RECIPES / "methods").glob("*.yaml"):
        assert (
            hparams_layers(hparams / method.name)[0] == hparams / "train.yaml"
        )
