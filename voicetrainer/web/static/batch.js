// Batch grading progress: polls /api/batch/status until the batch is done.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  if (!$("batch")) return;
  function render(s) {
    $("batch-progress").max = Math.max(1, s.total);
    $("batch-progress").value = s.done;
    $("batch-progress").textContent = s.done + " of " + s.total;
    $("batch-count").textContent = s.done + " of " + s.total + " graded" + (s.state === "running" ? "…" : s.state === "failed" ? " — stopped: " + s.error : " — finished");
    var ol = $("batch-items");
    ol.textContent = "";
    s.items.forEach(function (it) {
      var li = document.createElement("li");
      li.className = it.status;
      if (it.href && s.index_url) {
        var a = document.createElement("a");
        a.href = s.index_url.replace(/index\.html$/, "") + it.href;
        a.textContent = it.name;
        li.appendChild(a);
      } else { li.appendChild(document.createTextNode(it.name)); }
      var tail = it.status === "done" ? " — overall " + (it.overall == null ? "–" : Math.round(it.overall))
        : it.status === "failed" ? " — failed: " + it.error : " — waiting";
      li.appendChild(document.createTextNode(tail));
      ol.appendChild(li);
    });
    if (s.index_url) {
      $("batch-index").innerHTML = "";
      var a = document.createElement("a");
      a.href = s.index_url; a.textContent = "Open the index of reports"; a.id = "index-link";
      $("batch-index").appendChild(a);
    }
  }
  function poll() {
    fetch("/api/batch/status").then(function (r) { return r.json(); }).then(function (s) {
      if (s.state === "none") return;
      render(s);
      if (s.state === "running") setTimeout(poll, 500);
    }).catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
