// Polls the JSON status endpoint of every unfinished artwork on the page and
// updates its badge and progress bar; the artwork page reloads once done.
(function () {
  "use strict";
  var POLL_MS = 1500;

  function update(el, data) {
    var badge = el.querySelector('[data-role="status"]') ||
      (el.classList.contains("artwork") ? document.querySelector('.page-head [data-role="status"]') : null);
    if (badge) {
      badge.className = "badge badge-" + data.status;
      badge.textContent = data.status_label || data.status;
    }
    var bar = el.querySelector('[data-role="progress"]');
    if (bar) { bar.value = data.progress || 0; }
    var stage = el.querySelector('[data-role="stage"]');
    if (stage && data.stage) { stage.textContent = data.stage_label || data.stage; }
  }

  function poll(el) {
    var url = el.getAttribute("data-status-url");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        update(el, data);
        if (data.status === "done" || data.status === "failed") {
          if (el.hasAttribute("data-reload-when-done") || el.classList.contains("card")) {
            window.location.reload();
          }
          return;
        }
        window.setTimeout(function () { poll(el); }, POLL_MS);
      })
      .catch(function () { window.setTimeout(function () { poll(el); }, POLL_MS * 2); });
  }

  document.querySelectorAll("[data-status-url]").forEach(function (el) {
    if (el.classList.contains("artwork") && !el.hasAttribute("data-reload-when-done")) { return; }
    poll(el);
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
