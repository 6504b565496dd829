"""Using a trained run: ``EmotionRecognizer`` (a run or an export on new
audio), windows over long recordings, SpeechBrain's interface for
exports, and model cards.

Authors
 * speechbrain-peft-ser developers 2026
"""

from speechbrain_peft.inference.recognizer import (
    EXPORT_KEY,
    EmotionRecognizer,
)

__all__ = ["EXPORT_KEY", "EmotionRecognizer"]
