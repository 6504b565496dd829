"""One module per corpus: how to read its release, its label map and its
speaker-independent protocol (``data_prep/<corpus>_prepare.py`` runs
each from the command line).

Authors
 * speechbrain-peft-ser developers 2026
"""
