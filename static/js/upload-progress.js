/* The upload's progress on the student page: the bar (role=progressbar, whose value and
   aria-valuetext are read on demand), the percent, the speed and the time left. Nothing
   here is a live region: progress ticks are shown, never announced. */
import { formatDuration, formatSize } from "./format.js";

const RATE_WINDOW_MS = 5000;   // the speed is measured over about the last five seconds
// No speed is shown before this much was measured: right after a start or a resume the
// browser's first buffered chunk reads as hundreds of MB/s.
const MIN_MEASURE_MS = 2000;
const SMOOTHING = 0.3;         // weight of the newest measure in the shown speed
const MS_PER_SECOND = 1000;
const PAUSED = "Paused";

export class UploadProgress {
  /* `els`: {area, file, size, bar, fill, percent, speed, eta} elements of the page. */
  constructor(els) {
    this.els = els;
    this.samples = [];  // [time ms, bytes sent]
    this.smoothed = 0;  // the shown speed, bytes per second
    this.paused = false;
  }

  /** Show the progress area for `file`, at nothing sent yet. */
  start(file) {
    this.samples = [];
    this.smoothed = 0;
    this.paused = false;
    this.els.file.textContent = file.name;
    this.els.size.textContent = formatSize(file.size);
    this.set(0, file.size);
    this.els.area.hidden = false;
  }

  /** Measure the speed afresh (after a pause, the old samples would lie). */
  restartRate() {
    this.samples = [];
    this.smoothed = 0;
    this.paused = false;
  }

  /** Show "Paused" instead of a speed and a time left that no longer hold. */
  pause() {
    this.paused = true;
    this.els.speed.textContent = PAUSED;
    this.els.eta.textContent = "";
  }

  hide() {
    this.els.area.hidden = true;
  }

  /** Show `sent` of `total` bytes, the speed and the time left. */
  set(sent, total) {
    const pct = total ? Math.floor((100 * sent) / total) : 0;
    const { bar, fill, percent, speed, eta } = this.els;
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", `${pct} percent, ${formatSize(sent)} of ${formatSize(total)}`);
    fill.style.width = pct + "%";
    percent.textContent = pct + " %";
    if (this.paused) return;
    const rate = this._rate(sent);
    speed.textContent = rate > 0 ? formatSize(rate) + "/s" : "";
    eta.textContent = rate > 0 && sent < total
      ? `about ${formatDuration((total - sent) / rate)} left` : "";
  }

  _rate(sent) {
    const now = Date.now();
    this.samples.push([now, sent]);
    while (this.samples.length > 2 && now - this.samples[0][0] > RATE_WINDOW_MS) this.samples.shift();
    const [firstAt, firstSent] = this.samples[0];
    if (now - firstAt < MIN_MEASURE_MS) return this.smoothed;
    const rate = ((sent - firstSent) * MS_PER_SECOND) / (now - firstAt);
    this.smoothed = this.smoothed ? this.smoothed + SMOOTHING * (rate - this.smoothed) : rate;
    return this.smoothed;
  }
}
