"""The offline demo: synthetic corpora in the real layouts, a tiny local
WavLM, the real data-prep scripts and recipes, and a results table.

``make demo`` runs ``python -m speechbrain_peft.demo``; everything is written
under ``demo_output/`` and nothing is downloaded.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from speechbrain_peft.results import aggregate, load_results, to_markdown
from speechbrain_peft.synthetic.corpora import (
    make_crema_d,
    make_iemocap,
    make_msp_podcast,
)
from speechbrain_peft.synthetic.encoders import save_tiny_encoder

REPO = Path(__file__).resolve().parents[1]
# (corpus, config, corpus folder name): acted corpora first, then natural.
RUNS = [
    ("IEMOCAP", "frozen", "IEMOCAP_full_release"),
    ("IEMOCAP", "lora", "IEMOCAP_full_release"),
    ("IEMOCAP", "combo", "IEMOCAP_full_release"),
    ("CREMA-D", "combo", "CREMA-D"),
    ("MSP-Podcast", "combo", "MSP-Podcast"),
]
TRAINING = [
    "--number_of_epochs=6",
    "--batch_size=8",
    "--grad_accumulation_factor=1",
    "--lr=0.003",
]


def make_assets(out):
    """Write the synthetic corpora and the tiny encoder (once)."""
    corpora = out / "corpora"
    if not (corpora / "done").exists():
        make_iemocap(corpora / "IEMOCAP_full_release", utts_per_speaker=40)
        make_crema_d(corpora / "CREMA-D", n_actors=12)
        make_msp_podcast(corpora / "MSP-Podcast", utts_per_speaker=24)
        (corpora / "done").touch()
    return corpora, save_tiny_encoder("wavlm", out / "encoder")


def run(corpus, config, data, encoder, out):
    """Run one recipe exactly as a user would, from the repository root."""
    command = [
        sys.executable,
        f"recipes/{corpus}/train.py",
        f"hparams/{config}.yaml",
        f"--data_folder={data}",
        f"--encoder_source={encoder}",
        f"--output_folder={out / 'results' / corpus / config}",
        f"--manifest_folder={out / 'manifests' / corpus}",
        *TRAINING,
    ]
    print("$", " ".join(command), flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    subprocess.run(command, cwd=REPO, env=env, check=True)


def main(argv=None):
    """Build the assets, run every demo recipe, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="demo_output", type=Path)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    start = time.time()
    corpora, encoder = make_assets(out)
    for corpus, config, folder in RUNS:
        run(corpus, config, corpora / folder, encoder, out)
    table = to_markdown(aggregate(load_results([out / "results"]), n_boot=1000))
    (out / "results.md").write_text(table + "\n")
    print(table)
    print(f"\nWall time: {time.time() - start:.0f} s; plots and logs in {out}")


if __name__ == "__main__":
    main()
