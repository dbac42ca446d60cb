/* The settings page (templates/admin/settings.html): of the storage backends' fieldsets
   (fieldset[data-backend]) only the one chosen in select[data-backend-choice] is shown, and
   it follows the choice. Without this script every backend's fieldset shows; a hidden one's
   fields are still sent, unchanged, with the form. */
const CHOICE = "select[data-backend-choice]";
const GROUP = "fieldset[data-backend]";

const choice = document.querySelector(CHOICE);
if (choice) {
  const showChosen = () => {
    document.querySelectorAll(GROUP).forEach((fieldset) => {
      fieldset.hidden = fieldset.dataset.backend !== choice.value;
    });
  };
  choice.addEventListener("change", showChosen);
  showChosen();
}
