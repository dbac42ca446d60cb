/* The student's attempts as the student page shows them: the status words, the history
   table, and the note about an upload that stopped part-way. */
import { formatSize, momentElement } from "./format.js";

export const Status = Object.freeze({
  PENDING: "pending", UPLOADING: "uploading", PROCESSING: "processing", READY: "ready",
  ERROR: "error", DELETED: "deleted"
});

export const STATUS_TEXT = Object.freeze({
  [Status.PENDING]: "Waiting for the upload to start", [Status.UPLOADING]: "Upload not finished",
  [Status.PROCESSING]: "Preparing for playback…", [Status.READY]: "Ready",
  [Status.ERROR]: "Not accepted", [Status.DELETED]: "Cancelled"
});

/** Tell whether an attempt's upload has not finished (it can still be resumed). */
export function isOpen(attempt) {
  return !!attempt && (attempt.status === Status.PENDING || attempt.status === Status.UPLOADING);
}

/** Return the share of an attempt's bytes that arrived, in whole percent. */
export function percentArrived(attempt) {
  return attempt && attempt.size_bytes
    ? Math.floor((100 * (attempt.received_bytes || 0)) / attempt.size_bytes) : 0;
}

/** Offer to continue an upload that stopped, unless one is running (`busy`). */
export function renderUnfinished(el, attempts, busy) {
  // A recording of still unknown size (no size_bytes) is offered by the recorder instead.
  const open = attempts.filter((a) => isOpen(a) && a.received_bytes > 0 && a.size_bytes)[0];
  if (open && !busy) {
    el.textContent = `Your upload of “${open.filename}” stopped at ${percentArrived(open)} %. ` +
      "Choose the same file again to continue where it stopped.";
    el.hidden = false;
  } else {
    el.hidden = true;
  }
}

function statusCell(a) {
  const td = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = "badge badge-" + a.status;
  badge.textContent = (STATUS_TEXT[a.status] || a.status) + (a.is_current ? " (submitted)" : "");
  td.appendChild(badge);
  if (a.status === Status.ERROR && a.error_message) {
    const why = document.createElement("div");
    why.className = "small muted";
    why.textContent = a.error_message;
    td.appendChild(why);
  }
  return td;
}

function textCell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

/** Return the attempts that were handed in (not refused, cancelled or unfinished), newest
    first, each with `number`: its place among them (a refused file is no attempt). */
export function handedIn(attempts) {
  const kept = attempts.filter((a) => a.is_current || a.status === Status.READY ||
    a.status === Status.PROCESSING);
  return kept.map((a, i) => ({ ...a, number: kept.length - i }));
}

/** Fill the history table (and show its heading) with the handed-in attempts, newest first. */
export function renderHistory(table, heading, all) {
  const attempts = handedIn(all);
  const body = table.querySelector("tbody");
  body.textContent = "";
  attempts.forEach((a) => {
    const tr = document.createElement("tr");
    const uploaded = document.createElement("td");
    const at = a.uploaded_at || a.created_at;
    if (at) uploaded.appendChild(momentElement(at));
    tr.append(textCell("#" + a.number), textCell(a.filename || ""),
      textCell(a.size_bytes ? formatSize(a.size_bytes) : ""), statusCell(a), uploaded);
    body.appendChild(tr);
  });
  table.hidden = heading.hidden = attempts.length === 0;
}
