/* The login's cookie check inside an LMS iframe (pylti1p3's check, without inline script):
   set a test cookie with the attributes of the tool's own cookies (Partitioned over https);
   when the browser keeps it, continue the login here, else offer a new window.
   Reads #cookie-check: data-continue-url, data-cookie-name, data-cookie-attributes. */
(function () {
  "use strict";
  var root = document.getElementById("cookie-check");
  if (!root) { return; }
  var d = root.dataset;
  document.cookie = d.cookieName + "=1; " + d.cookieAttributes;
  if (document.cookie.indexOf(d.cookieName + "=") !== -1) {
    document.cookie = d.cookieName + "=; max-age=0; " + d.cookieAttributes;
    window.location.replace(d.continueUrl);
  } else {
    document.getElementById("cookie-check-loading").hidden = true;
    document.getElementById("cookie-check-blocked").hidden = false;
  }
})();
