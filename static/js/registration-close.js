/* After dynamic registration: tell the LMS to close its registration frame
   (org.imsglobal.lti.close, LTI Dynamic Registration 3.7), now and on the button. The
   button carries the message subject in data-close-subject. */
const button = document.getElementById("close-registration");
const subject = button.dataset.closeSubject;

function close() {
  const target = window.opener || window.parent;
  if (target && target !== window) target.postMessage({ subject }, "*");
}

button.addEventListener("click", close);
close();
