/* The trace list: recent requests, filterable. */
(function () {
  "use strict";
  const C = window.Cairn;
  const { el, clear } = C;

  const listNode = document.getElementById("trace-list");
  const filterInput = document.getElementById("trace-filter");
  const refresh = document.getElementById("trace-refresh");
  let traces = [];

  const summaryOf = (t) => {
    const a = t.attributes || {};
    return a.question || a.query || a["http.route"] || a.path || "";
  };

  function statusNode(status) {
    const s = String(status || "unknown").toLowerCase();
    const cls = s === "ok" || s === "unset" ? "status-ok" : s === "error" ? "status-error" : "";
    return el("span", { class: `status ${cls}` }, el("span", { class: "status-dot", "aria-hidden": "true" }), s);
  }

  function render() {
    const query = filterInput.value.trim().toLowerCase();
    const shown = traces.filter((t) => !query ||
      `${t.trace_id} ${t.name} ${t.status} ${summaryOf(t)}`.toLowerCase().includes(query));
    clear(listNode);
    if (!traces.length) {
      listNode.append(C.empty("No traces yet", "Ask a question and its trace will appear here.",
        el("p", null, el("a", { href: "/", text: "Ask a question →" }))));
      return;
    }
    if (!shown.length) {
      listNode.append(C.empty("No match", `No trace matches “${filterInput.value.trim()}”.`));
      return;
    }
    const tbody = el("tbody");
    for (const t of shown) {
      const href = `/traces/${encodeURIComponent(t.trace_id)}`;
      const summary = summaryOf(t);
      const row = el("tr", { class: "row-link", dataset: { traceId: t.trace_id } },
        el("td", null,
          el("a", { class: "cell-main truncate", href, text: summary || t.name || t.trace_id }),
          el("div", { class: "cell-sub" },
            el("span", { class: "pill", text: t.name || "request" }), " ",
            ...C.guardPills(t.attributes).flatMap((pill) => [pill, " "]),
            el("span", { class: "mono", text: String(t.trace_id).slice(0, 12) }))),
        el("td", { class: "nowrap hide-sm" }, C.timeEl(t.started_at, true)),
        el("td", { class: "nowrap" }, statusNode(t.status)),
        el("td", { class: "num", text: C.fmtMs(t.duration_ms) }));
      row.addEventListener("click", (event) => {
        if (event.target.closest("a")) return;
        location.href = href;
      });
      tbody.append(row);
    }
    listNode.append(el("table", null,
      el("thead", null, el("tr", null,
        el("th", { scope: "col", text: "Request" }),
        el("th", { scope: "col", class: "hide-sm", text: "Started" }),
        el("th", { scope: "col", text: "Status" }),
        el("th", { scope: "col", class: "num", text: "Duration" }))),
      tbody));
  }

  async function load() {
    refresh.disabled = true;
    try {
      traces = C.listOf(await C.request("/v1/traces?limit=50"), "traces");
      render();
    } catch (err) {
      clear(listNode).append(el("div", { class: "card-pad" }, C.errorBox(err, "Could not load traces.")));
    } finally {
      refresh.disabled = false;
    }
  }

  filterInput.addEventListener("input", render);
  refresh.addEventListener("click", load);
  load();
})();
