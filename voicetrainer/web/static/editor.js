// Persona editor: validate with the server (the persona schema), show each problem beside its
// line and in a list; save; preview every line as audio.
(function () {
  "use strict";
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }
  var $ = function (id) { return document.getElementById(id); };
  var form = $("editor");
  if (!form) return;
  var ta = $("yaml"), gutter = $("gutter"), notes = $("notes");
  var LINE_PX = 21, PAD_PX = 6;
  var issues = [];

  function fileName() { return form.dataset.new === "1" ? $("file-name").value.trim() : form.dataset.file; }

  function drawGutter() {
    var n = ta.value.split("\n").length;
    var bad = {};
    issues.forEach(function (i) { if (i.line) bad[i.line] = true; });
    gutter.textContent = "";
    for (var k = 1; k <= n; k++) {
      var s = document.createElement("div");
      s.textContent = k;
      if (bad[k]) s.className = "bad";
      gutter.appendChild(s);
    }
    notes.textContent = "";
    if (!issues.length) {
      var hint = document.createElement("div");
      hint.className = "note-hint";
      hint.textContent = "Validate: any problem appears here, beside its line.";
      notes.appendChild(hint);
    }
    var taken = {};
    issues.forEach(function (i) {
      var line = i.line || 1;
      while (taken[line]) line++;          // two problems on one line: the second goes below
      taken[line] = true;
      var d = document.createElement("div");
      d.className = "note";
      d.style.top = (PAD_PX + (line - 1) * LINE_PX) + "px";
      // beside the line: the field's own name is enough; the full path is in the list below
      d.textContent = (i.field ? i.field.split(".").pop() + ": " : "") + i.message;
      d.title = (i.field ? i.field + ": " : "") + i.message;
      d.dataset.field = i.field || "";
      notes.appendChild(d);
    });
    sync();
  }
  function sync() {
    gutter.scrollTop = ta.scrollTop;
    notes.style.transform = "";
    [].forEach.call(notes.children, function (d) { d.style.marginTop = (-ta.scrollTop) + "px"; });
  }
  function goTo(line) {
    var lines = ta.value.split("\n");
    var pos = 0;
    for (var k = 0; k < line - 1 && k < lines.length; k++) pos += lines[k].length + 1;
    ta.focus();
    ta.setSelectionRange(pos, pos + (lines[line - 1] || "").length);
    ta.scrollTop = Math.max(0, (line - 4) * LINE_PX);
    sync();
  }
  function showIssues(list, okText) {
    issues = list || [];
    var ol = $("issues");
    ol.textContent = "";
    issues.forEach(function (i) {
      var li = document.createElement("li");
      var where = document.createElement("code");
      where.textContent = (i.line ? "line " + i.line + " · " : "") + (i.field || "file");
      li.appendChild(where);
      li.appendChild(document.createTextNode(" " + i.message + " "));
      if (i.line) {
        var b = document.createElement("button");
        b.type = "button"; b.textContent = "Go to line " + i.line;
        b.addEventListener("click", function () { goTo(i.line); });
        li.appendChild(b);
      }
      ol.appendChild(li);
    });
    var sum = $("issues-summary");
    sum.className = issues.length ? "low" : "ok-msg";
    sum.textContent = issues.length ? issues.length + " problem(s) found:" : okText;
    ta.setAttribute("aria-invalid", issues.length ? "true" : "false");
    drawGutter();
  }
  function post(url) {
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
                        body: JSON.stringify({ file: fileName(), text: ta.value }) })
      .then(function (r) { return r.json(); });
  }
  function failed(e) { $("issues-summary").className = "low"; $("issues-summary").textContent = "Request failed: " + e; }

  $("validate").addEventListener("click", function () {
    post("/api/personas/validate").then(function (d) { showIssues(d.issues, "Valid: no problems found."); }).catch(failed);
  });
  $("save").addEventListener("click", function () {
    post("/api/personas/save").then(function (d) {
      if (d.error) { showIssues([{ field: "", line: null, message: d.error }], ""); return; }
      showIssues(d.issues, d.ok ? "Saved " + d.saved + "." : "");
      if (!d.ok) $("issues-summary").textContent = "Not saved: fix these " + d.issues.length + " problem(s) first.";
      if (d.ok && form.dataset.new === "1") { form.dataset.new = "0"; form.dataset.file = d.saved; }
    }).catch(failed);
  });

  var audio = new Audio();
  var queue = [];
  function playNext() {
    var li = queue.shift();
    [].forEach.call(document.querySelectorAll("#preview-lines li"), function (x) { x.classList.remove("playing"); });
    if (!li) return;
    li.classList.add("playing");
    audio.src = li.dataset.url;
    audio.play().catch(function () {});
  }
  audio.addEventListener("ended", playNext);
  $("preview").addEventListener("click", function () {
    $("preview").disabled = true;
    $("issues-summary").className = ""; $("issues-summary").textContent = "Rendering every line…";
    post("/api/personas/preview").then(function (d) {
      $("preview").disabled = false;
      showIssues(d.issues, "Valid: every line is rendered below.");
      if (!d.ok) return;
      var ol = $("preview-lines");
      ol.textContent = "";
      d.lines.forEach(function (l) {
        var li = document.createElement("li");
        var sit = document.createElement("span"); sit.className = "sit"; sit.textContent = l.situation + "[" + l.index + "] ";
        li.appendChild(sit);
        if (l.url) {
          li.dataset.url = l.url;
          var b = document.createElement("button");
          b.type = "button"; b.textContent = "▶ Play"; b.setAttribute("aria-label", "Play: " + l.text);
          b.addEventListener("click", function () { queue = [li]; playNext(); });
          li.appendChild(b);
          li.appendChild(document.createTextNode(" "));
        }
        li.appendChild(document.createTextNode(l.text + (l.error ? " — could not be synthesised: " + l.error : "")));
        ol.appendChild(li);
      });
      $("preview-section").hidden = false;
    }).catch(function (e) { $("preview").disabled = false; failed(e); });
  });
  $("play-all").addEventListener("click", function () {
    queue = [].slice.call(document.querySelectorAll("#preview-lines li[data-url]"));
    playNext();
  });
  $("stop-all").addEventListener("click", function () { queue = []; audio.pause(); playNext(); });

  ta.addEventListener("scroll", sync);
  ta.addEventListener("input", function () { if (ta.value.split("\n").length !== gutter.children.length) drawGutter(); });
  window.addEventListener("resize", sync);
  if (window.ResizeObserver) new ResizeObserver(sync).observe(ta);
  drawGutter();
})();
