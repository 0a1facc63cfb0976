// The before/after comparison: a range input laid over both images moves the
// divider. The input gives keyboard (arrows, Home/End) and pointer dragging
// for free, with a label for screen readers.
(function () {
  "use strict";
  document.querySelectorAll("[data-compare]").forEach(function (figure) {
    var range = figure.querySelector('[data-role="compare-range"]');
    function update() { figure.style.setProperty("--position", range.value + "%"); }
    range.addEventListener("input", update);
    update();
  });
})();
