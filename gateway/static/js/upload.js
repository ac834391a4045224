// The editors' upload form: the master goes to /api/v1/uploads in chunks with tus-js-client
// (vendored, see gateway/static/vendor), which remembers each upload in this browser
// (localStorage) until it is complete. After a reload the form shows how far a stopped upload
// got; choosing the same file again resumes it where it stopped. Once complete, the file is
// added to the chosen news item (POST /api/v1/videos with its upload_id).
"use strict";
(function () {
  const section = document.getElementById("upload");
  if (!section || !window.tus || !window.tus.isSupported) return;
  const texts = JSON.parse(document.getElementById("portal-texts").textContent);
  const language = document.documentElement.lang || "fr";
  const form = section.querySelector("form.upload-form");
  const fileInput = form.elements.file;
  const newsSelect = form.elements.news_id;
  const submit = form.querySelector("button[type=submit]");
  const pauseButton = form.querySelector("button.pause");
  const errorLine = form.querySelector(".error.form-level");
  const box = section.querySelector(".upload-progress");
  const bar = box.querySelector("progress");
  const nameLine = box.querySelector(".upload-name");
  const statusLine = box.querySelector(".upload-status");
  const chunkSize = Number(section.dataset.chunkSize);
  const endpoint = section.dataset.endpoint;
  let upload = null;
  let running = false;

  const say = window.portalSay;
  function size(bytes) {
    const units = [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
    for (const [unit, factor] of units) {
      if (bytes >= factor) return (bytes / factor).toLocaleString(language,
        { maximumFractionDigits: 1 }) + " " + unit;
    }
    return bytes + " B";
  }
  function show(name, sent, total, text) {
    box.hidden = false;
    nameLine.textContent = name;
    bar.value = total ? Math.min(100, Math.floor((sent * 100) / total)) : 0;
    statusLine.textContent = text;
  }
  function fail(message) {
    errorLine.textContent = message;
    running = false;
    submit.disabled = false;
    pauseButton.hidden = true;
  }
  function messageOf(error) {
    try {
      return JSON.parse(error.originalResponse.getBody()).error.message || texts.failed;
    } catch (_) {
      return texts.failed;
    }
  }

  async function addToNews(uploadUrl) {
    const response = await fetch("/api/v1/videos?lang=" + language, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ news_id: newsSelect.value, upload_id: uploadUrl.split("/").pop() }),
    });
    const data = await response.json().catch(() => ({}));
    if (response.status === 201) {
      statusLine.textContent = texts.added;
      submit.disabled = false;
    } else {
      fail(data.error ? data.error.message : texts.failed);
    }
  }

  function start(file) {
    errorLine.textContent = "";
    submit.disabled = true;
    upload = new tus.Upload(file, {
      endpoint: endpoint,
      chunkSize: chunkSize,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
      headers: { "Accept-Language": language },
      removeFingerprintOnSuccess: true,
      onProgress(sent, total) {
        show(file.name, sent, total, say(texts.progress, {
          percent: Math.floor((sent * 100) / total), sent: size(sent), total: size(total) }));
      },
      onSuccess() {
        running = false;
        pauseButton.hidden = true;
        show(file.name, file.size, file.size, texts.uploaded);
        addToNews(upload.url);
      },
      onError(error) {
        fail(messageOf(error));
      },
    });
    upload.findPreviousUploads().then((previous) => {
      if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
      running = true;
      pauseButton.textContent = texts.pause;
      pauseButton.hidden = false;
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!fileInput.files.length) {
      fail(texts.choose_file);
      fileInput.focus();
      return;
    }
    start(fileInput.files[0]);
  });

  pauseButton.addEventListener("click", () => {
    if (!upload) return;
    if (running) {
      upload.abort();
      running = false;
      pauseButton.textContent = texts.resume;
      statusLine.textContent = texts.paused;
    } else {
      upload.start();
      running = true;
      pauseButton.textContent = texts.pause;
    }
  });

  // After a reload: the uploads this browser began and did not finish, and how far they got.
  async function stoppedUploads() {
    const storage = tus.defaultOptions.urlStorage;
    if (!storage || !storage.findAllUploads) return;
    for (const entry of await storage.findAllUploads()) {
      const response = await fetch(entry.uploadUrl, {
        method: "HEAD", credentials: "same-origin", headers: { "Tus-Resumable": "1.0.0" },
      }).catch(() => null);
      if (response) await response.arrayBuffer();  // (an unread answer counts as aborted)
      if (!response || response.status === 404) {
        await storage.removeUpload(entry.urlStorageKey);  // expired, given up, or not ours
        continue;
      }
      if (!response.ok) continue;
      const sent = Number(response.headers.get("Upload-Offset"));
      const total = entry.size || Number(response.headers.get("Upload-Length"));
      const name = (entry.metadata && entry.metadata.filename) || "";
      show(name, sent, total, say(texts.resumable, {
        name: name, percent: Math.floor((sent * 100) / total) }));
      return;  // the latest one is enough to show
    }
  }
  stoppedUploads();
})();
