// Small behaviours shared by every page, kept out of the HTML so that a strict
// Content-Security-Policy (no inline script, no on* attributes) holds.
(function () {
  "use strict";
  // Selects that apply at once (language, gallery filters): the fallback
  // submit button is only needed without JavaScript.
  document.querySelectorAll("[data-js-hide]").forEach(function (el) { el.hidden = true; });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });

  // Native <dialog>: modal, focus-trapped, closed by Escape.
  document.querySelectorAll("[data-open-dialog]").forEach(function (button) {
    var dialog = document.getElementById(button.getAttribute("data-open-dialog"));
    if (!dialog || !dialog.showModal) { return; }
    button.addEventListener("click", function () {
      dialog.showModal();
      var first = dialog.querySelector("textarea, input:not([type=hidden]), [data-close-dialog]");
      if (first) { first.focus(); }
    });
    dialog.addEventListener("close", function () { button.focus(); });
  });
  document.querySelectorAll("[data-close-dialog]").forEach(function (button) {
    button.addEventListener("click", function () { button.closest("dialog").close(); });
  });
})();
