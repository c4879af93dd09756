// A practice call with the browser as the headset (see voicetrainer/web/practice_ws.py for the
// protocol). The microphone goes to the server in 20 ms frames stamped with the AudioContext
// time; the caller's clips come back with the session second they must be heard at, and each
// clip's real start and end (AudioContext time) is reported so the server can check it.
(() => {
  const root = document.getElementById("practice-call");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const persona = root.dataset.persona;
  const assignment = root.dataset.assignment || "";
  const startBtn = $("start-call"), endBtn = $("end-call"), statusEl = $("status");
  let ws = null, ctx = null, stream = null, node = null, sink = null;
  let t0 = null, inLatency = 0, finished = false;
  const clips = new Map();
  const seen = new Set(); // captions on the page, by speaker@time

  const setStatus = (text, cls) => { statusEl.textContent = text; statusEl.className = "status" + (cls ? " " + cls : ""); };
  const delay = () => inLatency + (ctx && ctx.outputLatency ? ctx.outputLatency : 0);
  const fmt = (s) => { s = Math.max(0, Math.floor(s)); return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0"); };

  function send(obj) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj)); }

  async function openMic() {
    stream = await navigator.mediaDevices.getUserMedia({audio: {channelCount: 1, echoCancellation: true,
      noiseSuppression: false, autoGainControl: false}});
    let source;
    try { // a 16 kHz context: no resampling in the page
      ctx = new AudioContext({sampleRate: 16000, latencyHint: "interactive"});
      source = ctx.createMediaStreamSource(stream);
    } catch (e) { // browsers that cannot mix rates: the worklet resamples
      if (ctx) ctx.close();
      ctx = new AudioContext({latencyHint: "interactive"});
      source = ctx.createMediaStreamSource(stream);
    }
    await ctx.audioWorklet.addModule("/static/practice-worklet.js");
    if (ctx.state !== "running") await ctx.resume();
    node = new AudioWorkletNode(ctx, "mic-frames", {numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1,
      channelCountMode: "explicit"});
    sink = ctx.createGain();
    sink.gain.value = 0; // the worklet must be pulled by the graph; nothing of the mic is played
    const track = stream.getAudioTracks()[0];
    const settings = track && track.getSettings ? track.getSettings() : {};
    inLatency = typeof settings.latency === "number" ? settings.latency : 0;
    send({type: "start", sample_rate: ctx.sampleRate, input_latency: inLatency,
      output_latency: ctx.outputLatency || 0, base_latency: ctx.baseLatency || 0});
    node.port.onmessage = (e) => {
      if (finished || !ws || ws.readyState !== WebSocket.OPEN) return;
      const {time, pcm} = e.data;
      if (t0 === null) t0 = time;
      const buf = new ArrayBuffer(8 + pcm.byteLength);
      new DataView(buf).setFloat64(0, time, true);
      new Int16Array(buf, 8).set(new Int16Array(pcm));
      ws.send(buf);
    };
    source.connect(node);
    node.connect(sink).connect(ctx.destination);
    endBtn.disabled = false;
    setStatus("In the call: listen to the caller and answer.");
  }

  function playClip(data) {
    if (!ctx || t0 === null) return;
    const view = new DataView(data);
    const id = view.getUint32(0, true), at = view.getFloat64(4, true);
    const pcm = new Int16Array(data, 12);
    const buffer = ctx.createBuffer(1, Math.max(1, pcm.length), 16000);
    const ch = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
    const received = ctx.currentTime;
    const when = Math.max(t0 + at - delay(), received + 0.005); // heard at `at`, or as soon as it can be
    const src = ctx.createBufferSource();
    const gain = ctx.createGain();
    src.buffer = buffer;
    src.connect(gain).connect(ctx.destination);
    src.start(when);
    const clip = {id, src, gain, start: when, end: when + buffer.duration, received, cut: false};
    clips.set(id, clip);
    src.onended = () => {
      clips.delete(id);
      send({type: "played", id, start_ctx: clip.start, end_ctx: clip.end, received_ctx: clip.received,
        output_latency: ctx.outputLatency || 0, cut: clip.cut});
    };
  }

  function stopAt(at) {
    if (!ctx || t0 === null) return;
    const when = Math.max(t0 + at - delay(), ctx.currentTime + 0.005);
    for (const clip of clips.values()) {
      if (clip.end <= when) continue;
      clip.cut = true;
      if (clip.start >= when) { clip.end = clip.start; clip.src.stop(); continue; }
      clip.gain.gain.setValueAtTime(1, when);
      clip.gain.gain.linearRampToValueAtTime(0, when + 0.03); // the same 30 ms fade as the server's track
      clip.src.stop(when + 0.03);
      clip.end = when + 0.03;
    }
  }

  function showUpdate(u) {
    $("clock").textContent = fmt(u.t_s);
    if (typeof u.mood === "number") {
      $("mood-text").textContent = u.mood.toFixed(1) + " / 10";
      $("mood-fill").style.width = Math.min(100, u.mood * 10) + "%";
    }
    $("caller-speaking").hidden = !u.caller_speaking;
    $("trainee-speaking").hidden = !u.trainee_speaking;
    $("level-text").textContent = u.level_dbfs > -100 ? u.level_dbfs.toFixed(0) + " dBFS" : "–";
    $("wpm-text").textContent = u.wpm ? Math.round(u.wpm) + " words a minute" : "–";
    $("nudge").textContent = u.nudge || "";
    // each caption (speaker + time) is added once, in time order (a trainee's caption comes when
    // their turn has ended, so it may belong before captions already shown)
    const list = $("captions");
    for (const c of u.captions || []) {
      const key = c.speaker + "@" + c.t_s;
      if (seen.has(key)) continue;
      seen.add(key);
      const li = document.createElement("li");
      li.className = c.speaker;
      li.dataset.t = c.t_s;
      const t = document.createElement("span"); t.className = "t"; t.textContent = fmt(c.t_s);
      const who = document.createElement("span"); who.className = "who"; who.textContent = c.speaker === "caller" ? "Caller" : "You";
      const x = document.createElement("span"); x.className = "text"; x.textContent = c.text || "(no words recognised)";
      li.append(t, who, x);
      const after = [...list.children].find((el) => parseFloat(el.dataset.t) > c.t_s);
      list.insertBefore(li, after || null);
      list.scrollTop = list.scrollHeight;
    }
  }

  function stopMic() {
    if (node) node.port.onmessage = null;
    if (stream) stream.getTracks().forEach((t) => t.stop());
  }

  function onMessage(event) {
    if (event.data instanceof ArrayBuffer) { playClip(event.data); return; }
    const msg = JSON.parse(event.data);
    if (msg.type === "ready") {
      setStatus("Opening the microphone…");
      openMic().catch((e) => { setStatus("The microphone could not be opened: " + e.message, "refused"); send({type: "end"}); });
    } else if (msg.type === "stop") stopAt(msg.at_s);
    else if (msg.type === "update") showUpdate(msg);
    else if (msg.type === "ended") {
      finished = true;
      stopMic();
      endBtn.disabled = true;
      root.dataset.session = msg.session;
      root.dataset.outcome = msg.outcome || "";
      setStatus("The call is over.");
      $("result").hidden = false;
      $("result").textContent = "Outcome: " + (msg.outcome || "–").replace(/_/g, " ") + (msg.outcome_reason ? " (" + msg.outcome_reason + ")" : "");
      $("report-a").href = "/sessions/" + encodeURIComponent(msg.session) + "/report.html";
      $("report-link").hidden = false;
    } else if (msg.type === "refused" || msg.type === "error") {
      finished = true;
      stopMic();
      root.dataset.error = msg.message;
      setStatus(msg.message, "refused");
      startBtn.disabled = msg.type !== "refused";
      endBtn.disabled = true;
    }
  }

  startBtn.addEventListener("click", () => {
    startBtn.disabled = true;
    finished = false;
    setStatus("Connecting: the caller is getting ready…");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = assignment ? "?assignment=" + encodeURIComponent(assignment) : "";
    ws = new WebSocket(scheme + "//" + location.host + "/practice/" + encodeURIComponent(persona) + "/ws" + query);
    ws.binaryType = "arraybuffer";
    ws.onmessage = onMessage;
    ws.onclose = () => {
      stopMic();
      root.dataset.closed = "1";
      if (!finished) setStatus("The connection to the server was lost; what was recorded is kept.", "refused");
    };
  });
  endBtn.addEventListener("click", () => { endBtn.disabled = true; setStatus("Ending the call: grading…"); send({type: "end"}); });
})();
