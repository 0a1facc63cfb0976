// The before/after comparison: a range input laid over both images moves the
// divider. The input gives keyboard (arrows, Home/End) and pointer dragging
// for free, with a label for screen readers.
//
// A video or animation plays in its own player; "Compare" pauses it and shows
// the original and the result paused at the same moment (an animated GIF or
// WebP original: its first frame, the one a canvas draws, against the
// result's first frame), under the same divider.
(function () {
  "use strict";
  document.querySelectorAll("[data-compare]").forEach(function (figure) {
    var range = figure.querySelector('[data-role="compare-range"]');
    function update() { figure.style.setProperty("--position", range.value + "%"); }
    range.addEventListener("input", update);
    update();
  });

  var player = document.querySelector('[data-role="result-video"]');
  var compare = document.querySelector('[data-role="moving-compare"]');
  if (!player || !compare) { return; }
  var playerBox = document.querySelector('[data-role="player"]');
  var openButton = document.querySelector('[data-role="compare-open"]');
  var closeButton = document.querySelector('[data-role="compare-close"]');
  var error = document.querySelector('[data-role="compare-error"]');
  var original = compare.querySelector('[data-role="compare-original"]');
  var result = compare.querySelector('[data-role="compare-result"]');

  // Resolves once the video shows the frame at `time` (paused).
  function seek(video, time) {
    return new Promise(function (resolve, reject) {
      function cleanup() {
        video.removeEventListener("seeked", done);
        video.removeEventListener("error", fail);
      }
      function done() { cleanup(); resolve(); }
      function fail() { cleanup(); reject(new Error("video")); }
      function go() {
        var end = isFinite(video.duration) ? Math.max(0, video.duration - 0.001) : time;
        video.currentTime = Math.min(time, end);
      }
      video.addEventListener("seeked", done);
      video.addEventListener("error", fail);
      video.pause();
      if (!video.getAttribute("src")) {
        video.preload = "auto";
        video.src = video.getAttribute("data-src");
      }
      if (video.readyState >= 1) { go(); } else { video.addEventListener("loadedmetadata", go, { once: true }); }
    });
  }

  function firstFrame(canvas) {
    return new Promise(function (resolve, reject) {
      var image = new Image();
      image.onload = function () {
        canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
        resolve();
      };
      image.onerror = function () { reject(new Error("image")); };
      image.src = canvas.getAttribute("data-src");
    });
  }

  function show(comparing) {
    compare.hidden = !comparing;
    playerBox.hidden = comparing;
    openButton.hidden = comparing;
    closeButton.hidden = !comparing;
  }

  openButton.addEventListener("click", function () {
    player.pause();
    var moment = compare.getAttribute("data-original-media") === "video" ? player.currentTime : 0;
    var before = original.tagName === "CANVAS" ? firstFrame(original) : seek(original, moment);
    error.hidden = true;
    openButton.disabled = true;
    Promise.all([before, seek(result, moment)]).then(function () {
      compare.setAttribute("data-time", String(moment));
      show(true);
    }).catch(function () {
      error.hidden = false;
    }).finally(function () { openButton.disabled = false; });
  });
  closeButton.addEventListener("click", function () { show(false); });
})();

// "Download full size" in PNG or WebP: the first download of a result in a
// format is converted by a worker, so the button asks the server whether the
// copy is stored ("&prepare=1": {"ready": false, "retry_after": 2} until it
// is), then downloads. Without script, the link answers 503 with Retry-After
// until then.
(function () {
  "use strict";
  document.querySelectorAll("a[data-format]").forEach(function (link) {
    if (link.getAttribute("data-format") === "jpeg") { return; }
    var label = link.textContent;
    link.addEventListener("click", function (event) {
      if (link.getAttribute("data-ready") === "1") { return; }
      event.preventDefault();
      if (link.getAttribute("aria-busy") === "true") { return; }
      link.setAttribute("aria-busy", "true");
      link.textContent = link.getAttribute("data-preparing") || label;
      var deadline = Date.now() + 120000;
      function done(ready) {
        link.removeAttribute("aria-busy");
        link.textContent = label;
        if (ready) {
          link.setAttribute("data-ready", "1");
          link.click();
        } else {
          window.location.href = link.href;  // the server's own answer, as a page
        }
      }
      function ask() {
        fetch(link.href + "&prepare=1", { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (response) {
            var wait = parseInt(response.headers.get("Retry-After") || "2", 10);
            if (response.status === 429 || response.status === 503) { return { ready: false, retry_after: wait }; }
            if (!response.ok) { throw new Error("HTTP " + response.status); }
            return response.json();
          })
          .then(function (answer) {
            var wait = Math.min(Math.max(answer.retry_after || 2, 1), 30);
            if (answer.ready) {
              done(true);
            } else if (Date.now() + wait * 1000 < deadline) {
              window.setTimeout(ask, wait * 1000);
            } else {
              done(false);
            }
          })
          .catch(function () { done(false); });
      }
      ask();
    });
  });
})();
