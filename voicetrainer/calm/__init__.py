"""Stress-calm trainer: drills for staying calm, measured with the same pipeline as calls.

Modules:
    breathe  paced breathing: patterns as data, a cue schedule, soft tones rendered in numpy,
             played with `audio.playback.Player` (``voicetrainer calm breathe``)
    drill    calm-voice drill under provocation: persona lines at an adaptive harshness,
             one-sentence answers scored on voice only against the trainee's baseline
             (``voicetrainer calm drill``)

Recovery time after escalation and emotional contagion live in `voicetrainer.analysis.recovery`
(they are part of every report).
"""
