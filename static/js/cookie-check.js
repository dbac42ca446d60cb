/* The login's cookie check inside an LMS iframe (pylti1p3's check, without inline script):
   set a test cookie with the attributes of the tool's own cookies (Partitioned over https);
   when the browser keeps it, continue the login here, else offer a new window.
   Reads #cookie-check: data-continue-url, data-cookie-name, data-cookie-attributes. */
const root = document.getElementById("cookie-check");

if (root) {
  const { cookieName, cookieAttributes, continueUrl } = root.dataset;
  document.cookie = `${cookieName}=1; ${cookieAttributes}`;
  if (document.cookie.indexOf(`${cookieName}=`) !== -1) {
    document.cookie = `${cookieName}=; max-age=0; ${cookieAttributes}`;
    window.location.replace(continueUrl);
  } else {
    document.getElementById("cookie-check-loading").hidden = true;
    document.getElementById("cookie-check-blocked").hidden = false;
  }
}
