// Breathing pacer: the chosen pattern's phases (from voicetrainer.calm.breathe), until Stop.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var ball = $("pacer-ball");
  if (!ball) return;
  var timer = null;
  function phases() {
    var r = document.querySelector("input[name=pattern]:checked");
    return r ? JSON.parse(r.dataset.phases) : [{ name: "inhale", label: "Breathe in", duration_s: 4 },
                                                 { name: "exhale", label: "Breathe out", duration_s: 6 }];
  }
  function run(list, i) {
    var p = list[i % list.length];
    ball.style.transitionDuration = p.duration_s + "s";
    if (p.name === "inhale") ball.classList.add("full");
    if (p.name === "exhale") ball.classList.remove("full");
    $("pacer-text").textContent = p.label + "… (" + Math.round(p.duration_s * 10) / 10 + " s)";
    timer = setTimeout(function () { run(list, i + 1); }, p.duration_s * 1000);
  }
  function stop() {
    clearTimeout(timer); timer = null;
    ball.style.transitionDuration = "1s";
    ball.classList.remove("full");
  }
  $("pacer-start").addEventListener("click", function () { stop(); run(phases(), 0); });
  $("pacer-stop").addEventListener("click", function () { stop(); $("pacer-text").textContent = "Stopped."; });
  [].forEach.call(document.querySelectorAll("input[name=pattern]"), function (r) {
    r.addEventListener("change", function () { if (timer) { stop(); run(phases(), 0); } });
  });
})();
