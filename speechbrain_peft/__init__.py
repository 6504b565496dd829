"""Parameter-efficient fine-tuning of self-supervised speech encoders for
speech emotion recognition, as SpeechBrain lobes and recipes.

Authors
 * speechbrain-peft-ser developers 2026
"""

__version__ = "0.1.0"
