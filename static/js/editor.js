// The upload editor: several photos (drag and drop or file input), checks of
// type and size before anything is sent, style cards, sliders generated from
// the registry with a debounced live preview, uploads with a real progress
// bar (XMLHttpRequest), then one progress view of all N x M artworks.
// No inline script or style: configuration comes from #editor-config.
(function () {
  "use strict";
  var form = document.querySelector("form[data-editor]");
  if (!form) { return; }
  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var T = config.text;
  var lang = document.documentElement.lang || "en";
  var numberFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var fileInput = form.querySelector("input[type=file][name=image]");
  var dropzone = form.querySelector('[data-role="dropzone"]');
  var fileList = form.querySelector('[data-role="file-list"]');
  var fileError = form.querySelector('[data-role="file-error"]');
  var summary = form.querySelector('[data-role="summary"]');
  var submit = form.querySelector('[data-role="submit"]');
  var paramsEmpty = form.querySelector('[data-role="params-empty"]');
  var remixEl = form.querySelector("[data-remix-photo]");
  var remixPhoto = remixEl ? remixEl.getAttribute("data-remix-photo") : null;
  var jobsSection = document.querySelector('[data-role="jobs-section"]');
  var jobsList = document.querySelector('[data-role="jobs"]');
  var uploadBar = document.querySelector('[data-role="upload-bar"]');
  var uploadStatus = document.querySelector('[data-role="upload-status"]');
  var labels = {};
  config.styles.forEach(function (s) { labels[s.slug] = s.label; });

  var files = [];
  var previewSource = null;  // Blob of the first photo, scaled down once.
  var sourceSize = null;  // [width, height] of that photo before scaling.
  var sourceVersion = 0;

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }
  function megabytes(bytes) {
    return bytes < 1048576
      ? numberFormat.format(Math.max(1, Math.round(bytes / 1024))) + " KB"
      : numberFormat.format(bytes / 1048576) + " MB";
  }
  function urlFor(template, id) { return template.replace("/0/", "/" + id + "/"); }

  // Photos -------------------------------------------------------------------

  function matches(file, types) {
    var name = file.name.toLowerCase();
    var dot = name.lastIndexOf(".");
    var ext = dot >= 0 ? name.slice(dot) : "";
    // Browsers often give HEIC files an empty type: the extension decides.
    return types.some(function (t) {
      return t.charAt(0) === "." ? t === ext : t === file.type;
    });
  }
  function isAccepted(file) { return matches(file, config.types); }
  function isVideo(file) { return matches(file, config.videoTypes); }
  // Videos, and GIF/WebP that may be animations, have the video size cap.
  function maxBytesOf(file) {
    return isVideo(file) || matches(file, config.animatableTypes) ? config.maxVideoBytes : config.maxBytes;
  }

  // A bitmap of the file: the image itself, or a video's first frame (read
  // through a blob: URL by a muted, detached <video>).
  function bitmapOf(file) {
    if (!isVideo(file)) { return createImageBitmap(file); }
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var video = document.createElement("video");
      function finish() { video.removeAttribute("src"); video.load(); URL.revokeObjectURL(url); }
      video.muted = true;
      video.playsInline = true;
      video.preload = "auto";
      video.addEventListener("loadeddata", function () {
        video.currentTime = Math.min(0.1, (video.duration || 0) / 2);
      }, { once: true });
      video.addEventListener("seeked", function () {
        createImageBitmap(video).then(function (bitmap) { finish(); resolve(bitmap); },
          function (error) { finish(); reject(error); });
      }, { once: true });
      video.addEventListener("error", function () { finish(); reject(new Error("video")); }, { once: true });
      video.src = url;
    });
  }

  function addFiles(list) {
    var problems = [];
    Array.prototype.forEach.call(list, function (file) {
      var limit = maxBytesOf(file);
      if (!isAccepted(file)) {
        problems.push(fmt(T.badType, { name: file.name }));
      } else if (file.size > limit) {
        problems.push(fmt(T.tooLarge, { name: file.name, size: megabytes(file.size), limit: megabytes(limit) }));
      } else if (!files.some(function (f) { return f.name === file.name && f.size === file.size; })) {
        files.push(file);
      }
    });
    fileError.textContent = problems.join(" ");
    fileError.hidden = problems.length === 0;
    renderFiles();
    updateSource();
    updateSummary();
  }

  function thumbnailCanvas(file) {
    var canvas = document.createElement("canvas");
    canvas.className = "file-thumb";
    canvas.width = 64; canvas.height = 48;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", file.name);
    if (window.createImageBitmap) {
      bitmapOf(file).then(function (bitmap) {
        var scale = Math.max(64 / bitmap.width, 48 / bitmap.height);
        var w = bitmap.width * scale, h = bitmap.height * scale;
        canvas.getContext("2d").drawImage(bitmap, (64 - w) / 2, (48 - h) / 2, w, h);
        bitmap.close();
      }).catch(function () { canvas.classList.add("file-thumb-unknown"); });
    }
    return canvas;
  }

  function renderFiles() {
    fileList.textContent = "";
    files.forEach(function (file, index) {
      var li = document.createElement("li");
      li.className = "file-item";
      li.appendChild(thumbnailCanvas(file));
      var text = document.createElement("span");
      text.className = "file-name";
      text.textContent = file.name + " · " + megabytes(file.size);
      li.appendChild(text);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link-button";
      remove.textContent = T.remove;
      remove.setAttribute("aria-label", fmt(T.removeNamed, { name: file.name }));
      remove.addEventListener("click", function () {
        files.splice(index, 1);
        renderFiles(); updateSource(); updateSummary();
      });
      li.appendChild(remove);
      fileList.appendChild(li);
    });
  }

  // The preview uses the first photo scaled to a long side of 512 px in the
  // browser, so a slider move uploads a few dozen kilobytes, not the photo.
  function updateSource() {
    var file = files[0];
    var version = ++sourceVersion;
    if (!file) { previewSource = null; return; }
    var fallback = function () {
      if (version !== sourceVersion) { return; }
      if (isVideo(file)) {
        // The preview takes images only: never send it a whole video.
        previewSource = null;
        fileError.textContent = fmt(T.videoPreviewFailed, { name: file.name });
        fileError.hidden = false;
        return;
      }
      previewSource = file;  // e.g. HEIC: the server decodes it.
      sourceSize = null;  // the server reads it from the file itself
      refreshAllPreviews();
    };
    if (!window.createImageBitmap) { fallback(); return; }
    bitmapOf(file).then(function (bitmap) {
      var scale = Math.min(1, 512 / Math.max(bitmap.width, bitmap.height));
      var size = [bitmap.width, bitmap.height];
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      canvas.toBlob(function (blob) {
        if (version !== sourceVersion) { return; }
        if (!blob) { fallback(); return; }
        previewSource = blob;
        sourceSize = size;
        refreshAllPreviews();
      }, "image/jpeg", 0.92);
    }).catch(fallback);
  }

  if (fileInput) {
    fileInput.addEventListener("change", function () {
      addFiles(fileInput.files);
      fileInput.value = "";
    });
  }
  if (dropzone) {
    ["dragenter", "dragover"].forEach(function (type) {
      dropzone.addEventListener(type, function (event) {
        event.preventDefault();
        dropzone.classList.add("dropzone-active");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      dropzone.addEventListener(type, function (event) {
        event.preventDefault();
        dropzone.classList.remove("dropzone-active");
      });
    });
    dropzone.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files) { addFiles(event.dataTransfer.files); }
    });
  }

  // Styles, sliders and previews ---------------------------------------------

  var panels = {};
  form.querySelectorAll(".param-panel").forEach(function (panel) {
    var slug = panel.getAttribute("data-style");
    var state = {
      el: panel, slug: slug, timer: null, controller: null, seq: 0,
      img: panel.querySelector('[data-role="preview"]'),
      status: panel.querySelector('[data-role="preview-status"]')
    };
    panels[slug] = state;
    panel.querySelectorAll(".param-row").forEach(function (row) {
      var toggle = row.querySelector('[data-role="toggle"]');
      if (toggle) {
        toggle.addEventListener("change", function () { schedulePreview(state); });
        return;
      }
      var range = row.querySelector('[data-role="range"]');
      var number = row.querySelector('[data-role="number"]');
      range.addEventListener("input", function () { number.value = range.value; schedulePreview(state); });
      number.addEventListener("input", function () {
        if (number.value !== "" && number.checkValidity()) { range.value = number.value; schedulePreview(state); }
      });
    });
    panel.querySelector('[data-role="reset"]').addEventListener("click", function () {
      panel.querySelectorAll(".param-row").forEach(function (row) {
        setRow(row, row.getAttribute("data-default"));
      });
      schedulePreview(state);
    });
  });

  function chosenStyles() {
    return Array.prototype.map.call(
      form.querySelectorAll("input[data-style-check]:checked"),
      function (box) { return box.value; });
  }

  // A parameter row is a slider with a number box, or a check box (on/off).
  function rowValue(row) {
    var toggle = row.querySelector('[data-role="toggle"]');
    if (toggle) { return toggle.checked; }
    return Number(row.querySelector('[data-role="number"]').value);
  }
  function setRow(row, value) {
    var toggle = row.querySelector('[data-role="toggle"]');
    if (toggle) {
      toggle.checked = value === true || value === 1 || value === "1" || value === "true";
      return;
    }
    row.querySelector('[data-role="range"]').value = value;
    row.querySelector('[data-role="number"]').value = value;
  }

  function paramsOf(slug) {
    var values = {};
    panels[slug].el.querySelectorAll(".param-row").forEach(function (row) {
      values[row.getAttribute("data-param")] = rowValue(row);
    });
    return values;
  }

  function schedulePreview(state, delay) {
    window.clearTimeout(state.timer);
    state.timer = window.setTimeout(function () { loadPreview(state); }, delay === undefined ? 250 : delay);
  }

  function refreshAllPreviews() {
    chosenStyles().forEach(function (slug) { schedulePreview(panels[slug], 0); });
  }

  function loadPreview(state) {
    if (state.el.hidden || (!previewSource && !remixPhoto)) { return; }
    if (state.controller) { state.controller.abort(); }
    state.controller = new AbortController();
    var seq = ++state.seq;
    var body = new FormData();
    if (remixPhoto && !previewSource) { body.append("photo", remixPhoto); }
    else {
      body.append("image", previewSource, "preview.jpg");
      // Brush sizes are scaled from the photo's own size to the preview's.
      if (sourceSize) {
        body.append("source_width", sourceSize[0]);
        body.append("source_height", sourceSize[1]);
      }
    }
    body.append("style", state.slug);
    body.append("params", JSON.stringify(paramsOf(state.slug)));
    state.status.textContent = T.previewLoading;
    state.el.classList.add("preview-loading");
    fetch(config.urls.preview, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf }, signal: state.controller.signal
    }).then(function (response) {
      if (response.status === 429) {
        var wait = parseInt(response.headers.get("Retry-After") || "5", 10);
        state.status.textContent = fmt(T.previewBusy, { n: wait });
        schedulePreview(state, wait * 1000);
        return null;
      }
      if (!response.ok) {
        return response.json().then(function (data) { throw new Error(data.error || T.previewFailed); });
      }
      return response.blob();
    }).then(function (blob) {
      if (!blob || seq !== state.seq) { return null; }
      return createImageBitmap(blob).then(function (bitmap) { drawPreview(state, bitmap); });
    }).catch(function (error) {
      if (error.name === "AbortError") { return; }
      state.status.textContent = error.message || T.previewFailed;
    }).finally(function () {
      if (seq === state.seq) { state.el.classList.remove("preview-loading"); }
    });
  }

  // Drawn on a canvas rather than shown through a blob: URL, so a strict
  // Content-Security-Policy (img-src 'self') needs no exception.
  function drawPreview(state, bitmap) {
    var canvas = state.canvas;
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.className = "preview-canvas";
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", state.img.getAttribute("alt"));
      canvas.setAttribute("data-role", "preview-canvas");
      state.img.replaceWith(canvas);
      state.canvas = canvas;
    }
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    canvas.setAttribute("data-version", String(state.seq));
    state.status.textContent = "";
  }

  function updatePanels() {
    var chosen = chosenStyles();
    Object.keys(panels).forEach(function (slug) {
      var show = chosen.indexOf(slug) >= 0;
      var wasHidden = panels[slug].el.hidden;
      panels[slug].el.hidden = !show;
      if (show && wasHidden) { schedulePreview(panels[slug], 0); }
    });
    paramsEmpty.hidden = chosen.length > 0;
    updateSummary();
  }
  form.querySelectorAll("input[data-style-check]").forEach(function (box) {
    box.addEventListener("change", updatePanels);
  });

  function updateSummary() {
    var photos = remixPhoto ? 1 : files.length;
    var styles = chosenStyles().length;
    summary.textContent = photos && styles
      ? fmt(T.summary, { photos: photos, styles: styles, total: photos * styles }) : "";
  }

  // Submit: one request per photo, then one progress view -------------------

  function showError(message) {
    fileError.textContent = message;
    fileError.hidden = false;
    fileError.scrollIntoView({ block: "center" });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var styles = chosenStyles();
    if (!remixPhoto && files.length === 0) { showError(T.noPhoto); return; }
    if (styles.length === 0) { showError(T.noStyle); return; }
    fileError.hidden = true;
    var params = {};
    styles.forEach(function (slug) { params[slug] = paramsOf(slug); });
    submit.disabled = true;
    jobsSection.hidden = false;
    var items = remixPhoto ? [{ photo: remixPhoto, name: "" }] : files.map(function (f) { return { file: f, name: f.name }; });
    var total = items.reduce(function (sum, item) { return sum + (item.file ? item.file.size : 1); }, 0);
    var sent = 0;
    var index = 0;
    function next() {
      if (index >= items.length) {
        uploadBar.value = 100;
        submit.disabled = false;
        return;
      }
      var item = items[index];
      send(item, styles, params, function (loaded) {
        uploadBar.value = Math.round(100 * (sent + loaded) / total);
      }, function () {
        sent += item.file ? item.file.size : 1;
        index += 1;
        next();
      });
    }
    next();
    jobsSection.scrollIntoView({ block: "start" });
  });

  function send(item, styles, params, onProgress, onDone, attempt) {
    attempt = attempt || 0;
    var body = new FormData();
    if (item.file) { body.append("image", item.file); } else { body.append("photo", item.photo); }
    styles.forEach(function (slug) { body.append("style", slug); });
    body.append("params", JSON.stringify(params));
    var xhr = new XMLHttpRequest();
    xhr.open("POST", config.urls.artworks);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    uploadStatus.textContent = fmt(T.uploading, { name: item.name });
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable && item.file) { onProgress(item.file.size * event.loaded / event.total); }
    });
    xhr.addEventListener("load", function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status === 202 && data) {
        uploadStatus.textContent = fmt(T.uploaded, { name: item.name });
        data.artworks.forEach(function (artwork, i) { addJob(artwork, item.name, styles[i]); });
        onDone();
        return;
      }
      var retryAfter = parseInt(xhr.getResponseHeader("Retry-After") || "", 10);
      if ((xhr.status === 429 || xhr.status === 503) && retryAfter > 0 && attempt < 5) {
        uploadStatus.textContent = (data && data.error) || "";
        window.setTimeout(function () { send(item, styles, params, onProgress, onDone, attempt + 1); }, retryAfter * 1000);
        return;
      }
      addFailure(fmt(T.failedUpload, { name: item.name, error: (data && data.error) || xhr.statusText }));
      onDone();
    });
    xhr.addEventListener("error", function () {
      addFailure(fmt(T.failedUpload, { name: item.name, error: T.network }));
      onDone();
    });
    xhr.send(body);
  }

  function addFailure(message) {
    var li = document.createElement("li");
    li.className = "job job-failed";
    li.setAttribute("role", "alert");
    li.textContent = message;
    jobsList.appendChild(li);
  }

  var jobs = [];

  function addJob(artwork, name, style) {
    var li = document.createElement("li");
    li.className = "job";
    li.setAttribute("data-artwork", String(artwork.id));
    li.innerHTML =
      '<div class="job-thumb"></div>' +
      '<div class="job-main"><p class="job-title"></p>' +
      '<progress max="100" value="0"></progress>' +
      '<p class="job-state hint"><span class="job-stage"></span> <span class="job-queue"></span> <span class="job-eta"></span></p>' +
      '<p class="job-error form-error" hidden></p>' +
      '<p class="job-actions"><a class="button button-small" hidden></a> <button type="button" class="button button-small button-secondary" hidden></button></p></div>';
    li.querySelector(".job-title").textContent = (name ? name + " · " : "") + (labels[style] || style);
    li.querySelector("progress").setAttribute("aria-label", li.querySelector(".job-title").textContent);
    var open = li.querySelector("a");
    open.href = urlFor(config.urls.artworkPage, artwork.id);
    open.textContent = T.open;
    var retry = li.querySelector("button");
    retry.textContent = T.retry;
    var job = { id: artwork.id, url: artwork.url, el: li, finished: false };
    retry.addEventListener("click", function () { retryJob(job); });
    jobs.push(job);
    jobsList.appendChild(li);
    poll(job);
  }

  function render(job, data) {
    var li = job.el;
    li.className = "job job-" + data.status;
    li.setAttribute("data-status", data.status);
    li.querySelector("progress").value = data.progress || 0;
    li.querySelector(".job-stage").textContent = config.stages[data.stage] || config.stages[data.status] || data.stage;
    var queue = li.querySelector(".job-queue");
    queue.textContent = data.queue_position ? fmt(config.stages.queue_position, { n: data.queue_position }) : "";
    var eta = li.querySelector(".job-eta");
    eta.textContent = data.eta_seconds && data.status !== "done" && data.status !== "failed"
      ? fmt(config.stages.eta, { n: Math.max(1, Math.round(data.eta_seconds)) }) : "";
    var error = li.querySelector(".job-error");
    error.hidden = data.status !== "failed";
    error.textContent = data.error || "";
    li.querySelector("button").hidden = data.status !== "failed";
    li.querySelector("a").hidden = data.status !== "done";
    var thumb = li.querySelector(".job-thumb");
    if (data.thumbnail_url && !thumb.firstChild) {
      var img = document.createElement("img");
      img.src = data.thumbnail_url;
      img.alt = li.querySelector(".job-title").textContent;
      thumb.appendChild(img);
    }
  }

  function poll(job) {
    fetch(job.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { window.setTimeout(function () { poll(job); }, 3000); return; }
        render(job, data);
        if (data.status === "done" || data.status === "failed") {
          job.finished = true;
          checkAllDone();
          return;
        }
        window.setTimeout(function () { poll(job); }, window.studioPollDelay(data, 1000 + 50 * jobs.length));
      })
      .catch(function () { window.setTimeout(function () { poll(job); }, 3000); });
  }

  function retryJob(job) {
    fetch(urlFor(config.urls.artworkRetry, job.id), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" }
    }).then(function (response) { return response.json(); }).then(function (data) {
      if (data && data.status) {
        job.finished = false;
        render(job, data);
        poll(job);
      }
    });
  }

  function checkAllDone() {
    if (jobs.length && jobs.every(function (job) { return job.finished; })) {
      uploadStatus.textContent = T.allDone;
    }
  }

  // Presets: apply one (check its style, set its sliders) or save a panel's
  // settings as a new one through the API -------------------------------------

  var presetSelect = document.querySelector('[data-role="preset-select"]');
  var presetBar = document.querySelector('[data-role="preset-bar"]');
  var presetStatus = document.querySelector('[data-role="preset-status"]');
  var presetsById = {};
  (config.presets || []).forEach(function (p) { presetsById[p.id] = p; });

  function setParams(slug, params) {
    panels[slug].el.querySelectorAll(".param-row").forEach(function (row) {
      var name = row.getAttribute("data-param");
      if (params[name] === undefined) { return; }
      setRow(row, params[name]);
    });
  }

  function applyPreset(preset) {
    if (!panels[preset.style]) { return; }
    var box = form.querySelector('input[data-style-check][value="' + preset.style + '"]');
    if (box && !box.checked) { box.checked = true; }
    setParams(preset.style, preset.params);
    updatePanels();
    schedulePreview(panels[preset.style], 0);
    presetStatus.textContent = fmt(T.presetApplied, { name: preset.name });
  }

  if (presetSelect) {
    presetSelect.addEventListener("change", function () {
      var preset = presetsById[presetSelect.value];
      if (preset) { applyPreset(preset); }
    });
  }

  function addPresetOption(preset) {
    presetsById[preset.id] = preset;
    if (!presetSelect) { return; }
    var option = document.createElement("option");
    option.value = String(preset.id);
    option.textContent = preset.name;
    presetSelect.appendChild(option);
    presetBar.hidden = false;
  }

  Object.keys(panels).forEach(function (slug) {
    var box = panels[slug].el.querySelector('[data-role="save-preset"]');
    if (!box) { return; }
    var nameInput = box.querySelector('[data-role="preset-name"]');
    var status = box.querySelector('[data-role="save-preset-status"]');
    box.querySelector('[data-role="save-preset-button"]').addEventListener("click", function () {
      var body = new FormData();
      body.append("name", nameInput.value);
      body.append("style", slug);
      body.append("params", JSON.stringify(paramsOf(slug)));
      fetch(config.urls.presets, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" }
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.status === 201, data: data }; });
      }).then(function (result) {
        if (!result.ok) { throw new Error(result.data.error || ""); }
        addPresetOption(result.data);
        status.textContent = fmt(T.presetSaved, { name: result.data.name });
        nameInput.value = "";
      }).catch(function (error) {
        status.textContent = fmt(T.presetFailed, { error: error.message || T.network });
      });
    });
  });

  updatePanels();
  if (remixPhoto) { refreshAllPreviews(); }
})();
