/* cairn web UI: shared helpers (API client, SSE over POST, formatting, DOM, source panel).
   Plain ES2020, no build step, no dependencies. Pages use `window.Cairn`. */
(function () {
  "use strict";

  const KEY_STORAGE = "cairn.apiKey";
  const body = document.body;

  /* ---------- DOM ---------- */

  /** el("a", {class: "x", href: "/", text: "hi", on: {click: fn}}, child, "text", ...) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "on") {
        for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
      } else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name === "style") Object.assign(node.style, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  /** Replace the children of `node` (null, undefined and false children are skipped). */
  function fill(node, ...children) {
    append(clear(node), children);
    return node;
  }

  function icon(paths, cls) {
    const node = svg("svg", { viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false", class: cls });
    for (const d of [].concat(paths)) node.append(svg("path", { d }));
    return node;
  }

  const ICONS = {
    up: "M7 10v10H4V10h3zm0 0l4-7a2 2 0 0 1 2 2v4h5.5a2 2 0 0 1 2 2.3l-1.3 7A2 2 0 0 1 17.2 20H7",
    down: "M7 14V4H4v10h3zm0 0l4 7a2 2 0 0 0 2-2v-4h5.5a2 2 0 0 0 2-2.3l-1.3-7A2 2 0 0 0 17.2 4H7",
    send: "M5 12h13M13 6l6 6-6 6",
    stop: "M7 7h10v10H7z",
    chevron: "M9 6l6 6-6 6",
    external: "M14 4h6v6M20 4l-9 9M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5",
  };

  /* ---------- Formatting ---------- */

  const num = (value) => (typeof value === "number" && Number.isFinite(value) ? value : null);

  function fmtInt(value) {
    const n = num(value);
    return n === null ? "–" : Math.round(n).toLocaleString("en-US");
  }

  function fmtMs(value) {
    const n = num(value);
    if (n === null) return "–";
    if (n === 0) return "0 ms";
    if (n < 1) return `${n.toFixed(2)} ms`;
    if (n < 1000) return `${Math.round(n)} ms`;
    if (n < 60000) return `${(n / 1000).toFixed(n < 10000 ? 2 : 1)} s`;
    return `${Math.floor(n / 60000)} min ${Math.round((n % 60000) / 1000)} s`;
  }

  function fmtUsd(value) {
    const n = num(typeof value === "string" ? Number(value) : value);
    if (n === null) return "–";
    if (n === 0) return "$0";
    const abs = Math.abs(n);
    if (abs < 0.01) return `$${n.toPrecision(2).replace(/0+$/, "").replace(/\.$/, "")}`;
    if (abs < 100) return `$${n.toFixed(abs < 1 ? 4 : 2).replace(/(\.\d\d\d*?)0+$/, "$1")}`;
    return `$${n.toLocaleString("en-US", { maximumFractionDigits: 0 })}`;
  }

  function fmtScore(value) {
    const n = num(value);
    return n === null ? "–" : n.toFixed(Math.abs(n) >= 10 ? 1 : 2);
  }

  function parseTime(value) {
    if (value === null || value === undefined || value === "") return null;
    if (typeof value === "number") return new Date(value < 1e12 ? value * 1000 : value);
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  function fmtTime(value) {
    const date = parseTime(value);
    if (!date) return value ? String(value) : "–";
    return date.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  function fmtAgo(value) {
    const date = parseTime(value);
    if (!date) return value ? String(value) : "–";
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (seconds < 5) return "just now";
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    if (seconds < 86400 * 7) return `${Math.floor(seconds / 86400)} d ago`;
    return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  }

  function timeEl(value, relative) {
    const date = parseTime(value);
    return el("time", {
      datetime: date ? date.toISOString() : undefined,
      title: date ? fmtTime(value) : undefined,
      text: relative ? fmtAgo(value) : fmtTime(value),
    });
  }

  function pluralise(n, one, many) {
    return `${fmtInt(n)} ${n === 1 ? one : many || one + "s"}`;
  }

  /** A list from a response that may be a bare array or wrap one under a common key. */
  function listOf(data, ...keys) {
    if (Array.isArray(data)) return data;
    if (data && typeof data === "object") {
      for (const key of [...keys, "items", "data", "results"]) {
        if (Array.isArray(data[key])) return data[key];
      }
    }
    return [];
  }

  /* ---------- API ---------- */

  class ApiError extends Error {
    constructor(status, type, message, detail) {
      super(message || `Request failed (${status})`);
      this.status = status;
      this.type = type || "error";
      this.detail = detail;
    }
  }

  function getKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || "";
    } catch (_) {
      return "";
    }
  }

  function setKey(key) {
    try {
      if (key) localStorage.setItem(KEY_STORAGE, key);
      else localStorage.removeItem(KEY_STORAGE);
    } catch (_) {
      /* storage disabled: the key lives for this page only */
    }
    updateKeyButton();
  }

  async function errorFrom(response) {
    let payload = null;
    try {
      payload = await response.json();
    } catch (_) {
      /* not JSON */
    }
    const error = payload && (payload.error || payload);
    if (error && typeof error === "object") {
      let message = error.message;
      if (!message && typeof error.detail === "string") message = error.detail;
      if (!message && Array.isArray(error.detail)) {
        message = error.detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
      }
      return new ApiError(response.status, error.type, message || response.statusText, error.detail);
    }
    return new ApiError(response.status, "http_error", `${response.status} ${response.statusText}`);
  }

  /**
   * request(path, {method, json, body, signal, raw, headers}) -> parsed JSON (or the Response
   * with raw: true). A 401 asks for an API key and retries, until a key is accepted or the
   * person closes the dialog.
   */
  async function request(path, options = {}) {
    for (;;) {
      const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
      const key = getKey();
      if (key) headers.Authorization = `Bearer ${key}`;
      const init = { method: options.method || "GET", headers, signal: options.signal, credentials: "same-origin" };
      if (options.json !== undefined) {
        init.method = options.method || "POST";
        init.body = JSON.stringify(options.json);
        headers["Content-Type"] = "application/json";
      } else if (options.body !== undefined) {
        init.method = options.method || "POST";
        init.body = options.body;
      }
      let response;
      try {
        response = await fetch(path, init);
      } catch (err) {
        if (err && err.name === "AbortError") throw err;
        throw new ApiError(0, "network_error", "Cannot reach the cairn server. Is `cairn serve` running?");
      }
      if (response.status === 401) {
        if (key && getKey() === key) setKey("");
        // Another request may have stored a new key meanwhile: retry with it first.
        if (!getKey()) await askForKey(key ? "That key was not accepted. Check it and try again." : "");
        continue;
      }
      if (!response.ok) throw await errorFrom(response);
      if (options.raw) return response;
      if (response.status === 204) return null;
      const text = await response.text();
      if (!text) return null;
      try {
        return JSON.parse(text);
      } catch (_) {
        throw new ApiError(response.status, "bad_response", "The server sent a response that is not JSON.");
      }
    }
  }

  /**
   * POST `json` to `path` and read Server-Sent Events from the response body.
   * onEvent(name, data) is called for every event (data parsed as JSON when it is JSON).
   */
  async function stream(path, json, onEvent, signal) {
    const response = await request(path, {
      json, signal, raw: true, headers: { Accept: "text/event-stream" },
    });
    const type = response.headers.get("content-type") || "";
    if (!type.includes("text/event-stream")) {
      onEvent("done", await response.json()); // a server that answered in one piece
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let eventName = "message";
    let data = [];
    const dispatch = () => {
      if (data.length) {
        const raw = data.join("\n");
        let payload = raw;
        try {
          payload = JSON.parse(raw);
        } catch (_) {
          /* plain text data */
        }
        onEvent(eventName, payload);
      }
      eventName = "message";
      data = [];
    };
    const line = (text) => {
      if (text === "") return dispatch();
      if (text.startsWith(":")) return undefined; // comment / keep-alive
      const colon = text.indexOf(":");
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") eventName = value || "message";
      else if (field === "data") data.push(value);
      return undefined;
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        for (;;) {
          const match = /\r\n|\r|\n/.exec(buffer);
          if (!match) break;
          // A lone \r at the end may be the first half of \r\n: wait for more.
          if (match[0] === "\r" && match.index === buffer.length - 1) break;
          line(buffer.slice(0, match.index));
          buffer = buffer.slice(match.index + match[0].length);
        }
      }
      buffer += decoder.decode();
      if (buffer) line(buffer.replace(/\r$/, ""));
      dispatch();
    } finally {
      reader.releaseLock();
    }
  }

  /* ---------- API key dialog ---------- */

  let keyPromise = null;

  function askForKey(message) {
    if (keyPromise) return keyPromise;
    const dialog = document.getElementById("key-dialog");
    const input = document.getElementById("key-input");
    const errorLine = document.getElementById("key-error");
    const form = document.getElementById("key-form");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.reject(new ApiError(401, "unauthorized", "An API key is required."));
    }
    keyPromise = new Promise((resolve, reject) => {
      errorLine.textContent = message || "";
      input.value = "";
      const forget = document.getElementById("key-forget");
      if (forget) forget.textContent = getKey() ? "Forget key" : "Cancel";
      const onSubmit = (event) => {
        event.preventDefault();
        const key = input.value.trim();
        if (!key) {
          errorLine.textContent = "Paste an API key.";
          return;
        }
        setKey(key);
        finish();
        dialog.close();
        resolve(key);
      };
      const onClose = () => {
        if (!keyPromise) return;
        finish();
        reject(new ApiError(401, "unauthorized", "This server needs an API key."));
      };
      const finish = () => {
        keyPromise = null;
        form.removeEventListener("submit", onSubmit);
        dialog.removeEventListener("close", onClose);
      };
      form.addEventListener("submit", onSubmit);
      dialog.addEventListener("close", onClose);
      if (!dialog.open) dialog.showModal();
      input.focus();
    });
    return keyPromise;
  }

  function updateKeyButton() {
    const button = document.getElementById("key-button");
    if (!button) return;
    const hasKey = Boolean(getKey());
    button.hidden = !(hasKey || body.dataset.auth === "keys");
    button.textContent = hasKey ? "Key ✓" : "Key";
  }

  function initKeyDialog() {
    const button = document.getElementById("key-button");
    const forget = document.getElementById("key-forget");
    const dialog = document.getElementById("key-dialog");
    updateKeyButton();
    if (button) {
      button.addEventListener("click", () => {
        askForKey(getKey() ? "A key is saved in this browser. Paste a new one to replace it." : "").then(
          () => toast("API key saved."),
          () => {},
        );
      });
    }
    if (forget) {
      forget.addEventListener("click", () => {
        const had = Boolean(getKey());
        setKey("");
        dialog.close();
        if (had) toast("API key forgotten.");
      });
    }
  }

  /* ---------- Toasts and errors ---------- */

  function toast(message, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const node = el("div", { class: `toast${kind === "bad" ? " toast-bad" : ""}`, text: message });
    box.append(node);
    setTimeout(() => node.remove(), kind === "bad" ? 6000 : 3200);
  }

  function errorBox(err, prefix) {
    const message = err && err.message ? err.message : String(err);
    return el(
      "div",
      { class: "error-box", role: "alert" },
      prefix ? el("strong", { text: `${prefix} ` }) : null,
      message,
    );
  }

  function empty(title, text, ...extra) {
    return el("div", { class: "empty" }, el("strong", { text: title }), text ? el("p", { text }) : null, ...extra);
  }

  /* ---------- Highlighting ---------- */

  /** Character ranges of `text` matching each part of `quote` (parts joined by " … "),
      ignoring case and differences in whitespace. */
  function quoteRanges(text, quote, terms) {
    const normChars = [];
    const map = [];
    for (let i = 0; i < text.length; i += 1) {
      const ch = text[i];
      if (/\s/.test(ch)) {
        if (normChars.length && normChars[normChars.length - 1] !== " ") {
          normChars.push(" ");
          map.push(i);
        }
      } else {
        const lower = ch.toLowerCase();
        normChars.push(lower.length === 1 ? lower : ch);
        map.push(i);
      }
    }
    const norm = normChars.join("");
    const ranges = [];
    const find = (needle, all) => {
      if (!needle) return false;
      let from = 0;
      let found = false;
      for (;;) {
        const at = norm.indexOf(needle, from);
        if (at < 0) break;
        ranges.push([map[at], map[at + needle.length - 1] + 1]);
        found = true;
        if (!all) break;
        from = at + needle.length;
      }
      return found;
    };
    let missing = 0;
    const parts = String(quote || "")
      .split(/\s*(?:…|\.\.\.)\s*/)
      .map((p) => p.replace(/\s+/g, " ").trim().toLowerCase())
      .filter((p) => p.length >= 2);
    for (const part of parts) {
      if (find(part, false)) continue;
      // Be lenient about punctuation at the edges of a quoted passage.
      const trimmed = part.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
      if (!(trimmed.length >= 2 && find(trimmed, false))) missing += 1;
    }
    for (const term of terms || []) {
      const t = term.toLowerCase();
      if (t.length >= 3) find(t, true);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const merged = [];
    for (const range of ranges) {
      const last = merged[merged.length - 1];
      if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
      else merged.push(range.slice());
    }
    return { ranges: merged, parts: parts.length, missing };
  }

  function highlighted(text, ranges) {
    const frag = document.createDocumentFragment();
    let at = 0;
    for (const [start, end] of ranges) {
      if (start > at) frag.append(text.slice(at, start));
      frag.append(el("mark", { text: text.slice(start, end) }));
      at = end;
    }
    if (at < text.length) frag.append(text.slice(at));
    return frag;
  }

  /* ---------- Source panel ---------- */

  const chunkCache = new Map();

  function fetchChunk(chunkId) {
    if (!chunkCache.has(chunkId)) {
      const promise = request(`/v1/chunks/${encodeURIComponent(chunkId)}`);
      promise.catch(() => chunkCache.delete(chunkId));
      chunkCache.set(chunkId, promise);
    }
    return chunkCache.get(chunkId);
  }

  function verificationPills(verified, support) {
    const pills = [];
    if (verified === true) pills.push(el("span", { class: "pill pill-ok", text: "✓ Verified" }));
    else if (verified === false) pills.push(el("span", { class: "pill pill-bad", text: "✗ Not verified" }));
    else if (verified !== undefined) pills.push(el("span", { class: "pill", text: "Not checked" }));
    if (num(support) !== null) {
      pills.push(el("span", { class: "pill", title: "How much of the sentence the cited passage supports", text: `Support ${fmtScore(support)}` }));
    }
    return pills;
  }

  /** A flagged source (risk: {score, flagged, reasons}) is never shown without a warning. */
  function riskPills(risk) {
    if (!risk || !risk.flagged) return [];
    const why = (risk.reasons || []).join(", ");
    return [el("span", {
      class: "pill pill-bad",
      title: `This passage may carry planted instructions (prompt injection)${why ? ": " + why : ""}`,
      text: "⚠ Possible prompt injection",
    })];
  }

  /** A request's guard decisions from its trace's root attributes (guard_input: "blocked",
      guard_input_reason: ...): a red pill for a stage that blocked, amber for one that flagged. */
  function guardPills(attributes) {
    const a = attributes || {};
    const pills = [];
    for (const stage of ["input", "context", "output"]) {
      const decision = a[`guard_${stage}`];
      if (decision !== "blocked" && decision !== "flagged") continue;
      const reason = a[`guard_${stage}_reason`];
      pills.push(el("span", {
        class: `pill guard-pill ${decision === "blocked" ? "pill-bad" : "pill-warn"}`,
        dataset: { stage, decision },
        title: reason ? `${stage} guard: ${reason}` : `${stage} guard`,
        text: `${decision === "blocked" ? "Blocked" : "Flagged"}: ${stage}`,
      }));
    }
    return pills;
  }

  const panel = {
    opener: null,
    token: 0,
    node: null,

    init() {
      this.node = document.getElementById("source-panel");
      if (!this.node) return;
      document.getElementById("source-close").addEventListener("click", () => this.close());
      document.getElementById("panel-scrim").addEventListener("click", () => this.close());
      document.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && this.isOpen()) {
          const dialog = document.getElementById("key-dialog");
          if (dialog && dialog.open) return;
          event.preventDefault();
          this.close();
        }
      });
    },

    isOpen() {
      return Boolean(this.node && !this.node.hidden);
    },

    /** source: {n?, chunk_id, source?, uri?, section?, quote?, verified?, support?, terms?} */
    async open(source, opener) {
      if (!this.node) return;
      const token = ++this.token;
      if (this.opener && this.opener !== opener) this.opener.setAttribute("aria-expanded", "false");
      this.opener = opener || null;
      if (this.opener) this.opener.setAttribute("aria-expanded", "true");
      const $ = (id) => document.getElementById(id);
      $("source-eyebrow").textContent = source.n ? `Source [${source.n}]` : "Source";
      $("source-title").textContent = source.source || source.title || "Source";
      $("source-section").textContent = source.section || "";
      clear($("source-meta")).append(
        ...verificationPills(source.verified, source.support), ...riskPills(source.risk));
      const bodyNode = clear($("source-body"));
      bodyNode.append(el("p", { class: "muted loading", text: "Loading the passage…" }));
      this.setLink(source.uri);
      this.node.hidden = false;
      $("panel-scrim").hidden = false;
      body.classList.add("panel-open");
      $("source-title").focus({ preventScroll: true });
      try {
        const chunk = await fetchChunk(source.chunk_id);
        if (token !== this.token) return;
        if (!source.source && chunk.source) $("source-title").textContent = chunk.title || chunk.source;
        if (!source.section && chunk.section) $("source-section").textContent = chunk.section;
        if (!source.uri) this.setLink(chunk.uri);
        const text = String(chunk.text || "");
        const found = quoteRanges(text, source.quote, source.terms);
        clear(bodyNode);
        if (source.quote && found.parts && found.missing === found.parts) {
          bodyNode.append(
            el("div", { class: "quote-missing" }, "The cited words were not found verbatim in this passage. Quoted: ",
              el("q", { text: source.quote })),
          );
        }
        const textNode = el("div", { class: "chunk-text", tabindex: "0", "aria-label": "Cited passage" });
        textNode.append(highlighted(text, found.ranges));
        bodyNode.append(textNode);
        const first = textNode.querySelector("mark");
        if (first) first.scrollIntoView({ block: "center" });
      } catch (err) {
        if (token !== this.token) return;
        clear(bodyNode).append(errorBox(err, "Could not load this passage."));
      }
    },

    setLink(uri) {
      const link = document.getElementById("source-link");
      const label = document.getElementById("source-uri");
      link.hidden = !uri;
      link.href = uri || "#";
      label.textContent = uri || "";
    },

    close() {
      if (!this.node || this.node.hidden) return;
      this.token += 1;
      this.node.hidden = true;
      document.getElementById("panel-scrim").hidden = true;
      body.classList.remove("panel-open");
      const opener = this.opener;
      this.opener = null;
      if (opener) {
        opener.setAttribute("aria-expanded", "false");
        if (document.contains(opener)) opener.focus();
      }
    },
  };

  /* ---------- Misc ---------- */

  function copyButton(text, label) {
    return el("button", {
      type: "button", class: "btn-ghost btn-sm", "aria-label": label || "Copy",
      text: "Copy",
      on: {
        click: async (event) => {
          try {
            await navigator.clipboard.writeText(text);
            event.currentTarget.textContent = "Copied";
          } catch (_) {
            toast("Copy failed: select the text instead.", "bad");
          }
        },
      },
    });
  }

  window.Cairn = {
    el, svg, clear, fill, icon, ICONS,
    fmtInt, fmtMs, fmtUsd, fmtScore, fmtTime, fmtAgo, timeEl, pluralise, num, listOf,
    ApiError, request, stream, getKey, setKey, askForKey,
    toast, errorBox, empty, quoteRanges, highlighted, verificationPills, riskPills, guardPills, panel, copyButton,
    page: body.dataset.page,
  };

  initKeyDialog();
  panel.init();
  if (body.dataset.auth === "keys" && !getKey()) {
    askForKey("").catch(() => {});
  }
})();
