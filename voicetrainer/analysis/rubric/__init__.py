"""The rubric: seven skills scored 0-100 with timestamped evidence, from a data file.

`load_rubric` reads and validates the file (`model`); `score_skills` applies it to a `Report`
(`hits` finds the moves and delivery signals, `scoring` turns them into points). Evidence lines
point at the exact words: a move's time is the start of its first word.
"""

from voicetrainer.analysis.rubric.hits import Hit, find_moves, find_signals
from voicetrainer.analysis.rubric.model import (
    DEFAULT_RUBRIC_PATH,
    SIGNAL_LABELS,
    SIGNALS,
    Engagement,
    Rubric,
    Rule,
    SkillSpec,
    Thresholds,
    load_rubric,
    phrase_lists,
)
from voicetrainer.analysis.rubric.scoring import score_skills

__all__ = [
    "DEFAULT_RUBRIC_PATH", "SIGNALS", "SIGNAL_LABELS", "Engagement", "Hit", "Rubric", "Rule", "SkillSpec",
    "Thresholds", "find_moves", "find_signals", "load_rubric", "phrase_lists", "score_skills",
]  # fmt: skip
