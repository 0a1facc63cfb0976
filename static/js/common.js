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
// Copy buttons: [data-copy] names the field (a CSS selector) whose value is
// copied; the field is selected too, so Ctrl-C works where no copy API is
// allowed.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) { return; }
    var label = button.textContent;
    button.addEventListener("click", function () {
      field.select();
      var done = function () {
        button.textContent = "✓";
        window.setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {});
      } else if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    });
  });
})();
// The next status poll of an unfinished artwork: `base` ms while it renders;
// while it waits in the queue, a third of its estimated wait (eta_seconds),
// between `base` and 5 s. A long queue is then asked about a few times, not
// every second (each poll costs the server a request).
window.studioPollDelay = function (data, base) {
  if (data && data.status === "queued" && data.eta_seconds) {
    return Math.min(5000, Math.max(base, (data.eta_seconds * 1000) / 3));
  }
  return base;
};
