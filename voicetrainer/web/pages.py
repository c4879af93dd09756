"""HTML pages of the web app: plain server-rendered HTML, enhanced by small scripts in ``static/``.

Every function returns a whole page as a string; every value from a file or the user goes
through `esc`. Pages work with the keyboard alone (real links, buttons, labelled fields) and
use no inline script or style, so the server's Content-Security-Policy can forbid both.
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterable

from voicetrainer.report.schema import OUTCOME_LABELS
from voicetrainer.analysis.pacing import WPM_BAND

NAV = [
    ("/", "Practice", "recruit"),
    ("/mic", "Mic check", "recruit"),
    ("/history", "History", "recruit"),
    ("/calm", "Calm tools", "recruit"),
    ("/personas", "Personas", "trainer"),
    ("/batch", "Batch grading", "trainer"),
]


# The server's CSRF token goes where this mark stands (routes.Handler._html fills it in): in a
# <meta> for the scripts' fetch() calls and in a hidden field of every POST form.
CSRF_MARK = "__vt_csrf__"
CSRF_INPUT = f'<input type="hidden" name="csrf" value="{CSRF_MARK}">'


def esc(v: Any) -> str:
    return escape("" if v is None else str(v), quote=True)


def layout(title: str, body: str, *, active: str = "", scripts: Iterable[str] = (), notice: str | None = None) -> str:
    links = []
    for href, label, group in NAV:
        cur = ' aria-current="page"' if href == active else ""
        links.append(f'<li class="{group}"><a href="{href}"{cur}>{esc(label)}</a></li>')
    js = "".join(f'<script src="/static/{esc(s)}" defer></script>' for s in scripts)
    note = f'<div class="notice" role="alert">{notice}</div>' if notice else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="csrf-token" content="{CSRF_MARK}">'
        f'<title>{esc(title)} — voicetrainer</title><link rel="stylesheet" href="/static/app.css">{js}</head>'
        '<body><a class="skip" href="#main">Skip to content</a>'
        '<header class="top"><a class="brand" href="/">voicetrainer</a>'
        f'<nav aria-label="Main"><ul>{"".join(links)}</ul></nav></header>'
        f'<main id="main" tabindex="-1">{note}<h1>{esc(title)}</h1>{body}</main></body></html>\n'
    )


# ----------------------------------------------------------------------------- recruit pages

def _difficulty(d: str) -> str:
    return f'<span class="badge {esc(d)}">{esc(d)}</span>'


def _recording_options(recordings: list[str]) -> str:
    return "".join(f'<option value="{esc(n)}">{esc(n)} (ships with voicetrainer)</option>' for n in recordings)


def home(personas: list[dict], devices: dict, *, default_persona: str, recordings: list[str], call: dict | None,
         notice: str | None = None, trainee: str = "trainee") -> str:
    """Pick a persona and devices, then Start call."""
    running = ""
    if call and call["state"] in ("preparing", "running", "finishing"):
        running = (f'<p class="callout">A call with <b>{esc(call["persona_name"])}</b> is running. '
                   '<a href="/call">Go to the call</a>.</p>')
    cards = []
    for i, p in enumerate(personas):
        checked = " checked" if p["id"] == default_persona or (i == 0 and not any(q["id"] == default_persona for q in personas)) else ""
        cards.append(
            f'<li><label class="card"><input type="radio" name="persona" value="{esc(p["id"])}"{checked}>'
            f'<span class="card-body"><span class="card-title">{esc(p["name"])} {_difficulty(p["difficulty"])}</span>'
            f'<span class="card-text">{esc(p["summary"])}</span>'
            f'<span class="card-id">{esc(p["id"])}</span></span></label></li>'
        )
    if not cards:
        cards.append('<li>No valid personas found. Ask your trainer to add one on the <a href="/personas">Personas</a> page.</li>')

    def options(kind: str) -> str:
        opts = ['<option value="">system default</option>']
        for d in devices[kind]:
            opts.append(f'<option value="{esc(d["index"])}">{esc(d["index"])}: {esc(d["name"])}</option>')
        return "".join(opts)

    no_devices = not devices["inputs"] or not devices["outputs"]
    dev_note = (
        '<p class="hint" id="no-devices">No audio devices are visible on this machine (no sound card, or '
        'PulseAudio/PipeWire is not running), so a headset call cannot start. '
        'A simulated call works without devices.</p>' if no_devices else ""
    )
    sim_checked = " checked" if no_devices else ""
    body = (
        running
        + '<form method="post" action="/api/call/start" id="start-form" enctype="multipart/form-data">' + CSRF_INPUT +
        '<fieldset><legend>1. Choose a caller</legend>'
        f'<ul class="cards" id="personas">{"".join(cards)}</ul></fieldset>'
        '<fieldset><legend>2. You and your headset</legend><div class="row">'
        f'<p><label for="trainee">Your name</label><input id="trainee" name="trainee" value="{esc(trainee)}" '
        'autocomplete="name" required maxlength="60"></p>'
        f'<p><label for="device_in">Microphone</label><select id="device_in" name="device_in">{options("inputs")}</select></p>'
        f'<p><label for="device_out">Headset output</label><select id="device_out" name="device_out">{options("outputs")}</select></p>'
        f'</div>{dev_note}<p><a href="/mic">Check your microphone level first</a>.</p>'
        '<details' + (" open" if no_devices else "") + '><summary>Practice without a microphone (simulated call)</summary>'
        f'<p><label><input type="checkbox" name="simulate" value="1" id="simulate"{sim_checked}> '
        'Use a recording of spoken answers as the microphone</label></p>'
        f'<p><label for="fixture">Recording</label><select id="fixture" name="fixture">{_recording_options(recordings)}</select></p>'
        '<p><label for="recording-file">or upload your own (WAV, FLAC or OGG of spoken answers)</label>'
        '<input type="file" id="recording-file" name="recording_file" accept=".wav,.flac,.ogg,audio/*"></p>'
        '<p><label><input type="checkbox" name="accelerated" value="1" id="accelerated"> '
        'Accelerated (no waiting; for a quick look)</label></p></details></fieldset>'
        '<p><button type="submit" class="primary" id="start">Start call</button></p></form>'
    )
    from voicetrainer.web.chat import chat_section  # the typed chat (same caller engine)

    body += chat_section(personas, default_persona)
    return layout("Practice a call", body, active="/", notice=notice, scripts=["chat.js"])


def call_page(call: dict | None) -> str:
    """The live view; live.js fills it from /api/call/events."""
    if call is None:
        return layout("Call", '<p>No call has been started yet. <a href="/">Choose a caller</a>.</p>', active="/")
    body = (
        f'<div id="call" data-session="{esc(call["session"])}">'
        f'<p class="status" role="status" id="status">{esc(call["status"])}</p>'
        '<div class="live">'
        '<section class="panel" aria-labelledby="h-caller"><h2 id="h-caller">Caller</h2>'
        f'<p class="who-name">{esc(call["persona_name"])}</p>'
        '<p>Mood <span id="mood-word" class="mood-word">–</span></p>'
        '<div class="meter" id="mood-meter" role="img" aria-label="caller mood"><div class="fill" id="mood-fill"></div></div>'
        '<p class="speaking" id="caller-speaking" hidden>speaking</p></section>'
        '<section class="panel" aria-labelledby="h-you"><h2 id="h-you">Your voice</h2>'
        '<p>Loudness <span id="level-text">–</span></p>'
        '<div class="meter" id="level-meter" role="img" aria-label="your loudness against your calm band">'
        '<div class="band" id="level-band" hidden></div><div class="mark" id="level-mark"></div></div>'
        '<p>Pitch <span id="pitch-text">–</span></p>'
        '<div class="meter" id="pitch-meter" role="img" aria-label="your pitch against your calm band">'
        '<div class="band" id="pitch-band" hidden></div><div class="mark" id="pitch-mark"></div></div>'
        f'<p>Pace <span id="wpm-text">–</span> <span class="hint">(aim for {WPM_BAND[0]:.0f}–{WPM_BAND[1]:.0f} words a minute)</span></p>'
        '<p class="hint" id="baseline-note"></p>'
        '<p class="speaking" id="trainee-speaking" hidden>you are speaking</p></section>'
        '<section class="panel nudge-panel" aria-labelledby="h-tip"><h2 id="h-tip">Tip</h2>'
        '<p class="nudge" id="nudge" aria-live="assertive"></p>'
        '<p class="clock">Call time <span id="clock">00:00</span></p>'
        '<button type="button" class="danger" id="end-call">End call</button>'
        '<p id="report-link" hidden><a href="#" id="report-a">Open the report</a></p></section>'
        '</div>'
        '<section aria-labelledby="h-captions"><h2 id="h-captions">Captions</h2>'
        '<ol class="captions" id="captions" aria-live="polite"></ol></section>'
        '</div>'
        '<noscript><form method="post" action="/api/call/stop">' + CSRF_INPUT + '<button>End call</button></form></noscript>'
    )
    title = "Call with " + call["persona_name"] + (" (simulated)" if call["simulated"] else "")
    return layout(title, body, active="/", scripts=["live.js"])


def mic_page(devices: dict, sentence: str) -> str:
    opts = ['<option value="">system default</option>'] + [
        f'<option value="{esc(d["index"])}">{esc(d["index"])}: {esc(d["name"])}</option>' for d in devices["inputs"]
    ]
    body = (
        '<p>Say a few words at your normal call volume. The bar shows how loud the microphone hears you; '
        'the grey mark is the room noise.</p>'
        f'<p><label for="mic-device">Microphone</label><select id="mic-device">{"".join(opts)}</select></p>'
        '<p><button type="button" id="mic-start" class="primary">Start mic check</button></p>'
        '<div class="meter big" id="mic-meter" role="img" aria-label="microphone level">'
        '<div class="fill" id="mic-fill"></div><div class="mark floor" id="mic-floor"></div></div>'
        '<p role="status" id="mic-status">Not started.</p>'
        '<h2>Your calm voice</h2>'
        '<p>During a call your loudness and pitch are shown against your own calm voice. Record it once: '
        'press the button, then read this sentence as you would to a customer:</p>'
        f'<blockquote class="sentence">{esc(sentence)}</blockquote>'
        '<div class="row"><p><label for="bl-trainee">Your name</label><input id="bl-trainee" value="trainee" maxlength="60" '
        'autocomplete="name"></p></div>'
        '<p><button type="button" id="bl-start">Record my calm voice</button></p>'
        '<p role="status" id="bl-status"></p>'
    )
    return layout("Microphone check", body, active="/mic", scripts=["mic.js"])


def _drills_table(drills: list[dict]) -> str:
    if not drills:
        return ""
    from voicetrainer.calm.drill import LEVEL_NAMES  # drills exist only where the calm module does

    head = "".join(f'<th scope="col">{h}</th>' for h in ("Date", "Trainee", "Persona", "Answers", "Mean calm",
                                                          "Worst", "Hardest level"))
    trs = []
    for r in reversed(drills):
        lvl = LEVEL_NAMES[r["level"]] if isinstance(r["level"], int) and 0 <= r["level"] < len(LEVEL_NAMES) else "–"
        trs.append(f'<tr><td class="date">{esc(r["date"][:16].replace("T", " "))}</td><td>{esc(r["trainee"] or "–")}</td>'
                   f'<td>{esc(r["persona"] or "–")}</td><td>{esc(r["rounds"])}</td><td>{_score(r["mean"])}</td>'
                   f'<td>{_score(r["min"])}</td><td>{esc(lvl)}</td></tr>')
    return (f'<h2>Calm drills</h2><div class="scroll"><table id="drills"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(trs)}</tbody></table></div>')


def history_page(rows: list[dict], trainees: list[str], trainee: str | None, skills: list[str],
                 drills: list[dict] | None = None) -> str:
    opts = ['<option value="">everyone</option>'] + [
        f'<option value="{esc(t)}"{" selected" if t == trainee else ""}>{esc(t)}</option>' for t in trainees
    ]
    form = (f'<form method="get" action="/history" class="row"><p><label for="h-trainee">Trainee</label>'
            f'<select id="h-trainee" name="trainee">{"".join(opts)}</select></p>'
            '<p><button type="submit">Show</button></p></form>')
    drills_html = _drills_table(drills or [])
    if not rows:
        return layout("History", form + "<p>No calls recorded yet.</p>" + drills_html, active="/history")
    q = f"?trainee={esc(trainee)}" if trainee else ""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in ["Date (opens the report)", "Trainee", "Persona", "Outcome", "Overall",
                                                               *[k.title() for k in skills]])
    trs = []
    for r in reversed(rows):
        outcome = r.get("outcome")
        cells = [esc(r["trainee"] or "–"), esc(r["persona"] or "–"), esc(OUTCOME_LABELS.get(outcome, outcome or "–")),
                 _score(r["overall"])] + [_score(r["scores"].get(s)) for s in skills]
        when = esc(r["date"][:16].replace("T", " "))
        date = f'<a href="{esc(r["href"])}">{when}</a>' if r.get("href") else when
        trs.append(f'<tr><td class="date">{date}</td>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    body = (
        form
        + f'<figure><img src="/history/trend.png{q}" alt="Skill scores over time, one line per skill and a thick line for the overall score" '
        'class="trend"><figcaption>Scores over time (0–100).</figcaption></figure>'
        f'<h2>Calls</h2><div class="scroll"><table id="calls"><thead><tr>{head}</tr></thead><tbody>{"".join(trs)}</tbody></table></div>'
        + drills_html
    )
    return layout("History", body, active="/history")


def _score(v) -> str:
    if v is None:
        return "–"
    cls = "good" if v >= 70 else "mid" if v >= 50 else "low"
    return f'<span class="{cls}">{v:.0f}</span>'


def calm_page(patterns: list[dict], tools: list[tuple[str, str, str]]) -> str:
    """The breathing pacer (patterns from voicetrainer.calm.breathe) and the way to the calm drill."""
    import json

    radios = "".join(
        f'<label><input type="radio" name="pattern" value="{esc(p["name"])}"{" checked" if i == 0 else ""} '
        f'data-phases="{esc(json.dumps(p["phases"]))}"> {esc(p["description"])}</label>'
        for i, p in enumerate(patterns)
    )
    items = "".join(f"<li><b>{esc(name)}</b>: {esc(desc)}: <code>{esc(cmd)}</code></li>" for name, desc, cmd in tools)
    body = (
        "<p>Before a hard call, or after one, slow your breathing down. Follow the circle: it grows as you "
        "breathe in and shrinks as you breathe out.</p>"
        f'<fieldset class="patterns"><legend>Pattern</legend>{radios}</fieldset>'
        '<div class="pacer" id="pacer" aria-hidden="true"><div class="ball" id="pacer-ball"></div></div>'
        '<p role="status" id="pacer-text">Press Start to breathe along.</p>'
        '<p><button type="button" id="pacer-start" class="primary">Start</button> '
        '<button type="button" id="pacer-stop">Stop</button></p>'
        + (f"<h2>With your headset</h2><ul>{items}</ul>" if items else
           '<p class="hint">The calm drill is not installed in this copy of voicetrainer.</p>')
    )
    return layout("Calm tools", body, active="/calm", scripts=["pacer.js"])


# ----------------------------------------------------------------------------- trainer pages

def personas_page(rows: list[dict]) -> str:
    head = "".join(f'<th scope="col">{h}</th>' for h in ("Persona", "Difficulty", "Scenario", "Check", ""))
    trs = []
    for r in rows:
        ok = '<span class="good">valid</span>' if not r["issues"] else f'<span class="low">{len(r["issues"])} problem(s)</span>'
        trs.append(
            f'<tr><td><b>{esc(r["name"] or r["file"])}</b><br><span class="card-id">{esc(r["file"])}</span></td>'
            f'<td>{_difficulty(r["difficulty"]) if r["difficulty"] else "–"}</td><td>{esc(r["summary"])}</td>'
            f'<td>{ok}</td><td><a href="/personas/edit?file={esc(r["file"])}" '
            f'aria-label="Edit {esc(r["name"] or r["file"])}">Edit</a></td></tr>'
        )
    body = (
        '<form method="get" action="/personas/new" class="new-persona"><p><label for="new-id">New persona id</label>'
        '<input id="new-id" name="id" required pattern="[a-z0-9][a-z0-9\\-]{1,62}" placeholder="angry-landlord" '
        'aria-describedby="new-id-hint"> <button type="submit">New persona</button></p>'
        '<p class="hint" id="new-id-hint">lowercase letters, digits and dashes; it becomes the file name</p></form>'
        f'<div class="scroll"><table id="persona-table"><thead><tr>{head}</tr></thead><tbody>{"".join(trs)}</tbody></table></div>'
    )
    return layout("Persona library", body, active="/personas")


def editor_page(file: str, text: str, *, is_new: bool) -> str:
    lines = text.count("\n") + 1
    body = (
        f'<form id="editor" data-file="{esc(file)}" data-new="{"1" if is_new else "0"}">'
        + (f'<p><label for="file-name">File name</label><input id="file-name" value="{esc(file)}" size="40"> '
           '<span class="hint">must be the persona id followed by .yaml</span></p>' if is_new else
           f'<p class="hint">Editing <code>{esc(file)}</code> in the personas folder.</p>')
        + '<div class="editor"><div class="gutter" id="gutter" aria-hidden="true"></div>'
        f'<textarea id="yaml" name="yaml" spellcheck="false" rows="{min(max(lines, 20), 40)}" '
        f'aria-describedby="issues-summary" aria-label="Persona YAML">{esc(text)}</textarea>'
        '<div class="notes" id="notes" aria-hidden="true"></div></div>'
        '<p class="actions"><button type="button" id="validate">Validate</button> '
        '<button type="button" id="save" class="primary">Save</button> '
        '<button type="button" id="preview">Preview lines</button></p>'
        '<div id="issues-summary" role="status" aria-live="polite"></div>'
        '<ol id="issues" class="issues"></ol>'
        '<section id="preview-section" hidden aria-labelledby="h-preview"><h2 id="h-preview">Preview</h2>'
        '<p><button type="button" id="play-all">Play all</button> <button type="button" id="stop-all">Stop</button></p>'
        '<ol id="preview-lines" class="preview"></ol></section></form>'
    )
    return layout(("New persona" if is_new else f"Edit {file}"), body, active="/personas", scripts=["editor.js"])


def batch_page(job: dict | None, recordings: list[str], notice: str | None = None) -> str:
    shipped = "".join(
        f'<li><label><input type="checkbox" name="fixture" value="{esc(n)}"> {esc(n)}</label></li>' for n in recordings
    )
    form = (
        '<form method="post" action="/api/batch/start" id="batch-form" enctype="multipart/form-data">' + CSRF_INPUT +
        '<p><label for="recordings">Recordings to grade (WAV, FLAC or OGG; choose several at once)</label>'
        '<input type="file" id="recordings" name="recordings" multiple accept=".wav,.flac,.ogg,audio/*"></p>'
        + (f'<fieldset><legend>and/or recordings that ship with voicetrainer</legend><ul class="plain" id="shipped">'
           f'{shipped}</ul></fieldset>' if shipped else "")
        + '<p><label><input type="checkbox" name="history" value="1"> Record the graded calls in the history</label></p>'
        '<p><button type="submit" class="primary">Grade these recordings</button></p></form>'
    )
    status = ""
    if job is not None:
        status = (
            '<section id="batch" aria-labelledby="h-progress"><h2 id="h-progress">Progress</h2>'
            f'<p id="batch-folder">{esc(job["folder"])}</p>'
            f'<progress id="batch-progress" max="{max(job["total"], 1)}" value="{job["done"]}">{job["done"]} of {job["total"]}</progress> '
            f'<span id="batch-count" role="status">{job["done"]} of {job["total"]}</span>'
            '<ol id="batch-items" class="items"></ol><p id="batch-index"></p></section>'
        )
    return layout("Batch grading", form + status, active="/batch", scripts=["batch.js"] if job else (), notice=notice)


def message_page(title: str, message: str, *, status_link: tuple[str, str] | None = None) -> str:
    link = f'<p><a href="{esc(status_link[0])}">{esc(status_link[1])}</a></p>' if status_link else ""
    return layout(title, f"<p>{esc(message)}</p>{link}")


REPORT_NAV = (
    '<nav aria-label="voicetrainer" style="background:#0f172a;color:#fff;padding:.5rem 1rem;font:15px system-ui,sans-serif">'
    '<a href="/" style="color:#fff;margin-right:1.2rem">Practice</a>'
    '<a href="/history" style="color:#fff;margin-right:1.2rem">History</a>'
    '<a href="/batch" style="color:#fff">Batch grading</a></nav>'
)


def with_nav(report_html: str) -> str:
    """A report page written by voicetrainer.report.html, with the app's links on top."""
    return report_html.replace("<body>", "<body>" + REPORT_NAV, 1)
