"""Accounts in the browser (trainers add, reset, remove; everyone changes their own password), and
the first account made from the single-user app (issue #20)."""

from __future__ import annotations


import pytest

from test_web_auth import _login
from voicetrainer.web.app import create_app
from web_helpers import client_csrf, make_client, web_app


@pytest.fixture()
def ctx(tmp_path, monkeypatch):
    return web_app(tmp_path, monkeypatch)


def _post(c, path: str, **fields):
    return c.post(path, data={"csrf": client_csrf(c), **fields})


def test_first_account_from_the_single_user_app_must_be_a_trainer(ctx):
    ctx.local_owner_check = lambda scope: True
    c = make_client(create_app(ctx))
    page = c.get("/accounts").text
    assert 'id="first-account"' in page and 'href="/accounts"' in page
    r = _post(c, "/accounts", name="rick", role="recruit", password="recruit-pass-1", password2="recruit-pass-1")
    assert r.status_code == 400 and "first account must be a trainer" in r.text and not ctx.accounts.has_accounts()
    r = _post(c, "/accounts", name="tess", role="trainer", password="trainer-pass-1", password2="trainer-pass-1")
    assert r.status_code == 303 and ctx.accounts.get("tess").role == "trainer"
    page = c.get("/accounts")  # accounts mode now, and this browser carries on as tess
    assert page.status_code == 200 and 'id="who-name">tess<' in page.text and "Log out" in page.text
    assert make_client(create_app(ctx)).get("/practice").status_code == 303  # everyone else logs in


def test_trainer_adds_resets_and_removes_accounts(ctx):
    ctx.accounts.add("tess", "trainer-pass-1", "trainer")
    c = make_client(create_app(ctx))
    _login(c, "tess", "trainer-pass-1")
    r = _post(c, "/accounts", name="rick", role="recruit", cohort="autumn", password="recruit-pass-1",
              password2="recruit-pass-2")
    assert r.status_code == 400 and "differ" in r.text and ctx.accounts.get("rick") is None
    assert 'value="rick"' in r.text and "recruit-pass" not in r.text  # the form comes back, without passwords
    r = _post(c, "/accounts", name="rick", role="recruit", cohort="autumn", password="recruit-pass-1",
              password2="recruit-pass-1")
    assert r.status_code == 303 and ctx.accounts.get("rick").cohort == "autumn"
    assert _post(c, "/accounts/password", name="rick", password="new-pass-123", password2="new-pass-123").status_code == 303
    assert ctx.accounts.verify("rick", "new-pass-123") and not ctx.accounts.verify("rick", "recruit-pass-1")
    r = _post(c, "/accounts/remove", name="tess")
    assert r.status_code == 400 and "your own account" in r.text
    assert _post(c, "/accounts/remove", name="rick").status_code == 303 and ctx.accounts.get("rick") is None


def test_recruits_cannot_manage_accounts_but_change_their_own_password(ctx):
    ctx.accounts.add("tess", "trainer-pass-1", "trainer")
    ctx.accounts.add("rick", "recruit-pass-1", "recruit")
    c = make_client(create_app(ctx))
    _login(c, "rick", "recruit-pass-1")
    assert c.get("/accounts").status_code == 403
    for path, fields in (("/accounts", {"name": "evil", "role": "trainer", "password": "x" * 10, "password2": "x" * 10}),
                         ("/accounts/password", {"name": "tess", "password": "x" * 10, "password2": "x" * 10}),
                         ("/accounts/remove", {"name": "tess"})):
        assert _post(c, path, **fields).status_code == 403, path
    assert ctx.accounts.get("evil") is None and ctx.accounts.verify("tess", "trainer-pass-1")
    r = _post(c, "/account/password", current="wrong-password", password="better-pass-1", password2="better-pass-1")
    assert r.status_code == 400 and "current password" in r.text
    r = _post(c, "/account/password", current="recruit-pass-1", password="better-pass-1", password2="better-pass-1")
    assert r.status_code == 200 and 'id="done"' in r.text and ctx.accounts.verify("rick", "better-pass-1")
