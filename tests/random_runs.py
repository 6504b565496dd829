"""The runs with random trained tensors the inference and export tests
load: four classes, and a training crop shorter than most synthetic
utterances.

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.synthetic.runs import save_random_run

LABELS = ["neu", "hap", "ang", "sad"]
# Shorter than most synthetic utterances (1-4 s): evaluation crops them,
# so reproducing its predictions also checks the long-file rule.
MAX_DURATION = 2.0


def make_run(run_dir, source, adapters, task="categorical", **options):
    """A run artifact with random trained tensors (no training); options
    as for ``save_random_run`` (``seed``, ``head_hidden_size``)."""
    return save_random_run(
        run_dir,
        source,
        adapters,
        LABELS,
        task,
        max_duration=MAX_DURATION,
        **options,
    )
