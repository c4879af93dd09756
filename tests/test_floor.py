"""The training floor: cohorts and assignments (store), each recruit's status from the history
(progress), and the cohort exports (CSV, xAPI 1.0.3), on synthetic history rows with known answers."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from report_builder import make_report
from voicetrainer.errors import InputError
from voicetrainer.floor import export, progress, xapi
from voicetrainer.floor.model import Attempt, Member, Standing, Status
from voicetrainer.floor.store import SCHEMA_VERSION, FloorStore
from voicetrainer.report.history import HistoryDB
from voicetrainer.report.schema import SKILLS, Skill

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def _report(overall: float, empathy: float = 50.0, outcome: str | None = "resolved", duration_s: float = 96.0):
    r = make_report()
    for s in SKILLS:
        r.skills[s] = Skill(score=60.0)
    r.skills["empathy"] = Skill(score=empathy)
    r.overall, r.outcome, r.duration_s = overall, outcome, duration_s
    return r


@pytest.fixture
def floor(tmp_path):
    """A cohort of three (ana, ben, cy) and an outsider (dee); one cohort assignment (bob-late >= 70
    overall by NOW-1 day) and one personal (ben: karen-refund empathy >= 80 by NOW+3 days).
    History: ana met bob on time; ben tried bob twice below 70; cy never called; dee (other
    cohort) called bob with 90."""
    store = FloorStore(tmp_path / "floor.sqlite3")
    store.add_cohort("Nov A", now=NOW - 20 * DAY)
    store.add_cohort("Nov B", now=NOW - 20 * DAY)
    a1 = store.assign(persona="bob-late", target=70, due=(NOW - DAY).date(), cohort="nov a",
                      created_by="tess", now=NOW - 10 * DAY)
    a2 = store.assign(persona="karen-refund", target=80, measure="empathy", due=(NOW + 3 * DAY).date(),
                      recruit="ben", now=NOW - 5 * DAY)
    db_path = tmp_path / "history.sqlite"
    with HistoryDB(db_path) as db:
        db.add(_report(60), trainee="ana", persona="bob-late", folder=tmp_path / "s0", date=NOW - 12 * DAY)  # before a1
        db.add(_report(75, outcome="resolved", duration_s=192.347), trainee="ana", persona="bob-late",
               folder=tmp_path / "s1", date=NOW - 4 * DAY)
        db.add(_report(55, outcome="hung_up"), trainee="Ana", persona="bob-late", folder=tmp_path / "s2",
               date=NOW - 3 * DAY)
        db.add(_report(50, empathy=70), trainee="ben", persona="bob-late", folder=tmp_path / "s3", date=NOW - 6 * DAY)
        db.add(_report(65, empathy=85), trainee="ben", persona="bob-late", folder=tmp_path / "s4", date=NOW - 2 * DAY)
        db.add(_report(40, empathy=79), trainee="ben", persona="karen-refund", folder=tmp_path / "s5",
               date=NOW - 1 * DAY)
        db.add(_report(90), trainee="dee", persona="bob-late", folder=tmp_path / "s6", date=NOW - 2 * DAY)
    members = [Member("ana", "Nov A"), Member("ben", "Nov A"), Member("cy", "Nov A")]
    attempts = progress.load_attempts(db_path, [m.name for m in members])
    return type("Floor", (), {"store": store, "a1": a1, "a2": a2, "members": members, "attempts": attempts,
                              "db": db_path})


# -- store -------------------------------------------------------------------------------------
def test_store_keeps_cohorts_and_assignments(floor, tmp_path):
    assert [c.name for c in floor.store.cohorts()] == ["Nov A", "Nov B"]
    assert floor.a1.cohort == "Nov A" and floor.a1.recruit is None  # the cohort's own spelling
    assert floor.a1.practice_url() == f"/practice/bob-late?assignment={floor.a1.id}"
    ben = Member("ben", "nov a")  # cohort case does not matter
    assert [a.id for a in floor.store.assignments(member=ben)] == [floor.a1.id, floor.a2.id]
    assert [a.id for a in floor.store.assignments(member=Member("cy", "Nov A"))] == [floor.a1.id]
    assert floor.store.assignments(member=Member("dee", "Nov B")) == []
    assert floor.store.assignments(member=Member("zed", None)) == []
    again = FloorStore(tmp_path / "floor.sqlite3")  # reopened: same rows, schema version stamped
    assert again.get(floor.a2.id) == floor.a2
    con = sqlite3.connect(tmp_path / "floor.sqlite3")
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert floor.store.remove(floor.a2.id) and not floor.store.remove(floor.a2.id)
    assert floor.store.get(floor.a2.id) is None


@pytest.mark.parametrize("kwargs, field", [
    ({"persona": "Bob Late", "target": 70, "due": "2026-12-01", "cohort": "Nov A"}, "persona"),
    ({"persona": "bob-late", "target": 170, "due": "2026-12-01", "cohort": "Nov A"}, "target"),
    ({"persona": "bob-late", "target": "nan", "due": "2026-12-01", "cohort": "Nov A"}, "target"),
    ({"persona": "bob-late", "target": 70, "due": "next week", "cohort": "Nov A"}, "due"),
    ({"persona": "bob-late", "target": 70, "due": "2026-12-01", "cohort": "No such"}, "cohort"),
    ({"persona": "bob-late", "target": 70, "due": "2026-12-01"}, "cohort"),
    ({"persona": "bob-late", "target": 70, "due": "2026-12-01", "cohort": "Nov A", "recruit": "ana"}, "cohort"),
    ({"persona": "bob-late", "target": 70, "due": "2026-12-01", "recruit": "ana", "measure": "charm"}, "measure"),
    ({"persona": "bob-late", "target": 70, "due": "2026-12-01", "recruit": "<script>"}, "recruit"),
])
def test_bad_assignments_are_refused_naming_the_field(floor, kwargs, field):
    with pytest.raises(InputError) as e:
        floor.store.assign(**kwargs)
    assert e.value.field == field


def test_cohort_names_are_unique_whatever_the_case(floor):
    with pytest.raises(InputError, match="already exists"):
        floor.store.add_cohort("NOV a")
    with pytest.raises(InputError):
        floor.store.add_cohort("   ")


# -- progress ----------------------------------------------------------------------------------
def test_assignment_status_from_history(floor):
    by = {r.name: r for r in progress.cohort_progress(floor.members, floor.attempts, floor.store.assignments(), now=NOW)}
    ana = {p.assignment.id: p for p in by["ana"].assignments}
    p = ana[floor.a1.id]
    # the call before the assignment (60) does not count; 75 met 70 four days ago, on time
    assert (p.status, p.attempts, p.best, p.latest, p.late) == (Status.MET, 2, 75, 55, False)
    assert p.met_at == NOW - 4 * DAY
    ben = {p.assignment.id: p for p in by["ben"].assignments}
    assert (ben[floor.a1.id].status, ben[floor.a1.id].best, ben[floor.a1.id].days_left) == (Status.OVERDUE, 65, -1)
    # the personal assignment measures empathy: 79 < 80, due in 3 days
    assert (ben[floor.a2.id].status, ben[floor.a2.id].best, ben[floor.a2.id].days_left) == (Status.IN_PROGRESS, 79, 3)
    cy = by["cy"].assignments[0]
    assert (cy.status, cy.attempts, cy.best) == (Status.OVERDUE, 0, None)
    assert by["ana"].standing is Standing.ON_TRACK and not by["ana"].behind
    assert by["ben"].standing is Standing.OVERDUE
    assert [c.status for c in by["ben"].concerns] == [Status.OVERDUE, Status.IN_PROGRESS]


def test_status_before_the_due_day_and_late_success(floor):
    early = NOW - 8 * DAY  # before any counted call and before the due day
    rows = progress.cohort_progress(floor.members, floor.attempts, floor.store.assignments(), now=early)
    assert {r.name: r.assignments[0].status for r in rows} == {
        "ana": Status.NOT_STARTED, "ben": Status.NOT_STARTED, "cy": Status.NOT_STARTED}
    mid = NOW - 5 * DAY  # ben has called once (50), ana not yet
    rows = {r.name: r for r in progress.cohort_progress(floor.members, floor.attempts, floor.store.assignments(), now=mid)}
    assert rows["ben"].assignments[0].status is Status.IN_PROGRESS and rows["ben"].standing is Standing.BELOW_TARGET
    assert rows["ana"].standing is Standing.ON_TRACK
    # a target reached after the due day is met, and marked late
    late = floor.store.assign(persona="bob-late", target=72, due=(NOW - 6 * DAY).date(), recruit="ana", now=NOW - 7 * DAY)
    p = progress.assignment_progress(late, floor.attempts["ana"], now=NOW)
    assert p.status is Status.MET and p.late


def test_the_due_day_itself_is_not_overdue(floor):
    today = NOW.astimezone().date()
    a = floor.store.assign(persona="bob-late", target=99, due=today, recruit="ana", now=NOW - 10 * DAY)
    p = progress.assignment_progress(a, floor.attempts["ana"], now=NOW)
    assert (p.status, p.days_left, p.best) == (Status.IN_PROGRESS, 0, 75)
    end_of_day = datetime.combine(today, datetime.max.time()).astimezone()
    assert progress.assignment_progress(a, floor.attempts["ana"], now=end_of_day).status is Status.IN_PROGRESS
    next_day = datetime.combine(today + DAY, datetime.min.time()).astimezone()
    assert progress.assignment_progress(a, floor.attempts["ana"], now=next_day).status is Status.OVERDUE


def test_behind_recruits_come_first_then_by_name(floor):
    rows = progress.cohort_progress(floor.members, floor.attempts, floor.store.assignments(), now=NOW)
    assert [(r.name, r.standing) for r in rows] == [
        ("ben", Standing.OVERDUE), ("cy", Standing.OVERDUE), ("ana", Standing.ON_TRACK)]


def test_latest_best_outcome_and_trend(floor):
    ana = progress.recruit_progress(Member("ana", "Nov A"), floor.attempts["ana"], floor.store.assignments(), now=NOW)
    assert ana.calls == 3 and ana.last_outcome == "hung_up" and ana.outcomes == {"resolved": 2, "hung_up": 1}
    assert (ana.overall.latest, ana.overall.best) == (55, 75)
    assert [s.skill for s in ana.skills] == list(SKILLS)
    assert (ana.skill("empathy").latest, ana.skill("empathy").best) == (50, 50)
    spark = ana.trend
    pts = [tuple(map(float, p.split(","))) for p in spark.points.split()]
    assert len(pts) == 3 and pts[0][0] == 3 and pts[-1][0] == 117  # oldest left, newest right
    ys = [y for _, y in pts]
    assert ys[1] < ys[0] < ys[2]  # 75 highest (y grows downwards), 55 lowest
    assert (spark.last_x, spark.last_y) == pts[-1] and spark.target_y is None  # the only target is met
    assert spark.label == "overall 60, 75, 55 over the last 3 calls"
    ben = progress.recruit_progress(Member("ben", "Nov A"), floor.attempts["ben"], floor.store.assignments(), now=NOW)
    ben_ys = [float(p.split(",")[1]) for p in ben.trend.points.split()]
    assert ben.trend.target_y is not None and ben.trend.target_y < min(ben_ys)  # target 70 drawn above 50, 65


def test_sparkline_edges():
    one = progress.sparkline([100.0])
    assert one.points == "60,3" and one.label.endswith("last 1 call")
    none = progress.sparkline([])
    assert none.points == "" and none.last_x is None and none.label == "no graded calls yet"
    clipped = progress.sparkline([-5.0, 130.0])
    assert clipped.points == "3,29 117,3"
    # the scale follows the scores (and the target): 45 -> 61 rises visibly, not a level line
    rise = progress.sparkline([45.0, 61.0], target=70.0)
    (_, y0), (_, y1) = [tuple(map(float, p.split(","))) for p in rise.points.split()]
    assert y0 - y1 > 0.4 * (rise.height - 2 * progress.SPARK_PAD) and rise.target_y < y1
    level = progress.sparkline([50.0, 50.0])  # equal scores: a level line in the middle
    assert level.points == "3,16 117,16"


def test_compare_two_recruits(floor):
    rows = progress.cohort_progress(floor.members, floor.attempts, floor.store.assignments(), now=NOW)
    by = {r.name: r for r in rows}
    c = progress.compare(by["ana"], by["ben"])
    assert [r.skill for r in c.rows] == ["overall", *SKILLS]
    overall = c.rows[0]
    assert (overall.a.best, overall.b.best, overall.diff_best) == (75, 65, 10)
    emp = next(r for r in c.rows if r.skill == "empathy")
    assert (emp.a.best, emp.b.best, emp.diff_best, emp.b.latest) == (50, 85, -35, 79)
    assert progress.compare(by["ana"], by["cy"]).rows[0].diff_best is None  # cy has no calls


def test_missing_history_reads_as_no_calls_and_creates_nothing(tmp_path):
    out = progress.load_attempts(tmp_path / "none.sqlite", ["ana"])
    assert out == {"ana": []} and not (tmp_path / "none.sqlite").exists()


# -- export ------------------------------------------------------------------------------------
def test_csv_one_row_per_graded_call(floor):
    rows = export.call_rows(floor.members, floor.attempts, floor.store.assignments())
    text = export.csv_text(rows, {"bob-late": "Bob (late parcel)"})
    assert text.startswith(export.BOM + "cohort,recruit,")  # Excel reads UTF-8 only after a byte order mark
    table = list(csv.DictReader(io.StringIO(text.removeprefix(export.BOM))))
    assert tuple(table[0]) == export.CSV_COLUMNS
    assert [(r["recruit"], r["overall"]) for r in table] == [
        ("ana", "60"), ("ana", "75"), ("ana", "55"), ("ben", "50"), ("ben", "65"), ("ben", "40")]
    first, met, ben_karen = table[0], table[1], table[5]
    assert first["assignment"] == "" and first["met_target"] == ""  # before the assignment was made
    assert (met["assignment"], met["target"], met["met_target"], met["outcome"]) == (str(floor.a1.id), "70", "yes", "resolved")
    assert met["duration_s"] == "192.3" and met["persona_name"] == "Bob (late parcel)" and met["cohort"] == "Nov A"
    assert (ben_karen["assignment"], ben_karen["measure"], ben_karen["empathy"], ben_karen["met_target"]) == (
        str(floor.a2.id), "empathy", "79", "no")
    assert datetime.fromisoformat(met["date"]) == NOW - 4 * DAY
    # a name a spreadsheet would run as a formula is written as text
    evil = Member("=HYPERLINK(\"http://x\")", "Nov A")
    text = export.csv_text(export.call_rows([evil], {evil.name: floor.attempts["ana"][:1]}, []), {})
    assert list(csv.DictReader(io.StringIO(text.removeprefix(export.BOM))))[0]["recruit"] == "'" + evil.name
    assert export._safe("=1+1") == "'=1+1" and export._safe("-3") == "'-3" and export._safe(5) == 5


def _check_statement_shape(s: dict) -> None:
    """The xAPI 1.0.3 requirements this export must meet, checked on the JSON itself."""
    iri = re.compile(r"^[a-z][a-z0-9+.-]*:\S+$", re.I)
    assert set(s) <= {"id", "actor", "verb", "object", "result", "context", "timestamp", "version"}
    assert str(uuid.UUID(s["id"])) == s["id"]
    assert s["version"] == "1.0.3"
    actor = s["actor"]
    assert actor["objectType"] == "Agent"
    ifis = [k for k in ("mbox", "mbox_sha1sum", "openid", "account") if k in actor]
    assert ifis == ["account"]  # exactly one inverse functional identifier
    assert iri.match(actor["account"]["homePage"]) and actor["account"]["name"]
    assert s["verb"]["id"] in xapi.VERBS.values() and s["verb"]["display"]["en-US"]
    assert s["object"]["objectType"] == "Activity" and iri.match(s["object"]["id"])
    assert s["object"]["definition"]["name"]["en-US"]
    res = s["result"]
    sc = res["score"]
    assert -1 <= sc["scaled"] <= 1 and sc["min"] <= sc["raw"] <= sc["max"] and sc["min"] < sc["max"]
    assert sc["scaled"] == pytest.approx(sc["raw"] / 100)
    assert xapi.DURATION_RE.match(res["duration"])
    assert all(iri.match(k) for k in res.get("extensions", {}))
    for key in s.get("context", {}).get("contextActivities", {}):
        assert key in ("parent", "grouping", "category", "other")
        assert isinstance(s["context"]["contextActivities"][key], list)
    ts = datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00"))
    assert ts.tzinfo is not None


def test_xapi_statements_one_per_graded_call(floor):
    rows = export.call_rows(floor.members, floor.attempts, floor.store.assignments())
    text = export.xapi_json(rows, {"bob-late": "Bob (late parcel)"}, base_url="https://floor.example.org/vt")
    statements = json.loads(text)
    assert len(statements) == len(rows) == 6
    for s in statements:
        _check_statement_shape(s)
    assert len({s["id"] for s in statements}) == 6
    verbs = [s["verb"]["display"]["en-US"] for s in statements]
    assert verbs == ["completed", "passed", "failed", "failed", "failed", "failed"]
    met = statements[1]
    assert met["actor"] == {"objectType": "Agent", "name": "ana",
                            "account": {"homePage": "https://floor.example.org/vt/", "name": "ana"}}
    assert met["object"]["id"] == "https://floor.example.org/vt/personas/bob-late"
    assert met["object"]["definition"]["name"] == {"en-US": "Bob (late parcel)"}
    assert met["result"]["score"] == {"scaled": 0.75, "raw": 75.0, "min": 0.0, "max": 100.0}
    assert met["result"]["success"] is True and met["result"]["completion"] is True
    assert met["result"]["duration"] == "PT3M12.35S"
    ext = met["result"]["extensions"]
    assert ext["https://floor.example.org/vt/xapi/extensions/outcome"] == "resolved"
    assert ext["https://floor.example.org/vt/xapi/extensions/skills"]["empathy"] == 50
    assert met["timestamp"] == "2026-11-25T12:00:00.000Z"
    grouping = met["context"]["contextActivities"]["grouping"][0]
    assert grouping["id"] == "https://floor.example.org/vt/cohorts/Nov%20A"
    assert "success" not in statements[0]["result"]  # no assignment: no pass or fail
    # the same call exported again keeps its statement id (an LRS stores it once)
    assert json.loads(export.xapi_json(rows, {}, base_url="https://floor.example.org/vt"))[1]["id"] == met["id"]


def test_xapi_statements_validate_with_an_lrs_models(floor):
    """A third party's reading of the spec: Ralph (an LRS) parses each statement with its strict
    xAPI 1.0.3 pydantic models (IRIs, one inverse functional identifier, score bounds, durations)."""
    statements_mod = pytest.importorskip("ralph.models.xapi.base.statements", reason="ralph-malph (dev extra)")
    rows = export.call_rows(floor.members, floor.attempts, floor.store.assignments())
    extra = export.CallRow(member=Member("zoe", None), assignment=None, attempt=Attempt(
        session_id=99, when=NOW, persona="bob-late", overall=None, outcome=None, duration_s=None))  # nothing scored
    statements = json.loads(export.xapi_json([*rows, extra], {"bob-late": "Bob"}))
    for s in statements:
        parsed = statements_mod.BaseXapiStatement(**s)
        assert str(parsed.id) == s["id"]
    assert "result" in statements[-1] and "score" not in statements[-1]["result"]


@pytest.mark.parametrize("seconds, text", [(0, "PT0S"), (5, "PT5S"), (59.999, "PT1M"), (192.347, "PT3M12.35S"),
                                           (3600, "PT1H"), (3725.5, "PT1H2M5.5S")])
def test_iso_durations(seconds, text):
    assert xapi.iso_duration(seconds) == text and xapi.DURATION_RE.match(text)


def test_the_models_refuse_what_the_spec_forbids():
    good = {"homePage": "http://localhost:8765/", "name": "ana"}
    with pytest.raises(ValidationError):
        xapi.Score(scaled=1.5)
    with pytest.raises(ValidationError):
        xapi.Score(raw=120, min=0, max=100)
    with pytest.raises(ValidationError):
        xapi.Account(homePage="not an iri", name="ana")
    with pytest.raises(ValidationError):
        xapi.Result(duration="3 minutes")
    with pytest.raises(ValidationError):
        xapi.Result(extensions={"skills": {}})  # an extension key must be an IRI
    with pytest.raises(ValidationError):
        xapi.Verb(id="http://adlnet.gov/expapi/verbs/passed", display={"english!": "passed"})
    with pytest.raises(ValidationError):
        xapi.Statement(id=uuid.uuid4(), actor=xapi.Agent(account=xapi.Account(**good)),
                       verb=xapi.Verb(id=xapi.VERBS["passed"], display={"en-US": "passed"}),
                       object=xapi.Activity(id="http://localhost:8765/personas/x"), timestamp=datetime(2026, 1, 1))
    assert xapi.Account(**good).to_json() == good


def test_persona_names_from_the_shipped_personas():
    names = export.persona_names()
    assert names and all(re.match(r"^[a-z0-9-]+$", k) and v for k, v in names.items())


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_floor_export_and_status(floor, tmp_path, monkeypatch, capsys):
    from voicetrainer.cli import main
    from voicetrainer.web.accounts import default_store

    data = tmp_path  # the fixture's floor.sqlite3 and history.sqlite are here
    monkeypatch.setenv("VOICETRAINER_DATA", str(data))
    accounts = default_store(data)
    for name in ("ana", "ben", "cy"):
        accounts.add(name, "password-1", "recruit", "Nov A")
    accounts.add("dee", "password-1", "recruit", "Nov B")
    out = tmp_path / "nov-a.csv"
    assert main(["floor", "export", "--cohort", "nov a", "--format", "csv", "--out", str(out)]) == 0
    table = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["recruit"] for r in table] == ["ana"] * 3 + ["ben"] * 3 and {r["cohort"] for r in table} == {"Nov A"}
    assert "6 graded call(s) of cohort Nov A" in capsys.readouterr().err
    assert main(["floor", "export", "--cohort", "Nov A", "--out", str(out)]) == 2  # never overwrites
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["floor", "export", "--cohort", "Nov A", "--format", "xapi", "--out", "-",
                 "--base-url", "https://lms.example.org/vt/"]) == 0
    statements = json.loads(capsys.readouterr().out)
    assert len(statements) == 6 and statements[0]["actor"]["account"]["homePage"] == "https://lms.example.org/vt/"
    assert main(["floor", "export", "--cohort", "Nobody", "--out", "-"]) == 2
    assert "no cohort named 'Nobody'" in capsys.readouterr().err
    assert main(["floor", "status", "--cohort", "Nov A"]) == 0
    text = capsys.readouterr().out
    assert "ben" in text and "overdue" in text and "dee" not in text
