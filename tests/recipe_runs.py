"""Running the recipes from tests: in-process (no interpreter start-up)
with everything written under a temporary folder.

Authors
 * speechbrain-peft-ser developers 2026
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
FIXTURES = REPO / "tests" / "fixtures"
QUICK = [
    "--number_of_epochs=1",
    "--batch_size=4",
    "--grad_accumulation_factor=1",
    "--noprogressbar",
]


def recipe_configurations(corpus):
    """Every configuration file the corpus' recipe runs: its own files
    and, under its ``hparams/`` name, each shared method configuration."""
    hparams = RECIPES / corpus / "hparams"
    names = {path.name for path in hparams.glob("*.yaml")}
    names |= {path.name for path in (RECIPES / "methods").glob("*.yaml")}
    return [hparams / name for name in sorted(names)]


def load_recipe(corpus):
    """The corpus' train.py as a module (run in-process: no start-up)."""
    path = RECIPES / corpus / "train.py"
    spec = importlib.util.spec_from_file_location(f"train_{corpus}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recipe_args(corpus, yaml, data, encoder, out, *extra):
    """Command-line arguments for a run writing everything under ``out``."""
    return [
        str(RECIPES / corpus / "hparams" / yaml),
        f"--data_folder={data}",
        f"--encoder_source={encoder}",
        f"--output_folder={out}/run",
        f"--manifest_folder={out}/manifests",
        *extra,
    ]


def run_recipe(corpus, *args):
    """Run a recipe in-process; return its results.json content."""
    load_recipe(corpus).main(list(args))
    out = next(a for a in args if a.startswith("--output_folder="))
    return json.loads((Path(out.split("=", 1)[1]) / "results.json").read_text())


def start_recipe(script, *args, cwd=REPO):
    """Start ``python script args...`` in a fresh interpreter, as a user
    would, from ``cwd``; output (stdout and stderr) goes to ``.stdout``."""
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
