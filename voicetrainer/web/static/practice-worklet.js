// The microphone in 20 ms frames of 16 kHz mono int16, each stamped with the AudioContext time
// of its first sample (the server's session clock). Runs on the audio rendering thread: it
// only filters, copies and posts. A context at another rate (browsers that cannot open a
// 16 kHz context on a microphone) is low-passed (a 2nd-order Butterworth at 7 kHz) and
// resampled by linear interpolation.
const OUT_RATE = 16000;
const FRAME = 320;

class MicFrames extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / OUT_RATE; // input samples per output sample
    this.frame = new Int16Array(FRAME);
    this.fill = 0;
    this.frameTime = 0;
    this.pos = 0; // position of the next output sample, in input samples since the stream began
    this.seen = 0; // input samples seen
    this.prev = 0; // the last filtered input sample (interpolation across blocks)
    if (this.step !== 1) {
      const w = Math.tan(Math.PI * Math.min(7000, 0.45 * sampleRate) / sampleRate);
      const q = Math.SQRT1_2, n = 1 / (1 + w / q + w * w);
      this.b0 = w * w * n; this.b1 = 2 * this.b0; this.b2 = this.b0;
      this.a1 = 2 * (w * w - 1) * n; this.a2 = (1 - w / q + w * w) * n;
      this.x1 = this.x2 = this.y1 = this.y2 = 0;
    }
  }

  push(value, time) {
    if (this.fill === 0) this.frameTime = time;
    const v = value > 1 ? 1 : value < -1 ? -1 : value;
    this.frame[this.fill++] = Math.round(v * 32767);
    if (this.fill === FRAME) {
      this.port.postMessage({time: this.frameTime, pcm: this.frame.buffer}, [this.frame.buffer]);
      this.frame = new Int16Array(FRAME);
      this.fill = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const x = input[0];
    const t = currentFrame / sampleRate; // AudioContext time of x[0]
    if (this.step === 1) {
      for (let i = 0; i < x.length; i++) this.push(x[i], t + i / sampleRate);
      return true;
    }
    for (let i = 0; i < x.length; i++) {
      const y = this.b0 * x[i] + this.b1 * this.x1 + this.b2 * this.x2 - this.a1 * this.y1 - this.a2 * this.y2;
      this.x2 = this.x1; this.x1 = x[i]; this.y2 = this.y1; this.y1 = y;
      const k = this.seen + i; // this input sample's index
      while (this.pos <= k) { // output samples between the previous input sample and this one
        const frac = this.pos - (k - 1);
        this.push(this.prev + (y - this.prev) * frac, t + (this.pos - this.seen) / sampleRate);
        this.pos += this.step;
      }
      this.prev = y;
    }
    this.seen += x.length;
    return true;
  }
}

registerProcessor("mic-frames", MicFrames);
