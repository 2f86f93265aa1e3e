/* The documents page: upload (drag and drop or file picker), ingest job progress, search,
   list and delete. */
(function () {
  "use strict";
  const C = window.Cairn;
  const { el, clear } = C;

  const dropzone = document.getElementById("dropzone");
  const fileInput = document.getElementById("file-input");
  const jobsNode = document.getElementById("jobs");
  const listNode = document.getElementById("doc-list");
  const countNode = document.getElementById("doc-count");
  const filterInput = document.getElementById("doc-filter");
  let documents = [];

  /* ---------- List ---------- */

  async function loadDocuments() {
    try {
      documents = C.listOf(await C.request("/v1/documents"), "documents");
      renderDocuments();
    } catch (err) {
      clear(listNode).append(C.errorBox(err, "Could not list documents."));
    }
  }

  function renderDocuments() {
    const query = filterInput.value.trim().toLowerCase();
    const shown = documents.filter((d) =>
      !query || `${d.title || ""} ${d.source || ""} ${d.doc_type || ""}`.toLowerCase().includes(query));
    countNode.textContent = documents.length ? `(${C.fmtInt(documents.length)})` : "";
    clear(listNode);
    if (!documents.length) {
      listNode.append(C.empty("No documents yet", "Drop files above to add the first ones."));
      return;
    }
    if (!shown.length) {
      listNode.append(C.empty("No match", `Nothing matches “${filterInput.value.trim()}”.`));
      return;
    }
    const tbody = el("tbody");
    for (const doc of shown) tbody.append(docRow(doc));
    listNode.append(
      el("table", { class: "doc-table" },
        el("thead", null, el("tr", null,
          el("th", { scope: "col", text: "Document" }),
          el("th", { scope: "col", class: "hide-sm", text: "Type" }),
          el("th", { scope: "col", class: "num", text: "Passages" }),
          el("th", { scope: "col" }, el("span", { class: "visually-hidden", text: "Actions" })))),
        tbody));
  }

  function docRow(doc) {
    const name = doc.title || doc.source || doc.id;
    const label = doc.source || name;
    const actions = el("div", { class: "row-actions" });
    const row = el("tr", { dataset: { docId: doc.id } },
      el("td", null,
        el("div", { class: "cell-main", text: name }),
        doc.source && doc.source !== name ? el("div", { class: "cell-sub mono", text: doc.source }) : null),
      el("td", { class: "hide-sm" }, doc.doc_type ? el("span", { class: "pill", text: doc.doc_type }) : "–"),
      el("td", { class: "num", text: C.fmtInt(doc.chunks) }),
      el("td", { class: "nowrap" }, actions));
    const idle = () => {
      clear(actions).append(el("button", {
        type: "button", class: "btn btn-ghost btn-sm", text: "Delete", "aria-label": `Delete ${label}`,
        on: { click: confirm },
      }));
    };
    const confirm = () => {
      const yes = el("button", {
        type: "button", class: "btn btn-danger btn-sm", text: "Delete", "aria-label": `Confirm: delete ${label}`,
        on: { click: remove },
      });
      clear(actions).append(
        el("span", { class: "small muted", text: "Delete?" }),
        yes,
        el("button", { type: "button", class: "btn btn-ghost btn-sm", text: "Cancel", on: { click: idle } }));
      yes.focus();
    };
    const remove = async () => {
      try {
        await C.request(`/v1/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
        documents = documents.filter((d) => d.id !== doc.id);
        renderDocuments();
        C.toast(`Deleted ${name}.`);
      } catch (err) {
        C.toast(`Could not delete: ${err.message}`, "bad");
        idle();
      }
    };
    idle();
    return row;
  }

  filterInput.addEventListener("input", renderDocuments);

  /* ---------- Upload ---------- */

  async function upload(files) {
    if (!files.length) return;
    const names = files.map((f) => f.name);
    const job = jobCard(names);
    jobsNode.prepend(job.node);
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    let jobId;
    try {
      const created = await C.request("/v1/documents", { body: form });
      jobId = created && (created.job_id || created.id);
      if (!jobId) throw new Error("the server did not return a job id");
    } catch (err) {
      job.update({ status: "failed", error: err.message });
      return;
    }
    job.node.dataset.jobId = jobId;
    poll(jobId, job);
  }

  async function poll(jobId, job) {
    let delay = 400;
    for (;;) {
      let state;
      try {
        state = await C.request(`/v1/jobs/${encodeURIComponent(jobId)}`);
      } catch (err) {
        job.update({ status: "failed", error: err.message });
        return;
      }
      job.update(state);
      if (state.status === "done" || state.status === "failed") {
        await loadDocuments();
        if (state.status === "done" && !(state.failed > 0)) {
          const flagged = C.num(state.flagged) ? ` · ${C.fmtInt(state.flagged)} flagged as possible prompt injection` : "";
          C.toast(`Added ${C.pluralise(C.num(state.done) ?? 0, "file")} · ${C.pluralise(C.num(state.chunks) ?? 0, "passage")}${flagged}.`);
        }
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 1.3, 2000);
    }
  }

  function jobCard(names) {
    const title = el("strong", { text: names.length === 1 ? names[0] : `${names.length} files` });
    const status = el("span", { class: "pill", text: "Uploading" });
    const detail = el("div", { class: "job-files" }, names.length > 1 ? names.join(", ") : "");
    const bar = el("div", { class: "progress-bar indeterminate" });
    const progress = el("div", {
      class: "progress", role: "progressbar", "aria-label": "Ingest progress",
      "aria-valuemin": "0", "aria-valuemax": "100",
    }, bar);
    const failures = el("ul", { class: "failures" });
    // What the ingest scan found: passages that look like planted instructions.
    const guard = el("div", { class: "job-guard", hidden: true });
    const node = el("div", { class: "job", dataset: { status: "uploading" } },
      el("div", { class: "job-head" }, title, status), detail, progress, guard, failures);
    const LABELS = { queued: "Queued", running: "Ingesting", done: "Done", failed: "Failed" };
    const update = (state) => {
      const s = state.status || "running";
      node.dataset.status = s;
      status.textContent = LABELS[s] || s;
      status.className = `pill ${s === "done" ? (state.failed > 0 ? "pill-warn" : "pill-ok") : s === "failed" ? "pill-bad" : "pill-accent"}`;
      const total = C.num(state.files) ?? (Array.isArray(state.files) ? state.files.length : null);
      const finished = (C.num(state.done) || 0) + (C.num(state.failed) || 0);
      const fraction = s === "done" || s === "failed" ? 1 : total ? finished / total : null;
      if (fraction === null || (s === "running" && finished === 0) || s === "queued") {
        bar.classList.add("indeterminate");
        progress.removeAttribute("aria-valuenow");
      } else {
        bar.classList.remove("indeterminate");
        bar.style.width = `${Math.round(fraction * 100)}%`;
        progress.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
      }
      const parts = [];
      if (total !== null) parts.push(`${C.fmtInt(finished)} of ${C.pluralise(total, "file")}`);
      if (C.num(state.chunks)) parts.push(C.pluralise(state.chunks, "passage"));
      if (state.failed) parts.push(`${C.fmtInt(state.failed)} failed`);
      if (parts.length) detail.textContent = parts.join(" · ");
      const flagged = C.num(state.flagged) || 0;
      const quarantined = C.num(state.quarantined) || 0;
      clear(guard).hidden = flagged === 0;
      node.dataset.flagged = String(flagged);
      node.dataset.quarantined = String(quarantined);
      if (flagged) {
        guard.append(el("span", {
          class: "pill pill-warn job-flagged",
          title: "The ingest scan found text that looks like instructions to an AI assistant (possible prompt injection)",
          text: `${C.pluralise(flagged, "passage")} flagged`,
        }));
        if (quarantined) {
          guard.append(el("span", {
            class: "pill pill-bad job-quarantined",
            title: "Kept out of search until an admin releases them (cairn guard quarantine list)",
            text: `${C.fmtInt(quarantined)} quarantined`,
          }));
        }
      }
      clear(failures);
      for (const f of state.failures || []) failures.append(el("li", null, el("span", { class: "mono", text: f.path || "file" }), `: ${f.reason || "failed"}`));
      if (state.error) failures.append(el("li", { text: state.error }));
    };
    return { node, update };
  }

  fileInput.addEventListener("change", () => {
    upload([...fileInput.files]);
    fileInput.value = "";
  });

  let depth = 0;
  dropzone.addEventListener("dragenter", (event) => {
    event.preventDefault();
    depth += 1;
    dropzone.classList.add("dragging");
  });
  dropzone.addEventListener("dragover", (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
  });
  dropzone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) dropzone.classList.remove("dragging");
  });
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    dropzone.classList.remove("dragging");
    upload([...((event.dataTransfer && event.dataTransfer.files) || [])]);
  });
  // A file dropped beside the zone must not navigate away from the page.
  for (const name of ["dragover", "drop"]) window.addEventListener(name, (event) => event.preventDefault());

  /* ---------- Search ---------- */

  const searchForm = document.getElementById("search-form");
  const searchInput = document.getElementById("search-input");
  const resultsNode = document.getElementById("search-results");

  searchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = searchInput.value.trim();
    if (!query) return;
    clear(resultsNode).append(el("li", { class: "muted loading", text: "Searching" }));
    try {
      const data = await C.request("/v1/search", { json: { query, k: 8 } });
      const results = C.listOf(data, "results");
      clear(resultsNode);
      if (!results.length) {
        resultsNode.append(el("li", null, C.empty("No passages found", "Try other words.")));
        return;
      }
      const terms = query.split(/\s+/).filter((t) => t.length >= 3);
      for (const r of results) {
        const title = r.title && r.title !== r.source ? `${r.title}` : r.source;
        resultsNode.append(el("li", null, el("button", {
          type: "button", class: "result", "aria-controls": "source-panel",
          dataset: { source: r.source || "" },
          on: { click: (e) => C.panel.open({ chunk_id: r.chunk_id, source: r.source, section: r.section, uri: r.uri, risk: r.risk, terms }, e.currentTarget) },
        },
        el("div", { class: "result-head" },
          el("strong", { text: `${title}${r.section ? ` — ${r.section}` : ""}` }),
          ...C.riskPills(r.risk),
          el("span", { class: "muted mono small", text: C.fmtScore(r.score) })),
        el("div", { class: "result-text truncate", text: r.text || "" }))));
      }
    } catch (err) {
      clear(resultsNode).append(el("li", null, C.errorBox(err, "Search failed.")));
    }
  });

  loadDocuments();
})();
