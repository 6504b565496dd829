"""Offline stand-ins for what real users download: synthetic corpora in the
real on-disk layouts and tiny random-init encoders saved like hub models.

Authors
 * speechbrain-peft-ser developers 2026
"""
