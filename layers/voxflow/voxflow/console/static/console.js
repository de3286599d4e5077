// voxflow console (docs/console.md). GPL-3.0-or-later.
// Every value that came from the API or from the user is written with textContent, never
// as markup. The API key stays in this tab's sessionStorage; paths are relative to the
// page, so the console works under any stage or host that serves /console. Served as a
// static site of its own origin, its console/config.json names the API it calls (CORS).
"use strict";

(() => {
  const KEY = "voxflow.apiKey";
  const HEALTH_EVERY_MS = 5000;
  const RECENT_ROWS = 10;
  const $ = (id) => document.getElementById(id);
  let healthTimer = null;
  let audioUrl = null;

  const apiKey = () => sessionStorage.getItem(KEY) || "";
  // The API's base: "" (this page's own origin) unless console/config.json names one.
  const apiBase = fetch("console/config.json", { cache: "no-store" })
    .then((response) => (response.ok ? response.json() : {}))
    .then((config) => (config.api ? config.api.replace(/\/+$/, "") + "/" : ""))
    .catch(() => "");

  async function call(path, init = {}) {
    const headers = Object.assign({ Authorization: "Bearer " + apiKey() }, init.headers || {});
    return fetch((await apiBase) + path, Object.assign({}, init, { headers, cache: "no-store" }));
  }

  // OpenAI's error shape {"error": {message, type, param, code}}, or whatever came back.
  async function errorOf(response) {
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    const error = (body && body.error) || {};
    const kind = [error.type, error.code].filter(Boolean).join(" / ");
    const where = error.param ? ` (${error.param})` : "";
    const message = error.message || (body && body.message) || response.statusText;
    return `${response.status} ${kind || "error"}${where}: ${message}`;
  }

  function show(id, text) {
    const element = $(id);
    element.textContent = text || "";
    element.hidden = !text;
  }

  function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  }

  async function refreshHealth() {
    if (!apiKey()) return;
    try {
      const response = await call("v1/health");
      if (!response.ok) { show("health-error", await errorOf(response)); return; }
      const health = await response.json();
      const cards = health.regions.map((region) => {
        const card = element("div", "region");
        card.dataset.region = region.region;
        card.dataset.health = region.health;
        card.dataset.serving = String(region.serving);
        card.append(element("div", "name", region.region));
        card.append(element("div", "role", region.role + (region.here ? " · this console's API" : "")));
        const healthClass = region.health === "healthy" ? "healthy" : region.health === "unhealthy" ? "unhealthy" : "idle";
        card.append(element("span", "badge " + healthClass, region.health));
        card.append(element("span", "badge " + (region.serving ? "serving" : "idle"), region.serving ? "serving" : "standing by"));
        return card;
      });
      $("regions").replaceChildren(...cards);
      showQueues(health.queues || [], health.metrics_error);
      showCache(health.cache, health.metrics_error);
      $("health-checked").textContent = "checked " + health.checked_at;
      show("health-error", "");
    } catch (error) {
      show("health-error", "health: " + error.message);
    }
  }

  // Seconds as the queue panel shows an age: "42 s", "3 min", "2 h".
  function age(seconds) {
    if (seconds === null) return "none";  // no datapoint: an idle queue
    if (seconds === undefined) return "n/a";
    if (seconds < 120) return `${Math.round(seconds)} s`;
    if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
    return `${Math.round(seconds / 3600)} h`;
  }

  // The stack's queues and DLQs: a dead-letter queue holding anything is marked.
  function showQueues(queues, metricsError) {
    $("queues").tBodies[0].replaceChildren(...queues.map((queue) => {
      const tr = element("tr");
      tr.dataset.queue = queue.queue;
      const failed = queue.dead_letter && queue.waiting > 0;
      if (failed) tr.className = "dlq-not-empty";
      tr.append(element("td", "", queue.queue + (queue.dead_letter ? " (DLQ)" : "")));
      if (queue.error) {
        const cell = element("td", "error-cell", "unreadable: " + queue.error);
        cell.colSpan = 4;
        tr.append(cell);
      } else {
        [queue.waiting, queue.in_flight, queue.delayed].forEach((n) => tr.append(element("td", "", String(n))));
        const oldest = element("td", "age", age(queue.oldest_age_s));
        if (queue.oldest_age_s !== undefined) oldest.dataset.seconds = String(queue.oldest_age_s);
        tr.append(oldest);
      }
      return tr;
    }));
    $("queues-panel").hidden = queues.length === 0;
    show("queues-error", metricsError ? "oldest message: CloudWatch unreadable: " + metricsError : "");
  }

  // The last hour's cache hit ratio over every request of the deployment (CloudWatch).
  function showCache(cache, metricsError) {
    $("cache-panel").hidden = !cache && !metricsError;
    if (!cache) {
      show("cache-error", metricsError ? "CloudWatch unreadable: " + metricsError : "");
      return;
    }
    show("cache-error", "");
    const ratio = cache.ratio === null ? "no requests" : `${(cache.ratio * 100).toFixed(1)} %`;
    $("cache-ratio").textContent = ratio;
    $("cache-ratio").dataset.ratio = String(cache.ratio);
    $("cache-counts").textContent = `${cache.hits} hits, ${cache.misses} misses in the last ${Math.round(cache.window_s / 60)} min`;
  }

  async function loadVoices() {
    const response = await call("v1/audio/voices");
    if (!response.ok) { show("speak-error", await errorOf(response)); return; }
    const voices = (await response.json()).voices || [];
    const select = $("speak-voice");
    const chosen = select.value;
    select.replaceChildren(...voices.map((voice) => {
      const option = element("option", "", voice);
      option.value = voice;
      return option;
    }));
    if (voices.includes(chosen)) select.value = chosen;
    $("voices").replaceChildren(...voices.map((voice) => element("li", "", voice)));
    $("voices-count").textContent = `(${voices.length})`;
  }

  function useKey(event) {
    if (event) event.preventDefault();
    const typed = $("api-key").value.trim();
    if (typed) sessionStorage.setItem(KEY, typed);
    $("api-key").value = "";
    $("key-state").textContent = apiKey() ? "key set for this tab" : "kept in this tab only";
    if (!apiKey()) return;
    show("speak-error", "");
    loadVoices().catch((error) => show("speak-error", "voices: " + error.message));
    refreshHealth();
    clearInterval(healthTimer);
    healthTimer = setInterval(refreshHealth, HEALTH_EVERY_MS);
  }

  function record(row) {
    const cells = [row.time, row.voice, row.format, row.status, row.cache, row.latency, row.bytes, row.audio, row.timings];
    const tr = element("tr");
    cells.forEach((value) => tr.append(element("td", "", value)));
    const body = $("recent").tBodies[0];
    body.prepend(tr);
    while (body.rows.length > RECENT_ROWS) body.deleteRow(-1);
    return tr;
  }

  // Server-Timing: "lookup;dur=2.1, synthesize;dur=840.0, ..." -> "lookup 2 ms · ...".
  function timingsOf(header) {
    if (!header) return "-";
    return header.split(",").map((part) => {
      const [name, ...params] = part.trim().split(";");
      const duration = params.map((p) => p.trim()).find((p) => p.startsWith("dur="));
      return duration ? `${name} ${Math.round(Number(duration.slice(4)))} ms` : name;
    }).join(" · ");
  }

  function blobOf(base64, type) {
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return new Blob([bytes], { type });
  }

  // The words of the audio playing, from its word marks; the one being spoken is the
  // last whose time (ms) is not after the audio's current time.
  function showWords(marks) {
    $("speak-words").replaceChildren(...marks.map((mark) => {
      const word = element("span", "word", mark.value);
      word.dataset.time = String(mark.time);
      return word;
    }));
    highlight();
  }

  function highlight() {
    const now = $("speak-audio").currentTime * 1000;
    let current = null;
    for (const word of $("speak-words").children) {
      if (Number(word.dataset.time) <= now) current = word;
      word.classList.remove("current");
    }
    if (current) current.classList.add("current");
  }

  function follow() {
    highlight();
    if (!$("speak-audio").paused) requestAnimationFrame(follow);
  }

  async function speak(event) {
    event.preventDefault();
    const button = $("speak-submit");
    const request = {
      model: "tts-1",
      input: $("speak-text").value,
      voice: $("speak-voice").value,
      response_format: $("speak-format").value,
      // voxflow's own fields (docs/api.md): SSML, and the word marks to highlight.
      voxflow_text_type: $("speak-ssml").checked ? "ssml" : "text",
      voxflow_marks: ["word"],
    };
    const speed = $("speak-speed").value.trim();
    // A number goes as a number; anything else as typed, for the API to refuse.
    if (speed) request.speed = Number.isNaN(Number(speed)) ? speed : Number(speed);
    show("speak-error", "");
    $("speak-status").textContent = "speaking…";
    button.disabled = true;
    const started = performance.now();
    const row = {
      time: new Date().toLocaleTimeString(), voice: request.voice, format: request.response_format,
      status: "", cache: "-", latency: "", bytes: "-", audio: "-", timings: "-",
    };
    showWords([]);
    try {
      const response = await call("v1/audio/speech", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(request),
      });
      row.status = String(response.status);
      row.cache = response.headers.get("x-voxflow-cache") || "-";
      row.timings = timingsOf(response.headers.get("server-timing"));
      if (!response.ok) {
        row.latency = `${Math.round(performance.now() - started)} ms`;
        record(row);
        show("speak-error", await errorOf(response));
        $("speak-status").textContent = "";
        return;
      }
      const answer = await response.json();
      const blob = blobOf(answer.audio_b64, answer.content_type);
      row.latency = `${Math.round(performance.now() - started)} ms`;
      row.bytes = String(blob.size);
      const tr = record(row);
      const audio = $("speak-audio");
      if (audioUrl) URL.revokeObjectURL(audioUrl);
      audioUrl = URL.createObjectURL(blob);
      audio.dataset.bytes = String(blob.size);
      audio.dataset.cache = row.cache;
      audio.addEventListener("loadedmetadata", () => {
        tr.cells[7].textContent = `${audio.duration.toFixed(2)} s`;
      }, { once: true });
      audio.src = audioUrl;
      showWords((answer.marks || []).filter((mark) => mark.type === "word"));
      $("speak-status").textContent = `${row.latency}, cache ${row.cache}, ${blob.size} bytes; server: ${row.timings}`;
      audio.play().catch(() => { /* autoplay may be refused; the controls remain */ });
    } catch (error) {
      show("speak-error", "speak: " + error.message);
      $("speak-status").textContent = "";
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", useKey);
    $("speak-form").addEventListener("submit", speak);
    const audio = $("speak-audio");
    ["timeupdate", "seeked", "emptied"].forEach((name) => audio.addEventListener(name, highlight));
    audio.addEventListener("play", () => requestAnimationFrame(follow));
    if (apiKey()) useKey();
  });
})();
