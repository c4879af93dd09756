"""Fault matrix items (issue #17) outside the web server: channels, persona YAML, file modes,
bad samples, odd file names, unwritable folders."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetrainer.errors import AudioInputError, PersonaError

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- 14. channels

def _six_channel(path: Path) -> Path:
    t = np.arange(16000) / 16000
    data = np.stack([0.1 * np.sin(2 * np.pi * (200 + 50 * c) * t) for c in range(6)], axis=1).astype(np.float32)
    sf.write(path, data, 16000)
    return path


def test_six_channels_are_named_and_chosen(tmp_path):
    from voicetrainer.session.grader import resolve_input

    wav = _six_channel(tmp_path / "six.wav")
    call = resolve_input(wav)
    assert call.speakers == {"caller": 0, "trainee": 1}
    assert call.notes and "6 channels" in call.notes[0] and "--caller-channel" in call.notes[0]
    call = resolve_input(wav, trainee_channel=4, caller_channel=2)
    assert call.speakers == {"caller": 2, "trainee": 4} and "channel 2 was graded as the caller" in call.notes[0]
    with pytest.raises(AudioInputError, match="--trainee-channel 6 does not exist: the file has 6 channels"):
        resolve_input(wav, trainee_channel=6)
    with pytest.raises(AudioInputError, match="both 3"):
        resolve_input(wav, trainee_channel=3, caller_channel=3)
    # two channels: nothing to say
    sf.write(tmp_path / "two.wav", np.zeros((1600, 2), np.float32), 16000)
    assert resolve_input(tmp_path / "two.wav").notes == []


def test_grade_cli_says_which_channels_it_grades(tmp_path, capsys):
    from voicetrainer.cli import grade as grade_cli

    wav = _six_channel(tmp_path / "six.wav")
    out = io.StringIO()
    from rich.console import Console

    args = argparse.Namespace(inputs=[str(wav)], trainee_channel=5, caller_channel=None)
    grade_cli._say_channels(Console(file=out, width=300), args)
    assert "6 channels: channel 0 was graded as the caller and channel 5 as the trainee" in out.getvalue()


# ----------------------------------------------------------------------------- 14. persona YAML and file mode

def test_duplicate_yaml_keys_in_a_persona_are_refused(tmp_path):
    from voicetrainer.persona.loader import check_file, load_persona_file

    text = (REPO / "personas" / "billing-double-charge.yaml").read_text()
    good = tmp_path / "billing-double-charge.yaml"
    good.write_text(text)
    assert load_persona_file(good).id == "billing-double-charge"
    lines = text.splitlines()
    i = next(n for n, s in enumerate(lines) if s.strip().startswith("start_anger:"))
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines.insert(i + 1, f"{indent}start_anger: 2")
    good.write_text("\n".join(lines) + "\n")
    with pytest.raises(PersonaError, match=rf"line {i + 2}: key 'start_anger' appears twice .*first on line {i + 1}"):
        load_persona_file(good)
    persona, issues = check_file(good)
    assert persona is None and "appears twice" in issues[0].message
    good.write_text("id: a\nid: b\n")
    with pytest.raises(PersonaError, match="key 'id' appears twice"):
        load_persona_file(good)


def test_web_editor_save_keeps_the_file_mode(tmp_path, monkeypatch):
    from voicetrainer.web.server import WebApp

    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    personas = tmp_path / "personas"
    shutil.copytree(REPO / "personas", personas)
    target = personas / "billing-double-charge.yaml"
    for mode in (0o644, 0o664, 0o600):
        os.chmod(target, mode)
        ok, issues = WebApp(personas_dir=personas).save_persona(target.name, target.read_text() + "\n")
        assert ok, issues
        assert stat.S_IMODE(target.stat().st_mode) == mode
    new = target.read_text().replace("id: billing-double-charge", "id: brand-new")
    old_umask = os.umask(0o022)
    try:
        assert WebApp(personas_dir=personas).save_persona("brand-new.yaml", new)[0]
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((personas / "brand-new.yaml").stat().st_mode) == 0o644


# ----------------------------------------------------------------------------- 6. demo --out

def test_demo_never_deletes_what_it_did_not_write(tmp_path, capsys, no_history):
    from voicetrainer.cli import main
    from voicetrainer.cli.practice import _clear_demo_folder

    mine = tmp_path / "docs"
    (mine / "notes").mkdir(parents=True)
    (mine / "session.json").write_text("{}")
    (mine / "thesis.txt").write_text("years of work")
    (mine / "notes" / "a.md").write_text("keep")
    assert main(["demo", "--fast", "--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert "did not write" in err and "notes" in err and str(mine) in err
    assert (mine / "thesis.txt").read_text() == "years of work" and (mine / "notes" / "a.md").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.wav").write_bytes(b"RIFF")
    assert main(["demo", "--fast", "--out", str(other)]) == 2 and (other / "x.wav").exists()
    # an earlier demo's own files are replaced
    old = tmp_path / "demo-out"
    old.mkdir()
    for name in ("session.json", "call.wav", "events.jsonl", "report.json", "report.html"):
        (old / name).write_text("old")
    _clear_demo_folder(old)
    assert old.is_dir() and not any(old.iterdir())


# ----------------------------------------------------------------------------- 11. NaN / Inf samples

def test_nan_and_inf_samples_are_cleaned_and_reported(tmp_path, transcriber, no_history):
    import json

    from voicetrainer.audio.sources import FileSource
    from voicetrainer.cli import main

    data, rate = sf.read(REPO / "audio_fixtures" / "demo_trainee.wav", dtype="float32", frames=16000 * 8)
    data = data if data.ndim == 1 else data.mean(axis=1)
    data[1000:1100] = np.nan
    data[5000] = np.inf
    data[6000] = -np.inf
    data[7000] = 3.0e30
    wav = tmp_path / "broken.wav"
    sf.write(wav, data, rate, subtype="FLOAT")
    src = FileSource(wav)
    frames = [f.samples for f in src]
    assert all(np.isfinite(f).all() and np.abs(f).max() <= 1.0 for f in frames)
    assert src.nonfinite_samples == 102
    out = tmp_path / "out"
    assert main(["grade", str(wav), "--out", str(out), "--no-history"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert any("102 sample(s)" in w and "NaN" in w for w in report["warnings"])


# ----------------------------------------------------------------------------- 12. non-UTF-8 file names

def test_non_utf8_file_names_grade_and_keep_every_result(tmp_path, transcriber, no_history, capsys):
    import json

    from voicetrainer.cli import main
    from voicetrainer.report.history import HistoryDB, default_db_path

    data, rate = sf.read(REPO / "audio_fixtures" / "demo_trainee.wav", dtype="float32", frames=16000 * 8)
    bad = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9-\xff.wav"))  # Latin-1 bytes: not UTF-8
    ok = tmp_path / "ok.wav"
    sf.write(os.fsencode(bad), data, rate, format="WAV")
    sf.write(ok, data, rate)
    capsys.readouterr()
    assert main(["voice", str(bad), str(ok), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and all("calm" in r for r in rows)
    assert rows[0]["file"].endswith("caf\ufffd-\ufffd.wav")
    out = tmp_path / "out"
    assert main(["grade", str(bad), str(ok), "--out", str(out)]) == 0
    assert "internal error" not in capsys.readouterr().err
    summary = (out / "summary.csv").read_text(encoding="utf-8")
    assert "caf\ufffd-\ufffd.wav" in summary and summary.count(",ok,") == 2
    with HistoryDB(default_db_path()) as db:
        assert db.count() == 2
