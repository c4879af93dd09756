// Microphone check: level meter from /api/mic/events (server-sent events).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var btn = $("mic-start");
  if (!btn) return;
  function pct(v) { return Math.max(0, Math.min(100, (v + 70) / 70 * 100)); }
  btn.addEventListener("click", function () {
    btn.disabled = true;
    $("mic-status").textContent = "Listening… say a few words.";
    var es = new EventSource("/api/mic/events?seconds=6&device=" + encodeURIComponent($("mic-device").value) +
                             "&csrf=" + encodeURIComponent(document.querySelector('meta[name="csrf-token"]').content));
    es.onmessage = function (ev) {
      var d = JSON.parse(ev.data);
      $("mic-fill").style.width = pct(d.level_dbfs) + "%";
      $("mic-floor").style.left = pct(d.floor_dbfs) + "%";
      $("mic-status").textContent = "Level " + d.level_dbfs.toFixed(0) + " dBFS, room noise " + d.floor_dbfs.toFixed(0) + " dBFS";
    };
    es.addEventListener("done", function (ev) {
      var d = JSON.parse(ev.data);
      $("mic-status").textContent = d.verdict + " (loudest " + d.peak_dbfs.toFixed(0) + " dBFS, noise " + d.floor_dbfs.toFixed(0) + " dBFS)";
      es.close(); btn.disabled = false;
    });
    es.addEventListener("error", function (ev) {
      if (ev.data) $("mic-status").textContent = "Microphone problem: " + JSON.parse(ev.data).error;
      else if ($("mic-status").textContent.indexOf("Listening") === 0) $("mic-status").textContent = "The check stopped.";
      es.close(); btn.disabled = false;
    });
  });
})();
// Calm-voice baseline: /api/baseline/events records while the trainee reads the sentence.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var btn = $("bl-start");
  if (!btn) return;
  function pct(v) { return Math.max(0, Math.min(100, (v + 70) / 70 * 100)); }
  btn.addEventListener("click", function () {
    btn.disabled = true;
    $("bl-status").textContent = "Listening: read the sentence now.";
    var url = "/api/baseline/events?device=" + encodeURIComponent($("mic-device").value) +
              "&trainee=" + encodeURIComponent($("bl-trainee").value) + "&csrf=" + encodeURIComponent(document.querySelector('meta[name="csrf-token"]').content);
    var es = new EventSource(url);
    es.onmessage = function (ev) { $("mic-fill").style.width = pct(JSON.parse(ev.data).level_dbfs) + "%"; };
    es.addEventListener("done", function (ev) {
      var d = JSON.parse(ev.data);
      $("bl-status").textContent = "Saved for " + d.trainee + ": your calm voice is around " +
        d.pitch_median_hz.toFixed(0) + " Hz at " + d.loudness_dbfs.toFixed(0) + " dBFS.";
      es.close(); btn.disabled = false;
    });
    es.addEventListener("error", function (ev) {
      $("bl-status").textContent = ev.data ? "Not saved: " + JSON.parse(ev.data).error : "The recording stopped.";
      es.close(); btn.disabled = false;
    });
  });
})();
