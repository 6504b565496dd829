"""Manifests: the schema (defined once), the data-prep machinery every
corpus shares, and CSV manifests to SpeechBrain ``DynamicItemDataset``.

Authors
 * speechbrain-peft-ser developers 2026
"""
