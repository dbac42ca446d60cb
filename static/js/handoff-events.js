/* The events the phone hand-off (handoff.js) tells the student page (uploader.js) about. */

/** An attempt uploaded from the phone has all its bytes: show it as if uploaded here. */
export const HANDOFF_DELIVERED = "handoff:delivered";
