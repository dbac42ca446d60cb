/* Post the page's LTI forms (form[data-autosubmit]) as soon as it loads: the deep-linking
   response to the LMS, and the demo LMS's login and id_token forms. */
const AUTOSUBMIT = "form[data-autosubmit]";

document.querySelectorAll(AUTOSUBMIT).forEach((form) => form.submit());
