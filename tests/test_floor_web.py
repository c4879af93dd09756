"""The floor pages without a browser (Starlette's TestClient): single-user mode, the recruit's
home shows only their own data, bad requests, the downloads' headers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from report_builder import make_report
from voicetrainer.floor.service import FloorService
from voicetrainer.report.history import HistoryDB
from voicetrainer.web.app import create_app
from web_helpers import make_client, web_app

NOW = datetime.now(timezone.utc)


@pytest.fixture()
def ctx(tmp_path, monkeypatch):
    app = web_app(tmp_path, monkeypatch)
    with HistoryDB(app.data_dir / "history.sqlite") as db:
        for k, (who, overall) in enumerate([("alex", 55.0), ("alex", 68.0), ("sam", 80.0)]):
            r = make_report()
            r.overall, r.outcome = overall, "resolved"
            db.add(r, trainee=who, persona="supervisor-demand", folder=tmp_path / f"s{k}", date=NOW - timedelta(hours=3 - k))
    return app


def _login(client, name: str, password: str):
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"username": name, "password": password, "csrf": token, "next": "/"})


def test_single_user_mode_shows_the_history_trainees(ctx):
    ctx.local_owner_check = lambda scope: True  # the person at this machine, no accounts: a trainer
    c = make_client(create_app(ctx))
    r = c.get("/floor/dashboard")
    assert r.status_code == 200
    assert 'data-recruit="alex"' in r.text and 'data-recruit="sam"' in r.text
    assert "overall 55, 68 over the last 2 calls" in r.text
    r = c.get("/floor/compare?a=alex&b=sam")
    assert r.status_code == 200 and 'data-skill="overall"' in r.text
    assert c.get("/floor/compare?a=alex&b=nobody").status_code == 404
    assert c.get("/floor/home").headers["location"] == "/floor/dashboard"  # the trainer's home
    assert c.get("/floor/dashboard?cohort=Nope").status_code == 400  # an unknown cohort is named


def test_a_recruit_sees_only_their_own_scores(ctx):
    ctx.accounts.add("tess", "trainer-pass-1", "trainer")
    ctx.accounts.add("alex", "recruit-pass-1", "recruit", cohort="Nov A")
    ctx.accounts.add("sam", "recruit-pass-1", "recruit", cohort="Nov A")
    c = make_client(create_app(ctx))
    assert _login(c, "alex", "recruit-pass-1").status_code == 303
    r = c.get("/floor/home")
    assert r.status_code == 200 and "2 graded calls" in r.text and "sam" not in r.text
    assert "overall 55, 68" in r.text
    assert c.get("/floor/home?recruit=sam").text.count("2 graded calls") == 1  # no parameter picks another
    t = make_client(create_app(ctx))
    assert _login(t, "tess", "trainer-pass-1").status_code == 303
    # a cohort named only by the accounts (`voicetrainer users add --cohort`) is a cohort already
    r = t.get("/floor/dashboard?cohort=nov+a")
    assert r.status_code == 200 and 'data-recruit="alex"' in r.text and 'value="cohort:Nov A"' in r.text
    token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    form = {"persona": "supervisor-demand", "to": "cohort:Nov A", "measure": "overall", "target": "60",
            "due": "2030-01-31", "csrf": token}
    assert t.post("/floor/assignments", data=form).status_code == 303
    svc = FloorService(ctx.data_dir)
    assert [(a.cohort, a.target) for a in svc.store.assignments()] == [("Nov A", 60.0)]
    assert svc.store.cohort("Nov A") is not None  # stored when first assigned to
    assert t.post("/floor/cohorts", data={"name": "Nov A", "csrf": token}).status_code == 400  # exists now
    r = t.get("/floor/export/Nov%20A.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="Nov_A.csv"')
    assert r.text.count("\r\n") == 1 + 3  # the header and the three calls
    r = t.get("/floor/export/Nov%20A.xapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json" and len(r.json()) == 3
    assert t.get("/floor/export/Nobody.csv").status_code == 400
    assert t.post("/floor/assignments/999/delete", data={"csrf": token}).status_code == 404
