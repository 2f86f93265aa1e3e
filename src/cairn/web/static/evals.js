/* Evaluation runs: the list (scores with confidence intervals) and one run's drill-down
   (metrics, tags, failures, every case with its answer, retrieval and scores). */
(function () {
  "use strict";
  const C = window.Cairn;
  const { el, svg, clear } = C;
  const runId = document.body.dataset.runId;

  const PREFERRED = ["pass", "recall@5", "recall", "mrr", "ndcg@10", "groundedness", "citation_precision", "faithfulness", "correctness"];

  function metricsOf(run) {
    const raw = run.aggregates ?? run.metrics ?? run.scores ?? {};
    const out = {};
    if (Array.isArray(raw)) {
      for (const m of raw) if (m && (m.name || m.metric)) out[m.name || m.metric] = m;
    } else if (raw && typeof raw === "object") {
      for (const [name, value] of Object.entries(raw)) {
        out[name] = typeof value === "number" ? { mean: value } : value || {};
      }
    }
    return out;
  }

  function orderedNames(metrics) {
    const names = Object.keys(metrics);
    const rank = (n) => {
      const i = PREFERRED.indexOf(n);
      return i < 0 ? PREFERRED.length : i;
    };
    return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }

  /** "0.82 [0.75, 0.89]" with a small whisker plot (0..1 scale when the values fit it). */
  function ciNode(m) {
    const mean = C.num(m.mean ?? m.value);
    const low = C.num(m.low ?? m.ci_low ?? (Array.isArray(m.ci) ? m.ci[0] : undefined));
    const high = C.num(m.high ?? m.ci_high ?? (Array.isArray(m.ci) ? m.ci[1] : undefined));
    const wrap = el("span", { class: "ci" });
    if (mean === null) {
      wrap.append("–");
      return wrap;
    }
    const scale = Math.max(1, high ?? mean, mean);
    const x = (v) => 4 + (v / scale) * 88;
    const plot = svg("svg", { viewBox: "0 0 96 14", "aria-hidden": "true" },
      svg("line", { class: "ci-track", x1: 4, x2: 92, y1: 7, y2: 7 }));
    if (low !== null && high !== null) plot.append(svg("line", { class: "ci-range", x1: x(Math.max(0, low)), x2: x(high), y1: 7, y2: 7 }));
    plot.append(svg("circle", { class: "ci-mean", cx: x(Math.max(0, mean)), cy: 7, r: 4 }));
    const text = el("span", { class: "ci-text" }, el("b", { text: C.fmtScore(mean) }));
    if (low !== null && high !== null) text.append(" ", el("small", { text: `[${C.fmtScore(low)}, ${C.fmtScore(high)}]` }));
    wrap.append(plot, text);
    wrap.setAttribute("aria-label", low !== null && high !== null
      ? `${C.fmtScore(mean)}, 95% interval ${C.fmtScore(low)} to ${C.fmtScore(high)}` : C.fmtScore(mean));
    return wrap;
  }

  const caseCount = (run) => {
    if (Array.isArray(run.cases)) return run.cases.length;
    return C.num(run.cases ?? run.n_cases ?? run.case_count ?? run.num_cases);
  };

  function statusPill(status) {
    const s = String(status);
    const cls = s === "running" || s === "queued" ? "pill-accent" : s === "failed" ? "pill-bad" : "";
    return el("span", { class: `pill ${cls}`, text: s });
  }

  /* ---------- List ---------- */

  async function loadList() {
    const node = document.getElementById("run-list");
    let runs;
    try {
      runs = C.listOf(await C.request("/v1/evals/runs"), "runs");
    } catch (err) {
      clear(node).append(el("div", { class: "card-pad" }, C.errorBox(err, "Could not load runs.")));
      return;
    }
    clear(node);
    if (!runs.length) {
      node.append(C.empty("No runs yet", "Run the evaluation set to see scores here.",
        el("p", null, el("code", { text: "cairn eval run" }))));
      return;
    }
    const tbody = el("tbody");
    for (const run of runs) {
      const id = run.id ?? run.run_id;
      const metrics = metricsOf(run);
      const names = orderedNames(metrics).slice(0, 3);
      const href = `/evals/${encodeURIComponent(id)}`;
      const row = el("tr", { class: "row-link", dataset: { runId: id } },
        el("td", null,
          el("a", { class: "cell-main mono", href, text: id }),
          el("div", { class: "cell-sub" }, C.timeEl(run.created ?? run.created_at ?? run.started_at, false),
            run.status && run.status !== "done" ? [" ", statusPill(run.status)] : null)),
        el("td", { class: "num hide-sm", text: C.fmtInt(caseCount(run)) }),
        el("td", null, names.length
          ? el("div", { class: "metric-chips" }, names.map((n) => el("span", { class: "metric-chip" }, `${n} `, ciNode(metrics[n]))))
          : el("span", { class: "muted", text: "–" })));
      row.addEventListener("click", (event) => {
        if (!event.target.closest("a")) location.href = href;
      });
      tbody.append(row);
    }
    node.append(el("table", null,
      el("thead", null, el("tr", null,
        el("th", { scope: "col", text: "Run" }),
        el("th", { scope: "col", class: "num hide-sm", text: "Cases" }),
        el("th", { scope: "col", text: "Scores (95% CI)" }))),
      tbody));
  }

  /* ---------- One run ---------- */

  function stat(label, value, note) {
    return el("div", { class: "stat" },
      el("div", { class: "stat-label", text: label }),
      el("div", { class: "stat-value", text: value }),
      note ? el("div", { class: "stat-note", text: note }) : null);
  }

  const passed = (c) => {
    const s = c.scores && c.scores.pass;
    if (typeof c.passed === "boolean") return c.passed;
    if (s && typeof s === "object") return s.value === 1 || s.value === 1.0 ? true : s.value === null || s.value === undefined ? null : false;
    if (typeof s === "number") return s === 1;
    return c.failure ? false : null;
  };

  function sourceList(items, key) {
    const ol = el("ol", { class: "small" });
    for (const r of items) {
      const where = `${r.source || r.chunk_id || "?"}${r.anchor ? `#${r.anchor}` : ""}`;
      ol.append(el("li", null, el("span", { class: "mono", text: where }),
        key === "retrieved" && C.num(r.score) !== null ? el("span", { class: "muted", text: ` · ${C.fmtScore(r.score)}` }) : null,
        key === "cited" ? C.verificationPills(r.verified, r.support).map((p) => [" ", p]) : null));
    }
    return ol;
  }

  function caseDetail(c) {
    const out = c.output || {};
    const answer = out.answer || null;
    const box = el("div", { class: "case-detail" });
    const section = (title, ...content) => el("section", null, el("h4", { text: title }), ...content);
    if (c.reference) box.append(section("Reference", el("p", { text: c.reference })));
    if (Array.isArray(c.gold) && c.gold.length) box.append(section("Gold sources", el("p", { class: "mono small", text: c.gold.join(", ") })));
    if (out.error) box.append(C.errorBox({ message: out.error }, "Error:"));
    if (answer) {
      box.append(section(answer.abstained ? "Answer (abstained)" : "Answer", el("div", { class: "case-answer", text: answer.text || "" })));
      if (Array.isArray(answer.citations) && answer.citations.length) box.append(section("Citations", sourceList(answer.citations, "cited")));
    }
    if (Array.isArray(out.retrieved) && out.retrieved.length) box.append(section("Retrieved", sourceList(out.retrieved, "retrieved")));
    const scores = Object.entries(c.scores || {});
    if (scores.length) {
      const tbody = el("tbody");
      for (const [name, s] of scores) {
        const value = s && typeof s === "object" ? s.value : s;
        tbody.append(el("tr", null,
          el("td", { class: "mono", text: name }),
          el("td", { class: "num", text: value === null || value === undefined ? "n/a" : C.fmtScore(value) }),
          el("td", { class: "muted", text: (s && s.explanation) || "" })));
      }
      box.append(section("Scores", el("div", { class: "table-wrap" }, el("table", { class: "score-table" }, tbody))));
    }
    if (c.failure) box.append(section("Failure", el("p", null, el("span", { class: "pill pill-bad", text: c.failure.category || "failed" }), " ", c.failure.explanation || "")));
    return box;
  }

  function renderCases(run, filter) {
    const node = clear(document.getElementById("run-cases"));
    const cases = Array.isArray(run.cases) ? run.cases : [];
    const shown = cases.filter((c) => filter === "all" || (filter === "failed" ? passed(c) === false : passed(c) === true));
    document.getElementById("case-count").textContent = `(${shown.length} of ${cases.length})`;
    if (!shown.length) {
      node.append(C.empty(cases.length ? "No cases here" : "No cases recorded", ""));
      return;
    }
    const list = el("ul", { class: "case-list" });
    for (const c of shown) {
      const ok = passed(c);
      const detailId = `case-${String(c.id).replace(/[^\w-]/g, "_")}`;
      const detail = el("div", { id: detailId, hidden: true });
      const toggle = el("button", {
        type: "button", class: "case-toggle", "aria-expanded": "false", "aria-controls": detailId,
        dataset: { caseId: c.id },
        on: {
          click: () => {
            const open = toggle.getAttribute("aria-expanded") !== "true";
            toggle.setAttribute("aria-expanded", String(open));
            if (open && !detail.firstChild) detail.append(caseDetail(c));
            detail.hidden = !open;
          },
        },
      },
      C.icon(C.ICONS.chevron, "chev"),
      el("span", { class: "case-q" }, el("strong", { text: c.question || c.id }),
        el("span", { text: [c.id, c.expect ? `expects ${c.expect}` : null, ...(c.tags || [])].filter(Boolean).join(" · ") })),
      ok === null ? el("span", { class: "pill", text: "n/a" })
        : el("span", { class: `pill ${ok ? "pill-ok" : "pill-bad"}`, text: ok ? "✓ pass" : `✗ ${(c.failure && c.failure.category) || "fail"}` }));
      list.append(el("li", { class: "case" }, toggle, detail));
    }
    node.append(list);
  }

  async function loadRun() {
    let run;
    try {
      run = await C.request(`/v1/evals/runs/${encodeURIComponent(runId)}`);
    } catch (err) {
      clear(document.getElementById("run-metrics")).append(C.errorBox(err, "Could not load this run."));
      return;
    }
    run = run || {};
    document.getElementById("run-title").textContent = run.name || run.id || runId;
    if (run.status === "running" || run.status === "queued") {
      clear(document.getElementById("run-metrics")).append(
        el("p", { class: "muted loading", text: `This run is still going (${C.pluralise(C.num(run.cases) ?? 0, "case")}). The page refreshes when it ends.` }));
      setTimeout(loadRun, 2500);
      return;
    }
    if (run.status === "failed") {
      clear(document.getElementById("run-metrics")).append(C.errorBox({ message: run.error || "The run failed." }, "Run failed."));
      return;
    }
    const config = run.config || {};
    const sub = clear(document.getElementById("run-sub"));
    sub.append("Run ", C.timeEl(run.created ?? run.created_at, false));
    const configBits = Object.entries(config)
      .filter(([, v]) => v !== null && (typeof v !== "object"))
      .slice(0, 6).map(([k, v]) => `${k} ${v}`);
    if (configBits.length) sub.append(` · ${configBits.join(" · ")}`);

    const cases = Array.isArray(run.cases) ? run.cases : [];
    const passCount = cases.filter((c) => passed(c) === true).length;
    const failCount = cases.filter((c) => passed(c) === false).length;
    clear(document.getElementById("run-summary")).append(
      stat("Cases", C.fmtInt(caseCount(run))),
      stat("Passed", C.fmtInt(passCount), cases.length ? `${Math.round((passCount / cases.length) * 100)}%` : null),
      stat("Failed", C.fmtInt(failCount)),
    );

    const metrics = metricsOf(run);
    const names = orderedNames(metrics);
    const metricsNode = clear(document.getElementById("run-metrics"));
    if (names.length) {
      const tbody = el("tbody");
      for (const n of names) {
        tbody.append(el("tr", null, el("td", { class: "mono", text: n }), el("td", null, ciNode(metrics[n])),
          el("td", { class: "num hide-sm", text: C.fmtInt(metrics[n].n) })));
      }
      metricsNode.append(el("div", { class: "table-wrap" }, el("table", null,
        el("thead", null, el("tr", null, el("th", { text: "Metric" }), el("th", { text: "Mean [95% CI]" }), el("th", { class: "num hide-sm", text: "n" }))),
        tbody)));
    } else {
      metricsNode.append(el("p", { class: "muted", text: "This run has no aggregate scores." }));
    }
    const failures = run.failures && typeof run.failures === "object" ? Object.entries(run.failures) : [];
    if (failures.length) {
      metricsNode.append(el("p", { class: "small", style: { marginTop: "14px" } }, "Failures: ",
        failures.map(([cat, ids]) => [el("span", { class: "pill pill-bad", text: `${cat} · ${Array.isArray(ids) ? ids.length : ids}` }), " "])));
    }

    const byTag = run.by_tag && typeof run.by_tag === "object" ? Object.entries(run.by_tag) : [];
    if (byTag.length) {
      const tagMetrics = orderedNames(Object.assign({}, ...byTag.map(([, m]) => m || {}))).slice(0, 4);
      const tbody = el("tbody");
      for (const [tag, m] of byTag) {
        tbody.append(el("tr", null, el("td", null, el("span", { class: "pill", text: tag })),
          tagMetrics.map((n) => el("td", null, m && m[n] ? ciNode(m[n]) : "–"))));
      }
      document.getElementById("tags-card").hidden = false;
      clear(document.getElementById("run-tags")).append(el("table", null,
        el("thead", null, el("tr", null, el("th", { text: "Tag" }), tagMetrics.map((n) => el("th", { text: n })))), tbody));
    }

    let filter = "all";
    for (const b of document.querySelectorAll(".segmented .seg")) {
      b.addEventListener("click", () => {
        filter = b.dataset.filter;
        for (const o of document.querySelectorAll(".segmented .seg")) o.setAttribute("aria-pressed", String(o === b));
        renderCases(run, filter);
      });
    }
    renderCases(run, filter);
  }

  if (runId) loadRun();
  else loadList();
})();
