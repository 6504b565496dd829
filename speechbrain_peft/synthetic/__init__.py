"""Offline stand-ins for what real users download: the speech-like audio
each corpus module's synthetic copy is made of (the copies themselves live
with their corpus), and tiny random-init encoders saved like hub models.

Authors
 * speechbrain-peft-ser developers 2026
"""
