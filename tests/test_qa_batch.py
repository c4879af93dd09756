"""QA batches and graded reports as a new user met them (issue #16 items 1-4 and 17): the
recording plays wherever the report folder goes, the index fits and shows every warning,
trainee names, one file mode for every result file, `grade --json` writes nothing here."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicetrainer.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def qa_in(tmp_path_factory, shared_audio):
    """Three recordings as a QA reviewer gets them: names carry the trainee; one is 8 kHz u-law."""
    d = tmp_path_factory.mktemp("qa_in")
    y, sr = sf.read(shared_audio / "speech" / "jfk.wav")
    import soxr

    sf.write(d / "alex_phone-call.wav", soxr.resample(y, sr, 8000), 8000, subtype="ULAW")
    shutil.copy(shared_audio / "speech" / "librivox_0920.wav", d / "sam_call-02.wav")
    (d / "jo_corrupt.wav").write_bytes(b"RIFF\0\0\0\0WAVEfmt cut off in transit")
    return d


@pytest.fixture(scope="module")
def graded(qa_in, tmp_path_factory, transcriber):
    """`grade qa_in/*.wav --out OUT --trainee-pattern '{trainee}_*.wav'` under umask 027."""
    out = tmp_path_factory.mktemp("qa") / "out"
    data = tmp_path_factory.mktemp("data")
    old_env, old_mask = os.environ.get("VOICETRAINER_DATA"), os.umask(0o027)
    os.environ["VOICETRAINER_DATA"] = str(data)
    try:
        code = main(["grade", *sorted(str(p) for p in qa_in.iterdir()), "--out", str(out), "--quiet",
                     "--trainee-pattern", "{trainee}_*.wav"])
    finally:
        os.umask(old_mask)
        os.environ.pop("VOICETRAINER_DATA") if old_env is None else os.environ.update(VOICETRAINER_DATA=old_env)
    assert code == 2  # the corrupt file; the others are graded
    return out, data


def _audio_src(page: Path) -> str:
    m = re.search(r'<audio id="player"[^>]* src="([^"]+)"', page.read_text())
    assert m, "the report links no recording"
    return m.group(1)


def test_batch_report_plays_its_recording_after_the_folder_moves(graded, qa_in, tmp_path):
    """Item 1: the recording sits in the report folder (linked or copied), so the page's link
    survives moving the folder (and the web app, which serves report folders, can serve it)."""
    out, _ = graded
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved)
    for name in ("alex_phone-call", "sam_call-02"):
        page = moved / name / "report.html"
        src = _audio_src(page)
        assert "/" not in src and ".." not in src, src
        assert (page.parent / src).is_file() and (page.parent / src).stat().st_size == (qa_in / f"{name}.wav").stat().st_size
    # grading again reuses the copy, never writes a second one
    assert sorted(p.name for p in (out / "sam_call-02").iterdir()) == ["report.html", "report.json", "sam_call-02.wav"]


def test_place_recording_never_replaces_a_stranger_file(tmp_path):
    from voicetrainer.report.media import place_recording

    src = tmp_path / "in" / "call.wav"
    src.parent.mkdir()
    src.write_bytes(b"RIFF-ours")
    out = tmp_path / "out"
    out.mkdir()
    (out / "call.wav").write_bytes(b"somebody else's file")
    placed = place_recording(src, out)
    assert placed == out / "call-2.wav" and placed.read_bytes() == b"RIFF-ours"
    assert (out / "call.wav").read_bytes() == b"somebody else's file"
    assert place_recording(src, out) == placed  # again: the same copy
    assert place_recording(tmp_path / "gone.wav", out) is None
    inside = out / "call.wav"
    assert place_recording(inside, out) == inside  # a session's own recording stays


def test_index_shows_every_warning_and_the_trainee(graded):
    """Items 2 and 3: the telephone-band warning is in the index; trainees come from the names."""
    out, _ = graded
    html = (out / "index.html").read_text()
    assert "telephone-band audio" in html and "trainee-only recording" in html
    assert "<th" in html and "Notes" in html and "Trainee" in html
    rows = {Path(r["input"]).name: r for r in csv.DictReader((out / "summary.csv").open())}
    assert {k: r["trainee"] for k, r in rows.items()} == {"alex_phone-call.wav": "alex", "jo_corrupt.wav": "jo",
                                                          "sam_call-02.wav": "sam"}
    report = json.loads((out / "alex_phone-call" / "report.json").read_text())
    assert report["source"]["trainee"] == "alex"


def test_history_files_graded_calls_under_their_trainee(graded):
    from voicetrainer.report.history import HistoryDB

    _, data = graded
    with HistoryDB(data / "history.sqlite") as db:
        assert sorted(r.trainee for r in db.sessions()) == ["alex", "sam"]


def test_every_result_file_has_one_mode_from_the_umask(graded):
    """Item 4: summary.csv, report.json, report.html and index.html alike: 0666 less the umask
    (the batch ran under umask 027: 0640), never mkstemp's 0600 beside open()'s 0644."""
    out, _ = graded
    files = [out / "summary.csv", out / "index.html", out / "sam_call-02" / "report.json",
             out / "sam_call-02" / "report.html"]
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {f.name: "0o640" for f in files}


def test_trainee_names_from_name_manifest_or_pattern(tmp_path):
    from voicetrainer.errors import InputError
    from voicetrainer.session.trainees import trainee_names

    inputs = ["calls/alex-01.wav", "calls/bo_02.wav", "other/kim.wav"]
    man = tmp_path / "who.csv"
    man.write_text("File,Trainee\nalex-01.wav,Alex Smith\nother/kim.wav,Kim\n")
    assert trainee_names(inputs, manifest=man, pattern=r"^(?P<trainee>[a-z]+)_", name="team") == {
        "calls/alex-01.wav": "Alex Smith", "calls/bo_02.wav": "bo", "other/kim.wav": "Kim"}
    assert trainee_names(inputs, pattern="{trainee}-??.wav") == {
        "calls/alex-01.wav": "alex", "calls/bo_02.wav": None, "other/kim.wav": None}
    assert set(trainee_names(inputs, name="Dana").values()) == {"Dana"}
    with pytest.raises(InputError, match="no place for the name"):
        trainee_names(inputs, pattern=r"^\w+")
    bad = tmp_path / "bad.csv"
    bad.write_text("recording;who\nx.wav;y\n")
    with pytest.raises(InputError, match="'file' and a 'trainee' column") as e:
        trainee_names(inputs, manifest=bad)
    assert "bad.csv" in str(e.value)


def test_grade_json_without_out_writes_nothing_here(tmp_path, monkeypatch, capsys, shared_audio, transcriber):
    """Item 17: `grade x.wav --json` in any folder prints the JSON and writes nothing there; the
    report files go to the user data folder, and stderr says where. `--trainee` names the trainee."""
    here = tmp_path / "a-repository"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("VOICETRAINER_DATA", str(tmp_path / "data"))
    code = main(["grade", str(shared_audio / "speech" / "librivox_0930.wav"), "--json", "--trainee", "Ana"])
    captured = capsys.readouterr()
    assert code == 0 and list(here.iterdir()) == []
    report = json.loads(captured.out)
    assert report["schema"] == "voicetrainer.report/1" and report["source"]["trainee"] == "Ana"
    where = tmp_path / "data" / "reports" / "librivox_0930"
    assert (where / "report.json").is_file() and str(where) in captured.err
