"""Parameter-efficient fine-tuning of self-supervised speech encoders for
speech emotion recognition, as SpeechBrain lobes and recipes.

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.utils.moved_modules import install

__version__ = "0.1.0"
# Run folders and YAMLs written before the layout by role name modules by
# their old paths (speechbrain_peft.encoder...).
install()
