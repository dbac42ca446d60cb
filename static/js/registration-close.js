/* After dynamic registration: tell the LMS to close its registration frame
   (org.imsglobal.lti.close, LTI Dynamic Registration 3.7) when the administrator clicks
   the button, never on load: Moodle closes at once, and the page's next steps ("the tool
   starts as Pending: click Activate", the HTTP security hint) would go unread. The button
   carries the message subject in data-close-subject. */
const button = document.getElementById("close-registration");
const subject = button.dataset.closeSubject;

button.addEventListener("click", () => {
  const target = window.opener || window.parent;
  if (target && target !== window) target.postMessage({ subject }, "*");
});
