/* The costs page: totals, budget status, spend per day / feature / user / model as inline
   SVG bar charts. Reads /v1/costs/summary defensively (fields may be missing). */
(function () {
  "use strict";
  const C = window.Cairn;
  const { el, svg, clear } = C;

  const totalsNode = document.getElementById("costs-totals");
  const budgetNode = document.getElementById("budget");
  const refresh = document.getElementById("costs-refresh");

  const money = (row) => C.num(row && (row.cost_usd ?? row.spent_usd ?? row.usd)) ?? 0;
  const requests = (row) => C.num(row && (row.requests ?? row.count)) ?? 0;

  function stat(label, value, note) {
    return el("div", { class: "stat" },
      el("div", { class: "stat-label", text: label }),
      el("div", { class: "stat-value", text: value }),
      note ? el("div", { class: "stat-note", text: note }) : null);
  }

  function groupRows(data, name) {
    const raw = data[`by_${name}`] ?? (data.groups && data.groups[name]) ?? data[name];
    let rows = [];
    if (Array.isArray(raw)) rows = raw;
    else if (raw && typeof raw === "object") {
      rows = Object.entries(raw).map(([key, value]) =>
        typeof value === "object" && value ? Object.assign({ key }, value) : { key, cost_usd: value });
    }
    return rows.map((r) => ({
      label: r[name] ?? r.key ?? r.name ?? null,
      cost: money(r),
      requests: requests(r),
      refused: C.num(r.refused) ?? 0,
      tokensIn: C.num(r.input_tokens),
      tokensOut: C.num(r.output_tokens),
    }));
  }

  const describe = (r) => `${C.fmtUsd(r.cost)} · ${C.pluralise(r.requests, "request")}${r.refused ? ` · ${C.fmtInt(r.refused)} refused` : ""}`;
  const LABEL_FALLBACK = { user: "(no user)", tenant: "(no tenant)", feature: "(none)", model: "(unknown)", day: "(no day)", route: "(no router)" };

  /* ---------- Charts ---------- */

  function srTable(caption, rows, labelFallback) {
    return el("table", { class: "visually-hidden" },
      el("caption", { text: caption }),
      el("thead", null, el("tr", null, el("th", { text: "Key" }), el("th", { text: "Spend" }), el("th", { text: "Requests" }))),
      el("tbody", null, rows.map((r) => el("tr", null,
        el("td", { text: r.label ?? labelFallback }), el("td", { text: C.fmtUsd(r.cost) }), el("td", { text: C.fmtInt(r.requests) })))));
  }

  function dayChart(node, rows, metric) {
    clear(node);
    if (!rows.length) {
      node.append(C.empty("Nothing spent yet", "Spend appears here once questions are answered."));
      return;
    }
    const value = (r) => (metric === "requests" ? r.requests : r.cost);
    const fmt = metric === "requests" ? C.fmtInt : C.fmtUsd;
    const W = Math.max(300, Math.round(node.clientWidth || 720));
    const H = W < 500 ? 170 : 210;
    const pad = { l: 56, r: 8, t: 12, b: 26 };
    const max = Math.max(...rows.map(value), metric === "requests" ? 1 : 0.0001);
    const innerW = W - pad.l - pad.r;
    const innerH = H - pad.t - pad.b;
    const slot = innerW / rows.length;
    const barW = Math.max(2, Math.min(42, slot * 0.7));
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${metric === "requests" ? "Requests" : "Spend"} per day, ${rows.length} days` });
    for (const f of [0, 0.5, 1]) {
      const y = pad.t + innerH * (1 - f);
      chart.append(svg("line", { class: "grid", x1: pad.l, x2: W - pad.r, y1: y, y2: y }));
      chart.append(svg("text", { x: pad.l - 8, y: y + 4, "text-anchor": "end" }, fmt(max * f)));
    }
    const every = Math.ceil(rows.length / Math.max(2, Math.floor(innerW / 64)));
    rows.forEach((r, i) => {
      const h = Math.max(value(r) > 0 ? 2 : 0, (value(r) / max) * innerH);
      const x = pad.l + i * slot + (slot - barW) / 2;
      chart.append(svg("rect", { class: "bar", x, y: pad.t + innerH - h, width: barW, height: h, rx: 3 },
        svg("title", null, `${r.label}: ${describe(r)}`)));
      if (i % every === 0) {
        const label = String(r.label ?? "").replace(/^\d{4}-/, "");
        chart.append(svg("text", { x: x + barW / 2, y: H - 8, "text-anchor": "middle" }, label));
      }
    });
    node.append(chart, srTable("Spend per day", rows, "(no day)"));
  }

  function barList(node, rows, metric, fallback) {
    clear(node);
    if (!rows.length) {
      node.append(el("p", { class: "muted", text: "Nothing recorded yet." }));
      return;
    }
    const value = (r) => (metric === "requests" ? r.requests : r.cost);
    const sorted = rows.slice().sort((a, b) => value(b) - value(a));
    const top = sorted.slice(0, 8);
    if (sorted.length > 8) {
      const rest = sorted.slice(8);
      top.push({
        label: `Other (${rest.length})`,
        cost: rest.reduce((s, r) => s + r.cost, 0),
        requests: rest.reduce((s, r) => s + r.requests, 0),
        refused: rest.reduce((s, r) => s + r.refused, 0),
      });
    }
    const max = Math.max(...top.map(value), metric === "requests" ? 1 : 0.0001);
    const list = el("div", { class: "hbars" });
    for (const r of top) {
      const label = r.label ?? fallback;
      const fraction = Math.max(0, value(r) / max);
      const track = svg("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true" },
        svg("rect", { x: 0, y: 0, height: 10, rx: 0, width: Math.max(fraction > 0 ? 0.8 : 0, fraction * 100) }));
      list.append(el("div", { class: "hbar" },
        el("span", { class: "hbar-label", title: label, text: label }),
        el("span", { class: "hbar-track" }, track),
        el("span", { class: "hbar-value", text: metric === "requests" ? C.fmtInt(r.requests) : C.fmtUsd(r.cost), title: describe(r) })));
    }
    node.append(list);
  }

  /* ---------- Budget ---------- */

  function budgetItems(raw) {
    if (!raw) return [];
    if (Array.isArray(raw)) return raw;
    if (typeof raw === "object") {
      for (const key of ["limits", "items", "status"]) if (Array.isArray(raw[key])) return raw[key];
      return Object.entries(raw).map(([key, value]) =>
        value && typeof value === "object" ? Object.assign({ name: key }, value) : { name: key, value });
    }
    return [];
  }

  function renderBudget(data) {
    const raw = data.budget ?? data.budgets ?? data.limits ?? data.budget_status;
    const items = budgetItems(raw);
    clear(budgetNode);
    const rows = [];
    for (const item of items) {
      const label = (typeof item.limit === "string" ? item.limit : null) || item.name || item.label || item.setting || "limit";
      const limit = C.num(item.limit_usd ?? item.max_usd ?? (typeof item.limit === "number" ? item.limit : undefined));
      const spent = C.num(item.spent_usd ?? item.spent ?? item.used_usd ?? item.value);
      const reserved = C.num(item.reserved_usd);
      if (limit === null && spent === null) continue;
      rows.push({ label, limit, spent: spent ?? 0, reserved, item });
    }
    const perRequestOnly = raw && typeof raw === "object" && !Array.isArray(raw) && C.num(raw.request_usd) !== null;
    if (!rows.length && perRequestOnly) {
      budgetNode.append(el("p", { class: "muted" }, `No daily or monthly limits. Each request may reserve at most ${C.fmtUsd(raw.request_usd)}.`));
      return;
    }
    if (!rows.length) {
      budgetNode.append(el("p", { class: "muted" }, "No spending limits are set. Add them under ",
        el("code", { text: "[budget]" }), " in ", el("code", { text: "cairn.toml" }), " (see docs/costs.md)."));
      return;
    }
    const list = el("div", { class: "budget-list" });
    for (const r of rows) {
      const pct = r.limit ? Math.min(100, ((r.spent + (r.reserved || 0)) / r.limit) * 100) : 0;
      const level = pct >= 100 ? "bad" : pct >= 80 ? "warn" : "";
      const fill = el("div", { class: `meter-fill ${level}` });
      fill.style.width = `${pct}%`;
      const human = String(r.label).replace(/^budget\./, "").replace(/_usd$/, "").replace(/_/g, " ");
      const where = [r.item.scope, r.item.period].filter((v) => typeof v === "string" && v).join(" · ");
      list.append(el("div", { class: "budget-row", dataset: { limit: String(r.label) } },
        el("div", { class: "budget-row-head" },
          el("span", null, el("strong", { class: "budget-name", text: human[0].toUpperCase() + human.slice(1) }),
            where ? el("span", { class: "muted small", text: ` · ${where}` }) : null,
            r.item.setting ? el("code", { class: "small budget-setting", text: r.item.setting }) : null),
          el("span", { class: "mono small" },
            `${C.fmtUsd(r.spent)}${r.reserved ? ` + ${C.fmtUsd(r.reserved)} reserved` : ""}`,
            r.limit !== null ? ` of ${C.fmtUsd(r.limit)}` : "",
            level ? " " : "",
            level ? el("span", { class: `pill ${level === "bad" ? "pill-bad" : "pill-warn"}`, text: level === "bad" ? "limit reached" : `${Math.round(pct)}%` }) : null)),
        el("div", {
          class: "meter", role: "meter", "aria-label": `${human}: ${Math.round(pct)}% used`,
          "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(pct)),
        }, fill)));
    }
    budgetNode.append(list);
    const perRequest = raw && typeof raw === "object" && !Array.isArray(raw) ? C.num(raw.request_usd) : null;
    if (perRequest !== null) {
      budgetNode.append(el("p", { class: "muted small budget-note" }, `Each request may reserve at most ${C.fmtUsd(perRequest)} (`, el("code", { text: "budget.request_usd" }), ")."));
    }
  }

  /* ---------- Page ---------- */

  let data = null;
  let metric = "cost";

  function render() {
    const total = data.total || {};
    const flight = data.in_flight || {};
    C.fill(totalsNode,
      stat("Spend", C.fmtUsd(money(total)), data.since || data.until ? `${data.since || "start"} → ${data.until || "now"}` : "all time"),
      stat("Requests", C.fmtInt(requests(total)), total.refused ? `${C.fmtInt(total.refused)} refused by budget` : null),
      stat("Tokens in", C.fmtInt(total.input_tokens), C.num(total.cache_read_tokens) ? `${Math.round(100 * (C.num(total.cached_share) ?? 0))}% read from the prompt cache` : null),
      stat("Tokens out", C.fmtInt(total.output_tokens)),
      C.num(flight.requests) ? stat("In flight", C.fmtInt(flight.requests), `${C.fmtUsd(flight.reserved_usd)} reserved`) : null,
    );
    renderBudget(data);
    document.getElementById("day-title").textContent = metric === "requests" ? "Requests per day" : "Spend per day";
    const dayRows = groupRows(data, "day").sort((a, b) => String(a.label).localeCompare(String(b.label)));
    dayChart(document.getElementById("chart-day"), dayRows, metric);
    for (const name of ["feature", "model", "user", "tenant", "route"]) {
      const rows = groupRows(data, name);
      if (name === "tenant" || name === "route") {
        document.getElementById(`${name}-card`).hidden = !rows.some((r) => r.label !== null);
      }
      barList(document.getElementById(`chart-${name}`), rows, metric, LABEL_FALLBACK[name]);
    }
  }

  function metricSwitch(zeroSpend) {
    const group = el("div", { class: "segmented", role: "group", "aria-label": "Chart values" });
    for (const [key, label] of [["cost", "Spend"], ["requests", "Requests"]]) {
      group.append(el("button", {
        type: "button", class: "seg", "aria-pressed": String(metric === key), text: label,
        on: {
          click: () => {
            metric = key;
            for (const b of group.querySelectorAll(".seg")) b.setAttribute("aria-pressed", String(b.textContent === label));
            render();
          },
        },
      }));
    }
    const actions = refresh.parentElement;
    const old = actions.querySelector(".segmented");
    if (old) old.remove();
    actions.prepend(group);
    if (zeroSpend) actions.prepend(el("span", { class: "muted small", text: "No model spend yet: showing requests." }));
  }

  async function load() {
    refresh.disabled = true;
    try {
      data = (await C.request("/v1/costs/summary")) || {};
      const zeroSpend = !money(data.total || {});
      if (zeroSpend && requests(data.total || {})) metric = "requests";
      for (const note of refresh.parentElement.querySelectorAll(".muted")) note.remove();
      metricSwitch(zeroSpend && requests(data.total || {}) > 0);
      render();
    } catch (err) {
      clear(totalsNode).append(C.errorBox(err, "Could not load costs."));
    } finally {
      refresh.disabled = false;
    }
  }

  let resizeTimer = 0;
  let lastWidth = window.innerWidth;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (data && window.innerWidth !== lastWidth) render();
      lastWidth = window.innerWidth;
    }, 150);
  });
  refresh.addEventListener("click", load);
  load();
})();
