// A news item's programme: shotlist rows seek their player; the download panel asks the
// JSON API for a rendition, whole or cut, follows its progress and shows the link when the
// file is ready. The page's session cookie authenticates the calls (same origin).
"use strict";
(function () {
  const texts = JSON.parse(document.getElementById("portal-texts").textContent);
  const language = document.documentElement.lang || "fr";
  const POLL_MS = 500;

  const say = window.portalSay;

  async function api(method, url, body) {
    const response = await fetch(url + (url.includes("?") ? "&" : "?") + "lang=" + language, {
      method: method,
      credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json", Accept: "application/json" }
                    : { Accept: "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    return { status: response.status, data: data };
  }

  function setUp(section) {
    const video = section.querySelector("video");
    const rate = section.dataset.frameRate;
    const start = section.dataset.startTimecode;

    for (const button of section.querySelectorAll("button.seek")) {
      button.addEventListener("click", () => {
        video.currentTime = Number(button.dataset.seconds);
        video.focus();
      });
    }

    const form = section.querySelector("form.download-form");
    if (!form) return;
    const field = (name) => form.elements[name];
    const errorOf = (name) => form.querySelector("#" + name + "-error-" + form.dataset.videoId);
    const formError = form.querySelector(".error.form-level");
    const job = form.querySelector(".job");
    const progress = job.querySelector("progress");
    const status = job.querySelector(".job-status");
    const link = job.querySelector(".job-link");
    const submit = form.querySelector("button[type=submit]");

    function extent() {
      return form.querySelector("input[name=extent]:checked").value;
    }
    function showCutPoints() {
      const cut = extent() === "cut";
      form.querySelector(".cut-points").hidden = !cut;
      for (const name of ["in", "out"]) field(name).disabled = !cut;
      form.querySelector("fieldset.accuracy").disabled = !cut;
    }
    function chooseCut() {
      form.querySelector("input[name=extent][value=cut]").checked = true;
      showCutPoints();
    }
    for (const radio of form.querySelectorAll("input[name=extent]")) {
      radio.addEventListener("change", showCutPoints);
    }
    showCutPoints();

    for (const button of form.querySelectorAll("button.from-player")) {
      button.addEventListener("click", () => {
        chooseCut();
        field(button.dataset.target).value = Timecode.atSeconds(video.currentTime, start, rate);
        clearErrors();
      });
    }

    const picks = [...section.querySelectorAll("table.shotlist input.pick")];
    for (const pick of picks) {
      pick.addEventListener("change", () => {
        const rows = picks.filter((p) => p.checked).map((p) => p.closest("tr"));
        if (!rows.length) return;
        const r = Timecode.rate(rate);
        const byFrames = (a, b) => Timecode.toFrames(a, r) - Timecode.toFrames(b, r);
        chooseCut();
        field("in").value = rows.map((row) => row.dataset.in).sort(byFrames)[0];
        field("out").value = rows.map((row) => row.dataset.out).sort(byFrames).pop();
        clearErrors();
      });
    }

    function clearErrors() {
      for (const name of ["in", "out"]) {
        errorOf(name).textContent = "";
        field(name).removeAttribute("aria-invalid");
      }
      formError.textContent = "";
    }
    function showError(error) {
      const name = error && (error.field === "in" || error.field === "out") ? error.field : null;
      const message = (error && error.message) || texts.network;
      if (name) {
        errorOf(name).textContent = message;
        field(name).setAttribute("aria-invalid", "true");
        field(name).focus();
      } else {
        formError.textContent = message;
      }
    }

    function showProgress(answer) {
      job.hidden = false;
      link.textContent = "";
      progress.value = answer.progress || 0;
      // The live region speaks when it changes: the bar shows the percent, the words only
      // the state, so a screen reader is not read every poll.
      const words = answer.status === "running" ? texts.running : texts.queued;
      if (status.textContent !== words) status.textContent = words;
    }
    function showReady(answer) {
      job.hidden = false;
      progress.value = 100;
      status.textContent = texts.ready + (answer.in_tc && answer.out_tc
        ? " " + say(texts.delivered, { in: answer.in_tc, out: answer.out_tc }) : "");
      const anchor = document.createElement("a");
      anchor.href = answer.url;
      anchor.className = "button";
      anchor.setAttribute("download", answer.filename || "");
      anchor.textContent = texts.link + " (" + answer.filename + ")";
      const note = document.createElement("span");
      note.className = "hint";
      note.textContent = " " + say(texts.expires, {
        time: new Date(answer.expires_at).toLocaleTimeString(language),
      });
      link.replaceChildren(anchor, note);
      anchor.focus();
    }

    async function follow(statusUrl) {
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        const { status: code, data } = await api("GET", statusUrl);
        if (code !== 200) return showError(data.error);
        if (data.status === "ready") return showReady(data);
        if (data.status === "failed") {
          job.hidden = true;
          return showError({ message: data.error || texts.failed });
        }
        showProgress(data);
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors();
      const body = { rendition: form.querySelector("input[name=rendition]:checked").value };
      if (extent() === "cut") {
        const points = { in: field("in").value.trim(), out: field("out").value.trim() };
        if (!points.in || !points.out) {
          return showError({ field: points.in ? "out" : "in", message: texts.needs_points });
        }
        Object.assign(body, points,
          { accuracy: form.querySelector("input[name=accuracy]:checked").value });
      }
      submit.disabled = true;
      try {
        const { status: code, data } = await api(
          "POST", "/api/v1/videos/" + form.dataset.videoId + "/downloads", body);
        if (code === 200) return showReady(data);
        if (code === 202) {
          showProgress(data);
          return await follow(data.status_url);
        }
        job.hidden = true;
        showError(data.error);
      } catch (error) {
        showError(null);
      } finally {
        submit.disabled = false;
      }
    });
  }

  document.querySelectorAll("section.programme").forEach(setUp);
})();
