"""The report: schema dataclasses, JSON, HTML and history."""
