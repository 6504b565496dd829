"""The offline demo: synthetic corpora in the real layouts, a tiny local
WavLM, the real data-prep scripts and recipes, a results table and the
paper's figure (test score against the share of trainable parameters).

``make demo`` runs ``python -m speechbrain_peft.demo``; everything is written
under ``demo_output/`` and nothing is downloaded.

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from speechbrain_peft.corpora import corpus_named
from speechbrain_peft.export import export_run
from speechbrain_peft.results import aggregate
from speechbrain_peft.runs.table_plots import write_figures
from speechbrain_peft.synthetic.encoders import save_tiny_encoder

REPO = Path(__file__).resolve().parents[1]
TRAINING = [
    "--number_of_epochs=10",
    "--batch_size=8",
    "--grad_accumulation_factor=1",
    "--lr=0.003",
]


# The sizes of each corpus' synthetic copy. Many CREMA-D actors: what is
# learnt must carry over to unseen speakers. RAVDESS as the widely shared
# copy holds it: speech twice, song beside it.
CORPORA = {
    "IEMOCAP": {"utts_per_speaker": 40},
    "CREMA-D": {"n_actors": 40, "sentences": ("IEO", "DFA", "TIE")},
    "MSP-Podcast": {"utts_per_speaker": 24},
    "RAVDESS": {"n_actors": 24, "statements": ("01",), "repetitions": ("01",)},
}


def make_assets(out):
    """Write the synthetic corpora (each once) and the tiny encoder."""
    corpora = out / "corpora"
    for name, sizes in CORPORA.items():
        corpus = corpus_named(name)
        folder = corpora / corpus.release_folder
        done = corpora / f"{corpus.release_folder}.done"
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            corpus.make_synthetic(folder, **sizes)
            done.touch()
    return corpora, save_tiny_encoder("wavlm", out / "encoder")


def run(corpus, config, corpora, encoder, out, *extra, name=None):
    """Run one recipe exactly as a user would, from the repository root;
    return its output folder (``results/<corpus>/<name or config>``)."""
    run_dir = out / "results" / corpus / (name or config)
    command = [
        sys.executable,
        f"recipes/{corpus}/train.py",
        f"hparams/{config}.yaml",
        f"--data_folder={corpora / corpus_named(corpus).release_folder}",
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


def score_of(results):
    """The headline metric of a run: UA, or mean CCC (dimensional)."""
    return "UA" if results["task"] == "categorical" else "CCC_mean"


def mean_score(results, prefix):
    """Mean headline metric over the splits named ``<prefix>*`` (e.g. test1,
    test2)."""
    key = score_of(results)
    values = [
        stats[key]
        for split, stats in results["splits"].items()
        if split.startswith(prefix)
    ]
    return sum(values) / len(values)


def summary_table(runs, target_only):
    """Markdown: each run's size, acted (source) and natural (target) UA or
    mean CCC, and the gain of stage two over training on the target alone
    (``target_only``: ``{task: results}``)."""
    lines = [
        "| run | trainable params | metric | source (acted test) "
        "| target (MSP-Podcast tests) | gain over target only |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, results in runs.items():
        natural = results["corpus"] == "MSP-Podcast"
        source = (
            mean_score(results, "source_test")
            if "source_test" in results["splits"]
            else (None if natural else mean_score(results, "test"))
        )
        target = mean_score(results, "test") if natural else None
        gain = (
            target - mean_score(target_only[results["task"]], "test")
            if "parent_run" in results
            else None
        )
        cells = [
            f"{v:.3f}" if isinstance(v, float) else "-"
            for v in (source, target, gain)
        ]
        params = f"{results['params']['trainable']:,}"
        lines.append(
            f"| {name} | {params} | {score_of(results)} | "
            + " | ".join(cells)
            + " |"
        )
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
    # Every demo trains its runs anew: a run folder of an earlier version
    # (other settings) would be refused, not resumed.
    for folder in ("results", "export", "figures"):
        shutil.rmtree(out / folder, ignore_errors=True)
    dim = "--task=dimensional"
    runs = {
        "IEMOCAP combo (stage one)": run(
            "IEMOCAP", "combo", corpora, encoder, out
        ),
        "CREMA-D combo (stage one)": run(
            "CREMA-D", "combo", corpora, encoder, out
        ),
        "RAVDESS combo (stage one)": run(
            "RAVDESS", "combo", corpora, encoder, out
        ),
        "MSP-Podcast combo (target only)": run(
            "MSP-Podcast", "combo", corpora, encoder, out
        ),
        "IEMOCAP combo, dimensional (stage one)": run(
            "IEMOCAP", "combo", corpora, encoder, out, dim, name="combo_dim"
        ),
        "MSP-Podcast combo, dimensional (target only)": run(
            "MSP-Podcast", "combo", corpora, encoder, out, dim, name="combo_dim"
        ),
    }
    stage_two = {
        "CREMA-D -> MSP-Podcast (stage two)": (
            "stage2_from_crema_d",
            "CREMA-D combo (stage one)",
        ),
        "IEMOCAP -> MSP-Podcast (stage two)": (
            "stage2_from_iemocap",
            "IEMOCAP combo (stage one)",
        ),
        "IEMOCAP -> MSP-Podcast, dimensional (stage two)": (
            "stage2_from_iemocap_dim",
            "IEMOCAP combo, dimensional (stage one)",
        ),
    }
    for name, (config, parent) in stage_two.items():
        runs[name] = run(
            "MSP-Podcast",
            config,
            corpora,
            encoder,
            out,
            f"--init_from={runs[parent]}",
        )
    paths = runs
    runs = {
        name: json.loads((path / "results.json").read_text())
        for name, path in paths.items()
    }
    target_only = {
        "categorical": runs["MSP-Podcast combo (target only)"],
        "dimensional": runs["MSP-Podcast combo, dimensional (target only)"],
    }
    table = summary_table(runs, target_only)
    (out / "results.md").write_text(table + "\n")
    print(table)
    figures = write_figures(aggregate(list(runs.values())), out / "figures")
    print("\nTest score against % trainable parameters, and per method:")
    print("\n".join(str(path) for path in figures))
    export_run(
        paths["CREMA-D -> MSP-Podcast (stage two)"],
        out / "export",
        format="speechbrain",
    )
    card = (out / "export" / "README.md").read_text()
    print(
        "\nThe CREMA-D -> MSP-Podcast run, exported in SpeechBrain's format "
        f"to {out / 'export'}; its model card:\n"
    )
    print(card)
    print(f"\nWall time: {time.time() - start:.0f} s. Per-run results.json,")
    print(f"confusion matrices and training curves (PNG) under {out}")


if __name__ == "__main__":
    main()
