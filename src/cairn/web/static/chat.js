/* The chat page: ask, stream the answer, cite, open sources, give feedback. */
(function () {
  "use strict";
  const C = window.Cairn;
  const { el, clear, icon, ICONS } = C;

  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const button = document.getElementById("ask-button");
  const turns = document.getElementById("turns");
  const intro = document.getElementById("intro");

  let active = null; // {controller} while an answer streams
  // The conversation so far (OpenAI chat messages): a follow-up question is answered in
  // its context (the server rewrites it into a standalone query).
  const conversation = [];
  const MAX_MESSAGES = 40;

  /* The chat completion stream, as the events the page renders: `token` for each piece of
     text, then `done` with cairn's extension (citations, trace, degraded), or `error`. */
  function chatEvents(data, handle) {
    if (data === "[DONE]" || data === null || typeof data !== "object") return;
    if (data.error) {
      handle("error", data);
      return;
    }
    if (data.object === "chat.completion") {
      handle("done", doneOf(data));
      return;
    }
    const choice = (data.choices || [])[0] || {};
    const delta = choice.delta || {};
    if (typeof delta.content === "string" && delta.content) handle("token", { text: delta.content });
    if (choice.finish_reason && data.cairn) handle("done", doneOf(data));
  }

  function doneOf(data) {
    const done = Object.assign({}, data.cairn);
    const usage = data.usage || {};
    done.usage = done.usage_estimated ? {} : { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens };
    return done;
  }

  /* ---------- Answer text with [n] markers ---------- */

  const INLINE = /(\[\d+(?:\s*,\s*\d+)*\]|`[^`\n]+`|\*\*[^*\n]+\*\*)/g;

  function inline(text, turn) {
    const out = [];
    let last = 0;
    for (const match of text.matchAll(INLINE)) {
      if (match.index > last) out.push(text.slice(last, match.index));
      const token = match[0];
      if (token.startsWith("[")) {
        for (const n of token.slice(1, -1).split(",")) out.push(marker(Number(n.trim()), turn));
      } else if (token.startsWith("`")) {
        out.push(el("code", { text: token.slice(1, -1) }));
      } else {
        out.push(el("strong", { text: token.slice(2, -2) }));
      }
      last = match.index + token.length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function marker(n, turn) {
    const citation = turn.citations.get(n);
    if (!citation) {
      return el("span", { class: "cite", "aria-label": `citation ${n}`, dataset: { n: String(n) }, text: String(n) });
    }
    const bad = citation.verified === false;
    return el("button", {
      type: "button",
      class: `cite${bad ? " cite-bad" : ""}`,
      dataset: { n: String(n) },
      "aria-label": `Source ${n}: ${citation.source || "source"}${bad ? " (not verified)" : ""}`,
      "aria-expanded": "false",
      "aria-controls": "source-panel",
      title: citation.section ? `${citation.source} — ${citation.section}` : citation.source,
      text: String(n),
      on: { click: (event) => C.panel.open(citation, event.currentTarget) },
    });
  }

  function renderText(turn) {
    const node = clear(turn.textNode);
    const text = turn.text.replace(/\r\n/g, "\n");
    const blocks = text.split(/\n{2,}/);
    for (const block of blocks) {
      if (!block.trim()) continue;
      const lines = block.split("\n");
      const bullet = /^\s*(?:[-*•]|\d+[.)])\s+/;
      if (lines.length > 1 && lines.every((l) => bullet.test(l) || !l.trim())) {
        const ordered = /^\s*\d/.test(lines[0]);
        const list = el(ordered ? "ol" : "ul");
        for (const l of lines) if (l.trim()) list.append(el("li", null, inline(l.replace(bullet, ""), turn)));
        node.append(list);
      } else {
        const p = el("p");
        lines.forEach((l, i) => {
          if (i) p.append(el("br"));
          p.append(...inline(l, turn));
        });
        node.append(p);
      }
    }
    if (!node.firstChild) node.append(el("p"));
  }

  function scheduleRender(turn) {
    if (turn.pending) return;
    turn.pending = true;
    requestAnimationFrame(() => {
      turn.pending = false;
      const stick = nearBottom();
      renderText(turn);
      if (stick) scrollToEnd();
    });
  }

  /* ---------- Sources, meta, feedback ---------- */

  function renderSources(turn) {
    const list = [...turn.citations.values()].sort((a, b) => a.n - b.n);
    turn.sourcesNode.hidden = list.length === 0;
    const ol = clear(turn.sourcesList);
    for (const c of list) {
      const item = el(
        "button",
        {
          type: "button",
          class: "source-item",
          "aria-label": `Open source ${c.n}: ${c.source}`,
          "aria-controls": "source-panel",
          on: { click: (event) => C.panel.open(c, event.currentTarget) },
        },
        el("span", { class: "source-n", text: `[${c.n}]` }),
        el("span", { class: "source-name" }, el("strong", { text: c.source || c.chunk_id }), el("span", { text: c.section || " " })),
        C.verificationPills(c.verified, c.support)[0] || "",
        C.riskPills(c.risk)[0] || "",
      );
      ol.append(el("li", null, item));
    }
  }

  function setCitations(turn, citations) {
    for (const c of citations || []) {
      if (c && typeof c.n === "number") turn.citations.set(c.n, Object.assign({}, turn.citations.get(c.n), c));
    }
  }

  function renderMeta(turn, done) {
    const meta = clear(turn.metaNode);
    const parts = [];
    if (C.num(done.latency_ms) !== null) parts.push(el("span", { title: "Total time", text: C.fmtMs(done.latency_ms) }));
    if (turn.firstTokenMs !== null && !(turn.firstTokenMs >= (C.num(done.latency_ms) ?? Infinity))) parts.push(el("span", { title: "Time to first token", text: `first token ${C.fmtMs(turn.firstTokenMs)}` }));
    if (C.num(done.cost_usd) !== null) parts.push(el("span", { title: "Model cost of this answer", text: C.fmtUsd(done.cost_usd) }));
    const usage = done.usage || {};
    if (C.num(usage.input_tokens) !== null && (usage.input_tokens || usage.output_tokens)) {
      parts.push(el("span", { title: "Tokens in / out", text: `${C.fmtInt(usage.input_tokens)} → ${C.fmtInt(usage.output_tokens)} tokens` }));
    }
    if (done.trace_id) {
      parts.push(el("a", { href: `/traces/${encodeURIComponent(done.trace_id)}`, class: "trace-link", text: "View trace →" }));
    }
    meta.append(...parts);
  }

  function renderFeedback(turn, traceId) {
    const box = clear(turn.feedbackNode);
    if (!traceId) return;
    const send = async (rating, comment) => {
      const payload = { trace_id: traceId, rating };
      if (comment) payload.comment = comment;
      await C.request("/v1/feedback", { json: payload });
    };
    const thumbs = el("div", { class: "feedback", role: "group", "aria-label": "Was this answer helpful?" });
    const extra = el("div", { class: "feedback-extra" });
    const choose = async (rating, btn) => {
      for (const b of thumbs.querySelectorAll(".thumb")) b.setAttribute("aria-pressed", String(b === btn));
      try {
        await send(rating);
      } catch (err) {
        btn.setAttribute("aria-pressed", "false");
        C.toast(`Feedback not saved: ${err.message}`, "bad");
        return;
      }
      const commentInput = el("input", {
        class: "input input-sm feedback-comment",
        type: "text",
        maxlength: "2000",
        placeholder: rating === "up" ? "What was good? (optional)" : "What went wrong? (optional)",
        "aria-label": "Feedback comment (optional)",
      });
      const fbForm = el(
        "form",
        {
          class: "feedback-form",
          on: {
            submit: async (event) => {
              event.preventDefault();
              const comment = commentInput.value.trim();
              if (!comment) return;
              try {
                await send(rating, comment);
                clear(extra).append(el("p", { class: "feedback-note", role: "status", text: "Thanks — your comment was sent with this answer's trace." }));
              } catch (err) {
                C.toast(`Comment not saved: ${err.message}`, "bad");
              }
            },
          },
        },
        commentInput,
        el("button", { type: "submit", class: "btn btn-secondary btn-sm", text: "Send" }),
      );
      clear(extra).append(el("p", { class: "feedback-note", role: "status", text: "Thanks for the feedback." }), fbForm);
      commentInput.focus();
    };
    for (const [rating, label] of [["up", "Good answer"], ["down", "Bad answer"]]) {
      const btn = el("button", {
        type: "button", class: "icon-btn thumb", "aria-label": label, "aria-pressed": "false",
        title: label, dataset: { rating },
        on: { click: (event) => choose(rating, event.currentTarget) },
      }, icon(ICONS[rating]));
      thumbs.append(btn);
    }
    box.append(thumbs);
    turn.answerNode.append(extra);
  }

  /* ---------- A turn ---------- */

  function newTurn(question) {
    const turn = {
      text: "",
      citations: new Map(),
      pending: false,
      firstTokenMs: null,
      started: performance.now(),
    };
    turn.textNode = el("div", { class: "answer-text" });
    turn.statusNode = el("p", { class: "answer-status" }, el("span", { class: "loading", text: "Searching your documents" }));
    turn.sourcesList = el("ol", { class: "source-list" });
    turn.sourcesNode = el("div", { class: "sources", hidden: true }, el("h3", { class: "sources-title", text: "Sources" }), turn.sourcesList);
    turn.metaNode = el("div", { class: "meta" });
    turn.feedbackNode = el("div");
    turn.footNode = el("div", { class: "answer-foot", hidden: true }, turn.metaNode, turn.feedbackNode);
    turn.answerNode = el(
      "article",
      { class: "answer", dataset: { state: "waiting" }, "aria-busy": "true", "aria-label": "Answer" },
      turn.statusNode, turn.textNode, turn.sourcesNode, turn.footNode,
    );
    turn.node = el("li", { class: "turn" }, el("div", { class: "question", text: question }), turn.answerNode);
    turns.append(turn.node);
    return turn;
  }

  function setState(turn, state) {
    turn.answerNode.dataset.state = state;
    turn.answerNode.setAttribute("aria-busy", String(state === "waiting" || state === "streaming"));
    if (state !== "waiting") turn.statusNode.hidden = true;
  }

  function fail(turn, err) {
    setState(turn, "error");
    turn.statusNode.hidden = true;
    const type = err.type && err.type !== "error" ? ` (${err.type})` : "";
    turn.answerNode.append(C.errorBox({ message: `${err.message}${type}` }, "Could not answer."));
  }

  const DEGRADED = {
    unavailable: "The language model is unavailable",
    circuit_open: "The language model is unavailable (paused after repeated failures)",
    budget_exhausted: "The model budget is spent",
    rate_limited: "The language model is rate-limited",
  };

  function showDegraded(turn, degraded) {
    if (!degraded || turn.degradedNode) return;
    const why = DEGRADED[degraded.reason] || "The language model could not answer";
    turn.degradedNode = el(
      "div",
      { class: "degraded-banner", role: "status", dataset: { reason: String(degraded.reason || "") }, title: degraded.detail || "" },
      el("strong", { text: `${why}.` }),
      el("span", { text: " This answer is quoted directly from your documents, without the model." }),
    );
    turn.answerNode.insertBefore(turn.degradedNode, turn.textNode);
  }

  /* A request a guard blocked: a refusal that says so, with the guard's reason code. */
  const REFUSED = {
    input: "Blocked: the question looks like an attempt to override the assistant's instructions",
    context: "Blocked: the passages found look like planted instructions",
    output: "Withheld: the answer would have revealed the assistant's instructions or a secret",
  };

  function showRefused(turn, done) {
    const reason = String(done.reason || "");
    const stage = reason.split(":")[0];
    turn.answerNode.classList.add("refused");
    turn.answerNode.dataset.refused = "true";
    turn.answerNode.dataset.reason = reason;
    turn.answerNode.insertBefore(
      el(
        "div",
        { class: "refused-banner", role: "status" },
        el("span", { class: "pill pill-bad refused-pill", text: "Blocked by guard" }),
        el("span", { class: "refused-why", text: ` ${REFUSED[stage] || "Blocked by a guardrail"}.` }),
        reason ? el("code", { class: "refused-code", title: "The guard's reason code (also in the trace)", text: reason }) : "",
      ),
      turn.textNode,
    );
  }

  /* A request let through but marked (guard.* = flag): a quieter note with the reason. */
  function showFlagged(turn, done) {
    const guard = done.guard || {};
    const stages = ["input", "context", "output"].filter((s) => guard[s] === "flagged");
    if (!stages.length) return;
    turn.answerNode.dataset.flagged = stages.join(" ");
    turn.answerNode.insertBefore(
      el(
        "div",
        { class: "flagged-note", role: "note" },
        el("span", { class: "pill pill-warn", text: `Flagged: ${stages.join(", ")}` }),
        done.reason ? el("code", { class: "refused-code", text: String(done.reason) }) : "",
      ),
      turn.textNode,
    );
  }

  async function ask(question) {
    if (active) return;
    intro.hidden = true;
    const turn = newTurn(question);
    scrollToEnd();
    const controller = new AbortController();
    active = { controller, turn };
    setBusy(true);
    let finished = false;
    try {
      const messages = conversation.slice(-MAX_MESSAGES).concat([{ role: "user", content: question }]);
      await C.stream(
        "/v1/chat/completions",
        { model: "cairn", stream: true, messages },
        (raw, payload) => chatEvents(payload, (event, data) => {
          if (event === "degraded") {
            showDegraded(turn, data);
          } else if (event === "token") {
            if (turn.firstTokenMs === null) turn.firstTokenMs = performance.now() - turn.started;
            if (turn.answerNode.dataset.state === "waiting") setState(turn, "streaming");
            turn.text += data && typeof data.text === "string" ? data.text : "";
            scheduleRender(turn);
          } else if (event === "citation") {
            setCitations(turn, [data]);
            renderSources(turn);
            scheduleRender(turn);
          } else if (event === "verification" || event === "verified") {
            setCitations(turn, data && data.citations);
            renderSources(turn);
            scheduleRender(turn);
          } else if (event === "done") {
            finished = true;
            const done = data || {};
            turn.text = typeof done.answer === "string" ? done.answer : turn.text;
            turn.citations = new Map();
            setCitations(turn, done.citations);
            setState(turn, "done");
            showDegraded(turn, done.degraded);
            if (done.refused) {
              showRefused(turn, done);
            } else if (done.abstained) {
              turn.answerNode.classList.add("abstained");
              turn.answerNode.insertBefore(
                el("span", { class: "pill pill-warn abstain-note", text: "Not found in your documents" }),
                turn.textNode,
              );
            }
            if (!done.refused) showFlagged(turn, done);
            const stick = nearBottom();
            renderText(turn);
            renderSources(turn);
            renderMeta(turn, done);
            renderFeedback(turn, done.trace_id);
            turn.footNode.hidden = false;
            turn.answerNode.dataset.traceId = done.trace_id || "";
            turn.answerNode.dataset.query = done.query || "";
            if (done.rewritten && done.query) turn.answerNode.title = `Searched for: ${done.query}`;
            // A refused question never joins the history a follow-up is read in (as on the server).
            if (!done.refused) conversation.push({ role: "user", content: question }, { role: "assistant", content: turn.text });
            if (stick) scrollToEnd();
          } else if (event === "error") {
            finished = true;
            const error = (data && data.error) || data || {};
            fail(turn, { message: error.message || String(error), type: error.type });
          }
        }),
        controller.signal,
      );
      if (!finished) fail(turn, { message: "The answer stream ended before the answer was complete." });
    } catch (err) {
      if (err && err.name === "AbortError") {
        setState(turn, "stopped");
        renderText(turn);
        turn.answerNode.append(el("p", { class: "feedback-note", text: "Stopped." }));
      } else {
        fail(turn, err);
      }
    } finally {
      active = null;
      setBusy(false);
    }
  }

  /* ---------- Composer ---------- */

  function setBusy(busy) {
    clear(button).append(icon(busy ? ICONS.stop : ICONS.send));
    button.setAttribute("aria-label", busy ? "Stop answering" : "Ask");
    button.classList.toggle("is-busy", busy);
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
  }

  function scrollToEnd() {
    window.scrollTo({ top: document.documentElement.scrollHeight });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (active) {
      active.controller.abort();
      return;
    }
    const question = input.value.trim();
    if (!question) {
      input.focus();
      return;
    }
    input.value = "";
    autosize();
    ask(question);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!active) form.requestSubmit();
    }
  });
  input.addEventListener("input", autosize);

  /* ---------- Intro: what the workspace holds ---------- */

  async function loadIntro() {
    try {
      const docs = C.listOf(await C.request("/v1/documents"), "documents");
      const sub = document.getElementById("intro-sub");
      const chunks = docs.reduce((sum, d) => sum + (C.num(d.chunks) || 0), 0);
      const line = el("p", { class: "intro-stats" });
      if (docs.length) {
        line.append(
          `${C.pluralise(docs.length, "document")} · ${C.pluralise(chunks, "passage")} ready · `,
          el("a", { href: "/documents", text: "Manage documents" }),
        );
      } else {
        line.append("No documents yet. ", el("a", { href: "/documents", text: "Add some" }), " to get started.");
      }
      sub.after(line);
    } catch (_) {
      /* the intro is a nicety; the ask box still works */
    }
  }

  loadIntro();
  const preset = new URLSearchParams(location.search).get("q");
  if (preset) ask(preset);
  else input.focus();
})();
