"""Login, roles and the persona editor's form tab in headless Chromium (issue #20).

The first test edits a persona in the form while the server runs for one person; the second adds
accounts, after which everyone logs in. Screenshots go where test_web_browser.py puts them.
"""

from __future__ import annotations

from test_web_browser import (  # noqa: F401 - fixtures: a server per module, one browser
    _console_errors, _css, _shot, _wait, browser, pytestmark, shots, web,
)
from voicetrainer.persona.loader import load_persona_file


def _set(d, selector: str, value: str) -> None:
    el = _css(d, selector)[0]
    el.clear()
    el.send_keys(value)


def test_persona_form_shows_errors_beside_fields_and_saves(web, browser, shots):
    d = browser
    path = web.personas / "billing-double-charge.yaml"
    original = path.read_text()
    d.get(web.url + "/personas/edit?file=billing-double-charge.yaml")
    _wait(lambda: _css(d, "#persona-form"), 10, "the form tab")
    assert _css(d, "#f-name")[0].get_attribute("value") == "Sandra Okafor"
    assert "Hi. You charged me twice" in _css(d, "#f-lines-opening")[0].get_attribute("value")
    _shot(d, shots, "20-persona-form")
    _set(d, "#f-temperament-start-anger", "14")
    _css(d, "#f-lines-closing")[0].clear()
    _css(d, "#form-save")[0].click()
    _wait(lambda: _css(d, "#form-errors"), 10, "the form's errors")
    assert path.read_text() == original  # nothing saved while invalid
    assert all("/personas/form" in e and "400" in e for e in _console_errors(d))  # the refusal is a 400 page
    for field, words in (("temperament.start_anger", "at most 10"), ("lines.closing", "at least 1")):
        err = _css(d, f'.field[data-field="{field}"] .field-error')
        assert err and err[0].is_displayed() and words in err[0].text, field
        box = _css(d, f'.field[data-field="{field}"] input, .field[data-field="{field}"] textarea')[0]
        assert box.get_attribute("aria-invalid") == "true"
        assert 0 <= err[0].rect["y"] - box.rect["y"] < 120  # right under its own input, not in a list elsewhere
    assert _css(d, "#f-temperament-start-anger")[0].get_attribute("value") == "14"  # what was typed is kept
    d.execute_script("document.getElementById('f-temperament-start-anger').scrollIntoView({block:'center'})")
    _shot(d, shots, "21-persona-form-errors", full=False)
    _set(d, "#f-temperament-start-anger", "6")
    _css(d, "#f-lines-closing")[0].send_keys("Okay, that works. Thank you.")
    _css(d, "#form-save")[0].click()
    _wait(lambda: _css(d, "#saved"), 10, "the saved notice")
    saved = load_persona_file(path)
    assert saved.temperament.start_anger == 6 and saved.lines.closing == ("Okay, that works. Thank you.",)
    _shot(d, shots, "22-persona-form-saved")
    assert not _console_errors(d)


def test_login_roles_and_logout(web, browser, shots):
    d = browser
    web.app.accounts.add("tess", "trainer-pass-1", "trainer")
    web.app.accounts.add("rick", "recruit-pass-1", "recruit", cohort="autumn")
    d.delete_all_cookies()
    d.get(web.url + "/practice")
    _wait(lambda: "/login" in d.current_url, 10, "the login page")
    _set(d, "#username", "rick")
    _set(d, "#password", "not-his-password")
    _css(d, "#login")[0].click()
    _wait(lambda: _css(d, "#login-error"), 10, "the login error")
    assert all("/login" in e and "401" in e for e in _console_errors(d))
    assert "Wrong user name or password" in _css(d, "#login-error")[0].text
    _shot(d, shots, "23-login-error")
    _set(d, "#password", "recruit-pass-1")
    _css(d, "#login")[0].click()
    _wait(lambda: d.current_url.endswith("/practice"), 10, "the practice page after login")
    assert _css(d, "#who-name")[0].text == "rick"
    trainee = _css(d, "#trainee")[0]
    assert trainee.get_attribute("value") == "rick" and trainee.get_attribute("readonly")
    links = [a.get_attribute("href") for a in _css(d, "header nav a")]
    assert any(h.endswith("/practice") for h in links) and not any(h.endswith("/personas") for h in links)
    _shot(d, shots, "24-recruit-practice")
    d.get(web.url + "/personas")
    assert "for trainers" in d.page_source
    assert all("/personas" in e and "403" in e for e in _console_errors(d))
    d.get(web.url + "/practice")
    _css(d, "#logout")[0].click()
    _wait(lambda: "/login" in d.current_url, 10, "the login page after logging out")
    d.get(web.url + "/history")
    _wait(lambda: "/login" in d.current_url, 10, "the login page for a page that needs it")

    _set(d, "#username", "tess")
    _set(d, "#password", "trainer-pass-1")
    _css(d, "#login")[0].click()
    _wait(lambda: d.current_url.endswith("/history"), 10, "back to the page asked for")
    d.get(web.url + "/personas")
    assert _css(d, "#persona-table") and _css(d, "#who-name")[0].text == "tess"
    _shot(d, shots, "25-trainer-personas")
    # the trainer adds a recruit from the Accounts page
    d.get(web.url + "/accounts")
    _set(d, "#a-name", "nina")
    _set(d, "#a-cohort", "autumn")
    _set(d, "#a-password", "nina-pass-123")
    _set(d, "#a-password2", "nina-pass-123")
    _css(d, "#a-add")[0].click()
    _wait(lambda: _css(d, "#done"), 10, "the account added")
    assert "nina" in _css(d, "#accounts")[0].text and web.app.accounts.get("nina").cohort == "autumn"
    _shot(d, shots, "26-accounts")
    assert not _console_errors(d)
