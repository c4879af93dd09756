// Typed chat with a caller (practice page): POST /api/chat, see voicetrainer/web/chat.py.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var start = $("chat-start");
  if (!start) return;
  var chatId = null;
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }
  function post(body) {
    return fetch("/api/chat", {method: "POST", headers: {"Content-Type": "application/json", "Accept": "application/json",
                                                       "X-CSRF-Token": csrf()},
                               body: JSON.stringify(body), credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (d) { if (!r.ok) throw new Error(d.error || r.statusText); return d; }); });
  }
  function line(who, text, meta, why) {
    var li = document.createElement("li");
    li.className = "chat-" + who;
    var b = document.createElement("b"); b.textContent = who === "agent" ? "You" : "Caller"; li.appendChild(b);
    if (meta) { var m = document.createElement("span"); m.className = "hint"; m.textContent = " (" + meta + ")"; li.appendChild(m); }
    li.appendChild(document.createTextNode(": " + (text || "(silence)")));
    if (why) { var w = document.createElement("div"); w.className = "hint chat-why"; w.textContent = "why: " + why; li.appendChild(w); }
    $("chat-log").appendChild(li);
  }
  function outcome(text) { var o = $("chat-outcome"); o.textContent = text; o.hidden = false; }
  start.addEventListener("click", function () {
    $("chat-log").textContent = ""; $("chat-outcome").hidden = true;
    post({action: "start", persona: $("chat-persona").value}).then(function (d) {
      chatId = d.id;
      line("caller", d.opening, "mood " + d.mood.toFixed(1) + ", opening");
      $("chat-form").hidden = false; $("chat-text").focus();
    }).catch(function (e) { outcome("Could not start the chat: " + e.message); });
  });
  $("chat-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = $("chat-text").value; $("chat-text").value = "";
    line("agent", text);
    post({action: "say", id: chatId, text: text}).then(function (d) {
      if (d.caller) line("caller", d.caller, "mood " + d.mood.toFixed(1) + ", " + d.situation, d.reason);
      if (d.ends_call) { $("chat-form").hidden = true; outcome("Call ended: " + (d.outcome || "")); }
    }).catch(function (e) { outcome("Chat problem: " + e.message); });
  });
})();
