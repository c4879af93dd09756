"""The persona editor's form tab (issue #20): fields and lists of lines written into the YAML that is
stored, the loader's own validation shown beside each field, nothing saved while invalid."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from voicetrainer.persona.loader import load_persona_file
from voicetrainer.web import persona_form
from voicetrainer.web.app import create_app
from web_helpers import make_client, web_app

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture()
def web(tmp_path, monkeypatch):
    ctx = web_app(tmp_path, monkeypatch)
    ctx.local_owner_check = lambda scope: True
    return ctx, make_client(create_app(ctx))


def _fields(page: str) -> list[tuple[str, str]]:
    """What the browser would submit: every field of #persona-form with its value as rendered."""
    import html

    form = page[page.index('id="persona-form"'):page.index("</form>", page.index('id="persona-form"'))]
    out = []
    for m in re.finditer(r'<input([^>]*)>', form):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', m.group(1)))
        if "name" not in attrs or (attrs.get("type") == "checkbox" and "checked" not in m.group(1)):
            continue
        out.append((attrs["name"], html.unescape(attrs.get("value", ""))))
    for m in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        out.append((m.group(1), html.unescape(m.group(2))))
    for m in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        sel = re.search(r"<option selected>([^<]*)<", m.group(2)) or re.search(r"<option>([^<]*)<", m.group(2))
        out.append((m.group(1), html.unescape(sel.group(1))))
    return out


def _with(fields, **changes) -> str:
    changes = {k.replace("__", "."): v for k, v in changes.items()}
    return urlencode([(k, changes.get(k, v)) for k, v in fields])


def test_form_shows_the_persona_and_saves_changes_into_the_yaml(web):
    ctx, c = web
    path = ctx.personas_dir / "billing-double-charge.yaml"
    before = load_persona_file(path)
    page = c.get("/personas/edit?file=billing-double-charge.yaml").text
    assert 'aria-current="page">Form<' in page and 'href="/personas/edit?file=billing-double-charge.yaml&amp;tab=yaml"' in page
    fields = _fields(page)
    got = dict(fields)
    assert got["name"] == "Sandra Okafor" and got["temperament.start_anger"] == "7" and got["difficulty"] == "medium"
    assert got["lines.opening"].splitlines() == list(before.lines.opening)
    assert ("scenario.resolution.requires", "apology") in fields
    new_lines = got["lines.closing"] + "\nFine. Thanks for fixing it."
    r = c.post("/personas/form", content=_with(fields, name="Sandra O.", temperament__patience="5",
                                               lines__closing=new_lines), headers=FORM)
    assert r.status_code == 303 and r.headers["location"] == "/personas/edit?file=billing-double-charge.yaml&saved=1"
    after = load_persona_file(path)
    assert after.name == "Sandra O." and after.temperament.patience == 5
    assert after.lines.closing[-1] == "Fine. Thanks for fixing it."
    assert after.scenario == before.scenario and after.voice == before.voice and after.lines.opening == before.lines.opening
    text = path.read_text()
    assert text.startswith("# Billing: charged twice")  # the file's own comment stays on top
    assert "Saved billing-double-charge.yaml" in c.get(r.headers["location"]).text


def test_form_errors_stand_beside_their_fields_and_nothing_is_saved(web):
    ctx, c = web
    path = ctx.personas_dir / "billing-double-charge.yaml"
    original = path.read_text()
    fields = _fields(c.get("/personas/edit?file=billing-double-charge.yaml").text)
    r = c.post("/personas/form", content=_with(fields, temperament__start_anger="14", lines__closing="",
                                               voice__volume="loud", name=""), headers=FORM)
    assert r.status_code == 400 and path.read_text() == original
    page = r.text
    for field, words in (("temperament.start_anger", "at most 10"), ("lines.closing", "at least 1"),
                         ("voice.volume", "number"), ("name", "required")):
        block = page[page.index(f'data-field="{field}"'):]
        block = block[:block.index("</div>")]
        assert 'class="field-error"' in block and words in block.lower(), (field, block)
        assert 'aria-invalid="true"' in block
    assert 'id="form-errors"' in page and "4 problem(s)" in page
    # what the trainer typed is still there to fix
    assert 'value="14"' in page and 'value="loud"' in page


def test_new_persona_from_the_form_and_the_yaml_tab_still_edits_raw(web):
    ctx, c = web
    page = c.get("/personas/new?id=angry-landlord").text
    fields = _fields(page)
    assert dict(fields)["file"] == "angry-landlord.yaml"
    r = c.post("/personas/form", content=_with(fields, name="Morgan Lee"), headers=FORM)
    assert r.status_code == 303, r.text[:500]
    assert load_persona_file(ctx.personas_dir / "angry-landlord.yaml").name == "Morgan Lee"
    # the same id again is refused, the file is kept
    r = c.post("/personas/form", content=_with(fields, name="Someone Else"), headers=FORM)
    assert r.status_code == 409 and "exists already" in r.text
    assert load_persona_file(ctx.personas_dir / "angry-landlord.yaml").name == "Morgan Lee"
    r = c.post("/personas/form", content=_with(fields, file="../evil.yaml"), headers=FORM)
    assert r.status_code == 400 and not (ctx.personas_dir.parent / "evil.yaml").exists()
    raw = c.get("/personas/edit?file=angry-landlord.yaml&tab=yaml").text
    assert 'id="yaml"' in raw and "Morgan Lee" in raw and "/static/editor.js" in raw


def test_errors_by_field_places_issues_on_the_longest_matching_field():
    placed, rest = persona_form.errors_by_field([
        {"field": "lines.opening[0]", "message": "too long"}, {"field": "lines.opening", "message": "too few"},
        {"field": "scenario.resolution.requires.1", "message": "unknown move"}, {"field": "id", "message": "mismatch"},
        {"field": "", "message": "temperament.start_anger (9) must be below temperament.hang_up_at (8)"}])
    assert placed["lines.opening"] == ["[0]: too long", "too few"]
    assert placed["scenario.resolution.requires"] == ["1: unknown move"]
    assert "temperament.start_anger" in placed or "temperament.hang_up_at" in placed
    assert rest == [{"field": "id", "message": "mismatch"}]


def test_text_from_files_is_escaped_everywhere_it_is_shown(web):
    ctx, c = web
    path = ctx.personas_dir / "billing-double-charge.yaml"
    evil = '<script>alert("x")</script> & "quotes"'
    path.write_text(path.read_text().replace("name: Sandra Okafor", f"name: '{evil}'"))
    assert load_persona_file(path).name == evil
    for page in ("/practice", "/personas", "/personas/edit?file=billing-double-charge.yaml",
                 "/personas/edit?file=billing-double-charge.yaml&tab=yaml"):
        text = c.get(page).text
        assert "<script>alert" not in text and "&lt;script&gt;alert" in text, page
