"""Time of the IEMOCAP data prep at the real corpus' size: 10,039 evaluated
utterances (the full release), written as a synthetic tree in the real
layout with short clips, then prepared with ``prepare_iemocap``.

The prep reads label files and, per audio file, its header and last sample
(no decoding of the rest), so its time depends on the number of files, not
on their length: short clips keep the generation quick without changing
what is measured. Reported: wall time of the first prep (all five folds,
all checks) and of a rerun (skipped: nothing but ``prep_info.json`` read),
each the median [min-max] of ``--repeats`` preps into fresh folders.

Usage::

    python benchmarks/iemocap_prep.py --out benchmarks/RESULTS.md

Authors
 * speechbrain-peft-ser developers 2026
"""

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The data-prep scripts live beside the package, not in it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (  # noqa: E402
    machine_info,
    machine_lines,
    markdown_table,
    publish,
    ratio_cell,
)

from speechbrain_peft.corpora.iemocap import (  # noqa: E402
    make_synthetic as make_iemocap,
)
from speechbrain_peft.corpora.iemocap import prepare_iemocap  # noqa: E402

# The full release's evaluated utterances, over its 10 speakers.
RELEASE_UTTERANCES = 10039


def main(argv=None):
    """Generate, prepare twice, print (and optionally record) the times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="results markdown file")
    parser.add_argument("--repeats", type=int, default=3)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    info = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "IEMOCAP_full_release"
        start = time.perf_counter()
        corpus = make_iemocap(
            root,
            utts_per_speaker=-(-RELEASE_UTTERANCES // 10),
            min_dur=0.3,
            max_dur=0.4,
        )
        generated = time.perf_counter() - start
        print(f"Generated {corpus['n_utterances']} files in {generated:.0f} s")
        firsts, reruns = [], []
        for repeat in range(args.repeats):
            manifests = Path(tmp) / f"manifests{repeat}"
            for attempt, timings in (("first", firsts), ("rerun", reruns)):
                start = time.perf_counter()
                prep = prepare_iemocap(root, manifests)
                timings.append(time.perf_counter() - start)
                print(f"{attempt} prep: {timings[-1]:.1f} s")
    rows = [
        ["first prep", ratio_cell(firsts, digits=1)],
        ["rerun (skipped)", ratio_cell(reruns, digits=1)],
    ]
    fold1 = {
        name: counts["total"]
        for name, counts in prep["counts"].items()
        if name.startswith("fold1")
    }
    command = " ".join(["python benchmarks/iemocap_prep.py", *argv])
    section = "\n".join(
        [
            "## IEMOCAP data prep at full size",
            "",
            *machine_lines(info),
            f"- Command: `{command}`",
            f"- Corpus: {corpus['n_utterances']} utterances in the release "
            "layout (5 sessions, label files, wav tree), 0.3-0.4 s clips; "
            "default options (4 classes, excited merged into happy), five "
            f"folds written; utterances per split of fold 1: {fold1}",
            "",
            markdown_table(
                [
                    "run",
                    f"wall s: median [min-max] of {args.repeats} repeats",
                ],
                rows,
            ),
        ]
    )
    publish(section, args.out, "data_prep:iemocap")


if __name__ == "__main__":
    main()
