/* The upload's progress on the student page: the bar (role=progressbar, whose value and
   aria-valuetext are read on demand), the percent, the speed and the time left. Nothing
   here is a live region: progress ticks are shown, never announced. */
import { formatDuration, formatSize } from "./format.js";

const RATE_WINDOW_MS = 5000;   // the speed is measured over about the last five seconds
const MS_PER_SECOND = 1000;

export class UploadProgress {
  /* `els`: {area, file, size, bar, fill, percent, speed, eta} elements of the page. */
  constructor(els) {
    this.els = els;
    this.samples = [];  // [time ms, bytes sent]
  }

  /** Show the progress area for `file`, at nothing sent yet. */
  start(file) {
    this.samples = [];
    this.els.file.textContent = file.name;
    this.els.size.textContent = formatSize(file.size);
    this.set(0, file.size);
    this.els.area.hidden = false;
  }

  /** Measure the speed afresh (after a pause, the old samples would lie). */
  restartRate() {
    this.samples = [];
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
    return now > firstAt ? ((sent - firstSent) * MS_PER_SECOND) / (now - firstAt) : 0;
  }
}
