// A form sent back with errors: the focus goes to the first field in error (or the form's
// own message), so keyboard and screen-reader users land where they must act.
"use strict";
(function () {
  const target = document.querySelector("[aria-invalid=true], .form-error[data-focus]");
  if (target) target.focus();
})();

// The portal's sentences with their values, as the server's catalogs write them:
// "%(name)s" and "%%". Shared by the pages' scripts, which load after this one.
window.portalSay = function (template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, name) => values[name]).replace(/%%/g, "%");
};
