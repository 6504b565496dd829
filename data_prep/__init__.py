"""Data preparation for IEMOCAP, MSP-Podcast and CREMA-D: validated CSV
manifests with speaker-independent splits (see ``manifest.py`` for the
shared schema and checks).

Authors
 * speechbrain-peft-ser developers 2026
"""
