// Polls the JSON status endpoint of every unfinished artwork on the page and
// updates its badge, progress bar, stage, queue position and ETA; the artwork
// page and gallery cards reload once the artwork is finished.
(function () {
  "use strict";
  var POLL_MS = 1500;
  var labelsEl = document.getElementById("stage-labels");
  var labels = labelsEl ? JSON.parse(labelsEl.textContent) : {};
  var lang = document.documentElement.lang || "en";
  var numbers = new Intl.NumberFormat(lang);

  function fill(template, n) { return template.replace("%(n)s", n); }

  function setText(el, selector, text) {
    var target = el.querySelector(selector);
    if (target) { target.textContent = text; }
  }

  function update(el, data) {
    var badge = el.querySelector('[data-role="status"]') ||
      (el.classList.contains("artwork") ? document.querySelector('.page-head [data-role="status"]') : null);
    if (badge) {
      badge.className = "badge badge-" + data.status;
      badge.textContent = labels[data.status] || data.status;
    }
    var bar = el.querySelector('[data-role="progress"]');
    if (bar) { bar.value = data.progress || 0; }
    if (data.stage) { setText(el, '[data-role="stage"]', labels[data.stage] || data.stage); }
    // queue_position and eta_seconds may be absent or null: show them only
    // when the server knows them.
    var queueText = "", etaText = "";
    if (data.queue_position) {
      queueText = fill(labels.queue_position || "#%(n)s", numbers.format(data.queue_position));
    }
    if (data.eta_seconds) {
      etaText = fill(labels.eta || "%(n)s s", numbers.format(Math.max(1, Math.round(data.eta_seconds))));
    }
    setText(el, '[data-role="queue"]', queueText);
    setText(el, '[data-role="eta"]', etaText);
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
        window.setTimeout(function () { poll(el); }, window.studioPollDelay(data, POLL_MS));
      })
      .catch(function () { window.setTimeout(function () { poll(el); }, POLL_MS * 2); });
  }

  document.querySelectorAll("[data-status-url]").forEach(function (el) {
    if (el.classList.contains("artwork") && !el.hasAttribute("data-reload-when-done")) { return; }
    poll(el);
  });
})();
