"""Training a run: ``EmotionBrain``, the recipe runner every ``train.py``
calls, crash-safe checkpoints, feature caches, stage two, losses and
metrics.

Authors
 * speechbrain-peft-ser developers 2026
"""
