// Live call view: server-sent events from /api/call/events, a few snapshots a second.
(function () {
  "use strict";
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }
  var root = document.getElementById("call");
  if (!root) return;
  var $ = function (id) { return document.getElementById(id); };
  var seen = {};          // captions already on the page, by speaker@time
  var redirected = false;
  var sawLive = false;    // open the report by itself only if this page watched the call
  var MOODS = ["calm", "calm", "calm", "irritated", "irritated", "annoyed", "angry", "angry", "furious", "furious", "furious"];

  function mmss(t) {
    t = Math.max(0, Math.floor(t || 0));
    return String(Math.floor(t / 60)).padStart(2, "0") + ":" + String(t % 60).padStart(2, "0");
  }
  // only touch text that changed: screen readers re-announce live regions on every write
  function setText(el, text) { if (el.textContent !== text) el.textContent = text; }
  function pct(v, lo, hi) { return Math.max(0, Math.min(100, (v - lo) / (hi - lo) * 100)); }
  function setBand(el, lo, hi, min, max) {
    if (lo == null || hi == null) { el.hidden = true; return; }
    el.hidden = false;
    el.style.left = pct(lo, min, max) + "%";
    el.style.width = (pct(hi, min, max) - pct(lo, min, max)) + "%";
  }

  function render(s) {
    setText($("status"), s.error ? "Problem: " + s.error : s.status);
    if (s.state !== "done" && s.state !== "failed") sawLive = true;
    var u = s.update;
    if (u) {
      $("clock").textContent = mmss(u.t_s);
      var mood = u.mood == null ? null : u.mood;
      $("mood-fill").style.width = mood == null ? "0" : (mood * 10) + "%";
      $("mood-word").textContent = mood == null ? "–" : MOODS[Math.round(mood)] + " (" + mood.toFixed(1) + " / 10)";
      $("caller-speaking").hidden = !u.caller_speaking;
      $("trainee-speaking").hidden = !u.trainee_speaking;
      var base = u.baseline;
      // loudness: meter from -70 to 0 dBFS; calm band = baseline +-6 dB (the "softer" nudge fires above it)
      var lvl = u.trainee_level_dbfs;
      $("level-mark").style.left = pct(lvl == null ? -120 : lvl, -70, 0) + "%";
      $("level-text").textContent = lvl == null || lvl < -100 ? "silent" : lvl.toFixed(0) + " dBFS";
      // pitch: 60-400 Hz; calm band = baseline median -+3 semitones (the "lower your voice" nudge fires above)
      var p = u.trainee_pitch_hz;
      $("pitch-mark").style.left = p ? pct(p, 60, 400) + "%" : "0";
      $("pitch-text").textContent = p ? p.toFixed(0) + " Hz" : "–";
      if (base && base.loudness_dbfs != null) {
        setBand($("level-band"), base.loudness_dbfs - 6, base.loudness_dbfs + 6, -70, 0);
        $("level-text").textContent += " (your calm: " + base.loudness_dbfs.toFixed(0) + " ± 6)";
      } else { setBand($("level-band"), null, null); }
      if (base && base.pitch_median_hz) {
        var f = Math.pow(2, 3 / 12);
        setBand($("pitch-band"), base.pitch_median_hz / f, base.pitch_median_hz * f, 60, 400);
        if (p) $("pitch-text").textContent += " (your calm: " + base.pitch_median_hz.toFixed(0) + " Hz)";
        $("baseline-note").textContent = "The shaded band is your own calm voice.";
      } else {
        $("baseline-note").textContent = "No calm-voice baseline recorded for you yet: no band to compare with.";
      }
      $("wpm-text").textContent = u.wpm ? u.wpm.toFixed(0) + " words/min" : "–";
      setText($("nudge"), u.nudge || "");
    }
    // captions arrive sorted by time, but a trainee's caption only when their turn has ended:
    // it may belong before captions already shown. Each caption (speaker + time) is added once,
    // in its place.
    var list = $("captions");
    var added = false;
    (s.captions || []).forEach(function (c) {
      var key = c.speaker + "@" + c.t_s;
      if (seen[key]) return;
      seen[key] = true;
      added = true;
      var li = document.createElement("li");
      li.className = c.speaker;
      li.setAttribute("data-t", c.t_s);
      var t = document.createElement("span"); t.className = "t"; t.textContent = mmss(c.t_s);
      var w = document.createElement("span"); w.className = "who"; w.textContent = c.speaker === "caller" ? "Caller" : "You";
      var x = document.createElement("span"); x.className = "text"; x.textContent = c.text || "(no words recognised)";
      li.appendChild(t); li.appendChild(w); li.appendChild(x);
      var after = [].filter.call(list.children, function (o) { return +o.getAttribute("data-t") > c.t_s; })[0];
      list.insertBefore(li, after || null);
    });
    if (added) list.scrollTop = list.scrollHeight;
    if (s.state !== "running") {  // nobody is speaking once the call is over (or before it starts)
      $("caller-speaking").hidden = true;
      $("trainee-speaking").hidden = true;
    }
    var ended = s.state === "done" || s.state === "failed" || s.state === "finishing";
    $("end-call").disabled = ended;
    if (s.state === "finishing") $("end-call").textContent = "Call ended";
    if (s.state === "done" || s.state === "failed") $("end-call").hidden = true;
    if (s.report_url) {
      $("report-a").href = s.report_url;
      $("report-link").hidden = false;
      if (!redirected && sawLive && s.state === "done") {
        redirected = true;
        $("status").textContent = "Report ready: opening it…";
        setTimeout(function () { window.location.assign(s.report_url); }, 1500);
      }
    }
  }

  var es = new EventSource("/api/call/events");
  es.onmessage = function (ev) {
    var s = JSON.parse(ev.data);
    if (s.state === "none") { $("status").textContent = "No call is running."; es.close(); return; }
    render(s);
    if (s.state === "done" || s.state === "failed") es.close();
  };
  es.onerror = function () {
    if (es.readyState === EventSource.CLOSED) return;
    $("status").textContent = "Connection to the app lost; retrying…";
  };

  $("end-call").addEventListener("click", function () {
    var b = $("end-call");
    b.disabled = true;
    b.textContent = "Ending…";
    fetch("/api/call/stop", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() }, body: "{}" })
      .then(function (r) { return r.json(); })
      .then(function (d) { if (!d.ok && d.error) $("status").textContent = d.error; })
      .catch(function (e) { $("status").textContent = "Could not end the call: " + e; b.disabled = false; });
  });
})();
