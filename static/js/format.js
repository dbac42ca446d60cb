/* How sizes, durations and moments are written for people, the same on every page.

   The rules are lti_tool/web/formatting.py's, which writes what the server renders;
   tests/test_formatting.py runs both on one table of values and expects the same strings.
   - Sizes: binary units with the familiar names, as the site's limits are set (1 KB = 1024
     bytes); below 10 of a unit one decimal ("4.7 GB"), else whole ("740 MB"); halves round
     up; "1 byte", "1023 bytes".
   - Durations: whole seconds, rounded down (a comment at 12.9 s is at 0:12): m:ss, h:mm:ss.
   - Moments: the server writes UTC inside <time datetime="ISO">; localizeMoments() rewrites
     each one in the viewer's locale and time zone with one Intl.DateTimeFormat. */

export const SIZE_UNITS = ["KB", "MB", "GB", "TB"];
export const SIZE_BASE = 1024;
export const MOMENT_STYLE = Object.freeze({ dateStyle: "medium", timeStyle: "short" });

const DECIMAL_BELOW_TENTHS = 100;  // below 10 units (100 tenths) a size keeps one decimal
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;
// An ISO moment without an offset ("2026-03-01T09:05:00", as SQLite gives it back) is UTC.
const HAS_ZONE = /(Z|[+-]\d\d:?\d\d)$/i;
const UTC_SUFFIX = "Z";

function halfUp(value) {
  return Math.floor(value + 0.5);
}

function twoDigits(n) {
  return String(n).padStart(2, "0");
}

/** Write a byte count the way file browsers do: "5.4 GB", "740 MB", "12 KB", "1 byte". */
export function formatSize(sizeBytes) {
  const n = Math.max(0, Math.trunc(Number(sizeBytes) || 0));
  if (n < SIZE_BASE) return n === 1 ? "1 byte" : `${n} bytes`;
  let factor = 1;
  for (let index = 0; index < SIZE_UNITS.length; index++) {
    const unit = SIZE_UNITS[index];
    factor *= SIZE_BASE;
    const tenths = halfUp((n * 10) / factor);
    if (tenths < DECIMAL_BELOW_TENTHS) {
      const whole = Math.floor(tenths / 10), tenth = tenths % 10;
      return tenth === 0 ? `${whole} ${unit}` : `${whole}.${tenth} ${unit}`;
    }
    const units = halfUp(n / factor);
    if (units < SIZE_BASE || index === SIZE_UNITS.length - 1) return `${units} ${unit}`;
  }
  throw new Error("unreachable");
}

/** Write seconds as m:ss or h:mm:ss, rounded down to the whole second. */
export function formatDuration(seconds) {
  const value = Number(seconds) || 0;
  const total = Number.isFinite(value) ? Math.max(0, Math.floor(value)) : 0;
  const hours = Math.floor(total / SECONDS_PER_HOUR);
  const minutes = Math.floor((total % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE);
  const secs = total % SECONDS_PER_MINUTE;
  return hours ? `${hours}:${twoDigits(minutes)}:${twoDigits(secs)}`
    : `${minutes}:${twoDigits(secs)}`;
}

/** Read an ISO moment from the server (UTC when it names no zone); null when unreadable. */
export function parseMoment(iso) {
  if (!iso) return null;
  const text = String(iso).trim();
  const moment = new Date(HAS_ZONE.test(text) ? text : text + UTC_SUFFIX);
  return Number.isNaN(moment.getTime()) ? null : moment;
}

let viewerFormat = null;

/** Return the one formatter of moments: the viewer's locale and time zone. */
export function momentFormat() {
  if (!viewerFormat) viewerFormat = new Intl.DateTimeFormat(undefined, MOMENT_STYLE);
  return viewerFormat;
}

/** Write an ISO moment for the viewer ("Mar 1, 2026, 10:05 AM" in en-US); "" if unreadable. */
export function formatMoment(iso, format = momentFormat()) {
  const moment = parseMoment(iso);
  return moment ? format.format(moment) : "";
}

/** Rewrite every <time datetime> under `root` for the viewer; the UTC text becomes its title. */
export function localizeMoments(root) {
  root.querySelectorAll("time[datetime]").forEach((el) => {
    const text = formatMoment(el.getAttribute("datetime"));
    if (!text || el.textContent === text) return;
    if (!el.title) el.title = el.textContent.trim();
    el.textContent = text;
  });
}

/** Make a <time> element for an ISO moment, written for the viewer. */
export function momentElement(iso) {
  const el = document.createElement("time");
  el.dateTime = iso || "";
  el.textContent = formatMoment(iso);
  return el;
}
