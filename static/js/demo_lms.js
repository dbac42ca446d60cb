/* Demo LMS: post the LTI forms (login initiation, id_token) as soon as the page loads. */
document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
  form.submit();
});
