"""Studies: every run of several configurations over folds, seeds and
stage-two chains, planned, run where asked (:mod:`plan`, :mod:`launch`)
and summed up (``python -m speechbrain_peft.study``).

Authors
 * speechbrain-peft-ser developers 2026
"""
