"""Metrics and scores computed from words, voice features and turn events."""
