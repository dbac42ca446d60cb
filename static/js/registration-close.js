/* After dynamic registration: tell the LMS to close its registration frame
   (org.imsglobal.lti.close, LTI Dynamic Registration 3.7), now and on the button. The
   script element carries the message subject in data-close-subject. */
(function () {
  "use strict";
  var subject = document.currentScript.dataset.closeSubject;
  function close() {
    var target = window.opener || window.parent;
    if (target && target !== window) { target.postMessage({subject: subject}, "*"); }
  }
  document.getElementById("close-registration").addEventListener("click", close);
  close();
})();
