// A form sent back with errors: the focus goes to the first field in error (or the form's
// own message), so keyboard and screen-reader users land where they must act.
"use strict";
(function () {
  const target = document.querySelector("[aria-invalid=true], .form-error[data-focus]");
  if (target) target.focus();
})();
