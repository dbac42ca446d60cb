/* Post the page's LTI forms (form[data-autosubmit]) as soon as it loads: the deep-linking
   response to the LMS, and the demo LMS's login and id_token forms. */
document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
  form.submit();
});
