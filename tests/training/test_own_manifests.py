"""Your own data: the README's example turns a folder of labelled WAVs
into manifests, the Manifests recipe trains on them with the checks and
outputs of a corpus recipe, and refuses manifests that break the schema or
share a speaker between splits.

Authors
 * speechbrain-peft-ser developers 2026
"""

import json
import os
import re

import pandas as pd
import pytest
from recipe_runs import QUICK, RECIPES, REPO, run_recipe

from speechbrain_peft.data.datasets import ManifestError
from speechbrain_peft.data.manifest import DataPrepError
from speechbrain_peft.results import aggregate
from speechbrain_peft.synthetic.corpora import make_labelled_folder
from speechbrain_peft.utils.errors import ConfigError

EXAMPLE_MARK = "<!-- own-data example"


def readme_example():
    """The Python block that follows the own-data mark in the README."""
    text = (REPO / "README.md").read_text()
    after = text[text.index(EXAMPLE_MARK) :]
    return re.search(r"```python\n(.*?)```", after, re.DOTALL).group(1)


@pytest.fixture(scope="module")
def own_data(tmp_path_factory):
    """``(root, info)``: ``root/my_wavs`` holds labelled WAVs of 10
    speakers, ``root/manifests/my_wavs`` what the README's example writes
    from them, run from ``root`` as the README runs it."""
    root = tmp_path_factory.mktemp("own")
    info = make_labelled_folder(root / "my_wavs", n_speakers=10, per_label=2)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        exec(readme_example(), {"__name__": "readme"})
    finally:
        os.chdir(cwd)
    return root, info


def recipe_args(root, encoder, out, manifests=None, *extra):
    """The README's command line, with a tiny encoder and a short run."""
    return [
        str(RECIPES / "Manifests" / "hparams" / "lora.yaml"),
        "--corpus=MyWavs",
        f"--manifest_folder={manifests or root / 'manifests' / 'my_wavs'}",
        f"--data_folder={root / 'my_wavs'}",
        f"--encoder_source={encoder}",
        f"--output_folder={out}",
        *extra,
        *QUICK,
    ]


def copy_manifests(root, folder):
    """The example's manifests, copied to ``folder`` to be spoilt."""
    folder.mkdir()
    for csv in (root / "manifests" / "my_wavs").glob("*.csv"):
        (folder / csv.name).write_text(csv.read_text())
    return folder


def test_readme_example_trains_with_a_corpus_recipes_outputs(
    own_data, tiny_encoders, tmp_path
):
    root, info = own_data
    out = tmp_path / "run"
    results = run_recipe(
        "Manifests", *recipe_args(root, tiny_encoders["wavlm"], out)
    )
    utterances = info["utterances"]
    tested = utterances[utterances["speaker"].isin(["spk01", "spk06"])]
    assert set(results["splits"]) == {"dev", "test"}
    assert results["splits"]["test"]["n"] == len(tested) == 16
    assert results["corpus"] == "MyWavs"
    table = aggregate([results], n_boot=10)
    row = table[(table["split"] == "test") & (table["metric"] == "UA")]
    assert row[["corpus", "config", "n_runs"]].values.tolist() == [
        ["MyWavs", "lora", 1]
    ]
    for name in ("results.json", "run.json", "adapters.safetensors"):
        assert (out / name).is_file(), name
    speakers = json.loads((out / "speakers.json").read_text())
    assert sorted(speakers["splits"]["test"]) == ["spk01", "spk06"]


def test_manifests_sharing_a_speaker_between_splits_are_refused(
    own_data, tiny_encoders, tmp_path
):
    root, _ = own_data
    folder = copy_manifests(root, tmp_path / "manifests")
    train = pd.read_csv(folder / "train.csv")
    leaked = train.iloc[[0]].assign(ID="leaked", split="test")
    test = pd.read_csv(folder / "test.csv")
    pd.concat([test, leaked]).to_csv(folder / "test.csv", index=False)
    speaker = leaked["spk_id"].iloc[0]
    with pytest.raises(DataPrepError) as error:
        run_recipe(
            "Manifests",
            *recipe_args(
                root, tiny_encoders["wavlm"], tmp_path / "run", folder
            ),
        )
    assert f"speaker {speaker} is in test.csv and train.csv" in str(error.value)
    assert not (tmp_path / "run" / "results.json").exists()


def test_labels_outside_the_label_set_are_refused_naming_them(
    own_data, tiny_encoders, tmp_path
):
    root, _ = own_data
    with pytest.raises(DataPrepError, match=r"labels \['ang', 'sad'\] outside"):
        run_recipe(
            "Manifests",
            *recipe_args(
                root,
                tiny_encoders["wavlm"],
                tmp_path / "run",
                None,
                "--label_set=[neu, hap]",
            ),
        )


def test_a_folder_without_a_test_split_is_refused_naming_what_it_has(
    own_data, tiny_encoders, tmp_path
):
    root, _ = own_data
    folder = copy_manifests(root, tmp_path / "manifests")
    (folder / "test.csv").unlink()
    with pytest.raises(ManifestError, match="has \\['dev', 'train'\\]"):
        run_recipe(
            "Manifests",
            *recipe_args(
                root, tiny_encoders["wavlm"], tmp_path / "run", folder
            ),
        )


def test_a_dimensional_run_needs_the_rating_scale(
    own_data, tiny_encoders, tmp_path
):
    root, _ = own_data
    folder = copy_manifests(root, tmp_path / "manifests")
    for csv in folder.glob("*.csv"):
        frame = pd.read_csv(csv)
        frame[["arousal", "valence", "dominance"]] = 3.0
        frame.to_csv(csv, index=False)
    with pytest.raises(ConfigError, match=r"dimension_scale: \[low, high\]"):
        run_recipe(
            "Manifests",
            *recipe_args(
                root,
                tiny_encoders["wavlm"],
                tmp_path / "run",
                folder,
                "--task=dimensional",
            ),
        )
