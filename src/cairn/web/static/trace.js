/* One trace: a waterfall of its spans (offset by start, sized by duration, nested by parent);
   a span's attributes on selection. */
(function () {
  "use strict";
  const C = window.Cairn;
  const { el, clear } = C;

  const traceId = document.body.dataset.traceId;
  const waterfall = document.getElementById("waterfall");
  const detail = document.getElementById("span-detail");
  const summary = document.getElementById("trace-summary");

  function stat(label, value, note) {
    return el("div", { class: "stat" },
      el("div", { class: "stat-label", text: label }),
      el("div", { class: "stat-value", text: value }),
      note ? el("div", { class: "stat-note", text: note }) : null);
  }

  function statusPill(status) {
    const s = String(status || "unknown").toLowerCase();
    return el("span", { class: `pill ${s === "ok" || s === "unset" ? "pill-ok" : s === "error" ? "pill-bad" : ""}`, text: s });
  }

  function attrValue(value) {
    if (value === null || value === undefined) return el("span", { class: "muted", text: "null" });
    if (typeof value === "string") {
      return value.length > 140 || value.includes("\n") ? el("pre", { text: value }) : document.createTextNode(value);
    }
    if (typeof value === "number" || typeof value === "boolean") return el("span", { class: "mono", text: String(value) });
    return el("pre", { text: JSON.stringify(value, null, 2) });
  }

  function attrList(attributes) {
    const entries = Object.entries(attributes || {});
    if (!entries.length) return el("p", { class: "muted", text: "No attributes." });
    const dl = el("dl", { class: "attrs" });
    for (const [key, value] of entries) dl.append(el("dt", { text: key }), el("dd", null, attrValue(value)));
    return dl;
  }

  /** Spans in tree order (parents before children, siblings by start) with their depth. */
  function ordered(spans) {
    const byId = new Map(spans.map((s) => [s.span_id, s]));
    const children = new Map();
    const roots = [];
    for (const s of spans) {
      if (s.parent_id && byId.has(s.parent_id) && s.parent_id !== s.span_id) {
        if (!children.has(s.parent_id)) children.set(s.parent_id, []);
        children.get(s.parent_id).push(s);
      } else {
        roots.push(s);
      }
    }
    const byStart = (a, b) => (C.num(a.start_ms) || 0) - (C.num(b.start_ms) || 0);
    const out = [];
    const seen = new Set();
    const walk = (s, depth) => {
      if (seen.has(s.span_id)) return;
      seen.add(s.span_id);
      out.push({ span: s, depth });
      for (const c of (children.get(s.span_id) || []).sort(byStart)) walk(c, depth + 1);
    };
    for (const r of roots.sort(byStart)) walk(r, 0);
    return out;
  }

  function renderWaterfall(trace) {
    const spans = Array.isArray(trace.spans) ? trace.spans : [];
    clear(waterfall);
    if (!spans.length) {
      waterfall.append(C.empty("No spans", "This trace recorded no spans."));
      return;
    }
    const rows = ordered(spans);
    const base = Math.min(...spans.map((s) => C.num(s.start_ms) || 0));
    const end = Math.max(...spans.map((s) => (C.num(s.start_ms) || 0) + (C.num(s.duration_ms) || 0)));
    const total = Math.max(end - base, C.num(trace.duration_ms) || 0, 0.001);

    const ticks = el("div", { class: "wf-ticks", "aria-hidden": "true" });
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const tick = el("span", { class: "wf-tick", text: C.fmtMs(total * f) });
      tick.style.left = `${f * 100}%`;
      ticks.append(tick);
    }
    waterfall.append(el("div", { class: "wf-axis" }, el("span", { text: "Span" }), ticks));

    const list = el("div", { class: "wf-rows", role: "listbox", "aria-label": "Spans", "aria-orientation": "vertical" });
    const rowNodes = [];
    for (const { span, depth } of rows) {
      const start = (C.num(span.start_ms) || 0) - base;
      const duration = C.num(span.duration_ms) || 0;
      const left = (start / total) * 100;
      const width = Math.max((duration / total) * 100, 0.4);
      const failed = String(span.status || "").toLowerCase() === "error";
      const bar = el("span", { class: `wf-bar${failed ? " err" : ""}` });
      bar.style.left = `${left}%`;
      bar.style.width = `${width}%`;
      const dur = el("span", { class: "wf-dur", text: C.fmtMs(duration) });
      if (left + width < 78) dur.style.left = `calc(${left + width}% + 6px)`;
      else dur.style.right = `calc(${100 - left}% + 6px)`;
      const name = el("span", { class: "wf-name" },
        depth ? el("span", { class: "wf-guide", "aria-hidden": "true", text: "└" }) : null,
        el("span", { class: "wf-label", text: span.name || "span" }),
        failed ? el("span", { class: "pill pill-bad", text: "error" }) : null);
      name.style.paddingLeft = `${Math.max(0, depth - 1) * 16 + (depth ? 4 : 0)}px`;
      const row = el("div", {
        class: "wf-row", role: "option", tabindex: "-1", "aria-selected": "false",
        "aria-label": `${span.name}, starts at ${C.fmtMs(start)}, takes ${C.fmtMs(duration)}${failed ? ", failed" : ""}`,
        dataset: { spanId: span.span_id || "", name: span.name || "" },
      }, name, el("span", { class: "wf-track" }, bar, dur));
      row.addEventListener("click", () => select(rowNodes.indexOf(row), true));
      rowNodes.push(row);
      list.append(row);
    }
    list.addEventListener("keydown", (event) => {
      const current = rowNodes.findIndex((r) => r.getAttribute("aria-selected") === "true");
      let next = null;
      if (event.key === "ArrowDown") next = Math.min(rowNodes.length - 1, current + 1);
      else if (event.key === "ArrowUp") next = Math.max(0, current - 1);
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = rowNodes.length - 1;
      if (next !== null) {
        event.preventDefault();
        select(next, true);
      }
    });
    waterfall.append(list);

    function select(index, focus) {
      rowNodes.forEach((r, i) => {
        r.setAttribute("aria-selected", String(i === index));
        r.tabIndex = i === index ? 0 : -1;
      });
      if (focus) rowNodes[index].focus();
      const { span } = rows[index];
      clear(detail).append(
        el("div", { class: "span-head" },
          el("h3", { text: span.name || "span" }), statusPill(span.status),
          el("span", { class: "muted small", text: `starts ${C.fmtMs((C.num(span.start_ms) || 0) - base)} · takes ${C.fmtMs(span.duration_ms)}` }),
          el("span", { class: "muted small mono", text: span.span_id || "" })),
        attrList(span.attributes));
    }
    select(0, false);
  }

  function render(trace) {
    const a = trace.attributes || {};
    document.getElementById("trace-title").textContent = a.question || a.query || trace.name || "Trace";
    const sub = document.getElementById("trace-sub");
    clear(sub).append(el("span", { class: "pill", text: trace.name || "request" }), " started ", C.timeEl(trace.started_at, false));
    const guards = C.guardPills(a);
    if (guards.length) sub.append(" ", ...guards);
    const spans = Array.isArray(trace.spans) ? trace.spans : [];
    C.fill(summary,
      stat("Duration", C.fmtMs(trace.duration_ms)),
      stat("Status", String(trace.status || "unknown")),
      stat("Spans", C.fmtInt(spans.length)),
      C.num(a.cost_usd) !== null ? stat("Cost", C.fmtUsd(a.cost_usd)) : null,
    );
    renderWaterfall(trace);
  }

  async function load(attempt) {
    try {
      render(await C.request(`/v1/traces/${encodeURIComponent(traceId)}`));
    } catch (err) {
      if (err.status === 404 && attempt < 3) {
        // Traces are written when the request ends; a fresh one may be a moment away.
        setTimeout(() => load(attempt + 1), 700);
        return;
      }
      clear(waterfall).append(C.errorBox(err, err.status === 404 ? "No such trace." : "Could not load the trace."));
      document.getElementById("span-detail-card").hidden = true;
    }
  }

  load(0);
})();
