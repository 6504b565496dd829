"""The offline demo: synthetic corpora in the real layouts, a tiny local
WavLM, the real data-prep scripts and recipes, and a results table.

``make demo`` runs ``python -m speechbrain_peft.demo``; everything is written
under ``demo_output/`` and nothing is downloaded.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from speechbrain_peft.synthetic.corpora import (
    make_crema_d,
    make_iemocap,
    make_msp_podcast,
)
from speechbrain_peft.synthetic.encoders import save_tiny_encoder

REPO = Path(__file__).resolve().parents[1]
ACTED = {"IEMOCAP": "IEMOCAP_full_release", "CREMA-D": "CREMA-D"}
TRAINING = [
    "--number_of_epochs=10",
    "--batch_size=8",
    "--grad_accumulation_factor=1",
    "--lr=0.003",
]


def make_assets(out):
    """Write the synthetic corpora and the tiny encoder (once)."""
    corpora = out / "corpora"
    if not (corpora / "done").exists():
        make_iemocap(corpora / "IEMOCAP_full_release", utts_per_speaker=40)
        # Many actors: what is learnt must carry over to unseen speakers.
        make_crema_d(
            corpora / "CREMA-D", n_actors=40, sentences=("IEO", "DFA", "TIE")
        )
        make_msp_podcast(corpora / "MSP-Podcast", utts_per_speaker=24)
        (corpora / "done").touch()
    return corpora, save_tiny_encoder("wavlm", out / "encoder")


def run(corpus, config, corpora, encoder, out, *extra):
    """Run one recipe exactly as a user would, from the repository root;
    return its output folder."""
    folder = ACTED.get(corpus, corpus)
    run_dir = out / "results" / corpus / config
    command = [
        sys.executable,
        f"recipes/{corpus}/train.py",
        f"hparams/{config}.yaml",
        f"--data_folder={corpora / folder}",
        f"--encoder_source={encoder}",
        f"--output_folder={run_dir}",
        f"--manifest_folder={out / 'manifests' / corpus}",
        *TRAINING,
        *extra,
    ]
    print("$", " ".join(command), flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    subprocess.run(command, cwd=REPO, env=env, check=True)
    return run_dir


def mean_ua(results, prefix):
    """Mean UA over the splits named ``<prefix>*`` (e.g. test1, test2)."""
    values = [
        stats["UA"]
        for split, stats in results["splits"].items()
        if split.startswith(prefix)
    ]
    return sum(values) / len(values)


def summary_table(runs):
    """Markdown: each run's size, acted (source) and natural (target) UA,
    and the gain of stage two over training on the target alone."""
    target_only = mean_ua(runs["MSP-Podcast combo (target only)"], "test")
    lines = [
        "| run | trainable params | source UA (acted test) "
        "| target UA (MSP-Podcast tests) | gain over target only |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, results in runs.items():
        natural = results["corpus"] == "MSP-Podcast"
        source = (
            mean_ua(results, "source_test")
            if "source_test" in results["splits"]
            else (None if natural else mean_ua(results, "test"))
        )
        target = mean_ua(results, "test") if natural else None
        gain = (
            target - target_only
            if "parent_run" in results and target is not None
            else None
        )
        cells = [
            f"{v:.3f}" if isinstance(v, float) else "-"
            for v in (source, target, gain)
        ]
        params = f"{results['params']['trainable']:,}"
        lines.append(f"| {name} | {params} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    """Build the assets, run stage one, target-only and stage two, print
    the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="demo_output", type=Path)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    start = time.time()
    corpora, encoder = make_assets(out)
    iemocap = run("IEMOCAP", "combo", corpora, encoder, out)
    crema_d = run("CREMA-D", "combo", corpora, encoder, out)
    target_only = run("MSP-Podcast", "combo", corpora, encoder, out)
    from_crema_d = run(
        "MSP-Podcast",
        "stage2_from_crema_d",
        corpora,
        encoder,
        out,
        f"--init_from={crema_d}",
    )
    from_iemocap = run(
        "MSP-Podcast",
        "stage2_from_iemocap",
        corpora,
        encoder,
        out,
        f"--init_from={iemocap}",
    )
    runs = {
        name: json.loads((path / "results.json").read_text())
        for name, path in [
            ("IEMOCAP combo (stage one)", iemocap),
            ("CREMA-D combo (stage one)", crema_d),
            ("MSP-Podcast combo (target only)", target_only),
            ("CREMA-D -> MSP-Podcast (stage two)", from_crema_d),
            ("IEMOCAP -> MSP-Podcast (stage two)", from_iemocap),
        ]
    }
    table = summary_table(runs)
    (out / "results.md").write_text(table + "\n")
    print(table)
    print(f"\nWall time: {time.time() - start:.0f} s. Per-run results.json,")
    print(f"confusion matrices and training curves (PNG) under {out}")


if __name__ == "__main__":
    main()
