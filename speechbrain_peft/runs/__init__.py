"""A run's identity and files: what makes two runs the same run and the
same experiment, the artifact a finished run leaves, its result files
and figures, and the speakers it (and its ancestors) trained on.

Authors
 * speechbrain-peft-ser developers 2026
"""
