"""The repository's scripts (``scripts/*.py``) as modules for the tests, each loaded once."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(stem: str):
    """``scripts/<stem>.py`` as the module ``voicetrainer_<stem>`` (loaded once per test run)."""
    name = f"voicetrainer_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))  # a script may import its neighbours (eval_room -> evaluate)
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{stem}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up while it executes
    spec.loader.exec_module(mod)
    return mod
