/* The agent page: the approvals inbox (every waiting call with its exact arguments and their
   digest; approve, reject, or edit the arguments as JSON: the server validates them, a 422
   shows under the editor, and the edited call waits for its own approval), the caller's
   runs, and a run's timeline read from its audit log (GET /v1/agent/runs/{id}/events,
   Server-Sent Events). */
(function () {
  "use strict";
  const C = window.Cairn;
  const { el, clear } = C;

  const inbox = document.getElementById("agent-inbox");
  const runsNode = document.getElementById("agent-runs");
  const timeline = document.getElementById("agent-timeline");
  const refresh = document.getElementById("agent-refresh");
  const STATUS_PILL = { done: "pill-ok", failed: "pill-bad", stopped: "pill-bad", awaiting_approval: "pill-warn", running: "pill-accent" };

  const pill = (status) => el("span", { class: `pill ${STATUS_PILL[status] || ""}`, text: status.replace("_", " ") });
  const base = (runId) => `/v1/agent/runs/${encodeURIComponent(runId)}`;
  const callPath = (run, call) => `${base(run.run_id)}/calls/${encodeURIComponent(call.call_id)}`;
  const edited = new Set(); // `${run}/${call}` edited here: shown as new calls to approve

  async function decide(run, call, decision, button) {
    button.disabled = true;
    try {
      const path = `${callPath(run, call)}/${decision}`;
      const json = decision === "approve" ? { args_digest: call.args_digest } : { reason: "rejected in the web UI" };
      const out = await C.request(path, { json });
      C.toast(out.note || `${call.tool} ${decision === "approve" ? "approved" : "rejected"}: run ${out.status.replace("_", " ")}`, "ok");
      await load(run.run_id);
    } catch (err) {
      C.toast(err.message || String(err), "bad");
      button.disabled = false;
    }
  }

  function editor(run, call, item, actions) {
    const id = `edit-${run.run_id}-${call.call_id}`;
    const text = el("textarea", { id, class: "input mono agent-edit-args", rows: "8", spellcheck: "false" });
    text.value = JSON.stringify(call.args, null, 2);
    const error = el("p", { class: "form-error agent-edit-error", role: "alert" });
    const save = el("button", { type: "submit", class: "btn btn-primary btn-sm", text: "Save arguments" });
    const cancel = el("button", { type: "button", class: "btn btn-ghost btn-sm", text: "Cancel" });
    const form = el("form", { class: "agent-edit", novalidate: "" },
      el("label", { class: "field-label", for: id, text: `New arguments for ${call.tool} (JSON)` }),
      text, error, el("div", { class: "page-actions" }, save, cancel));
    cancel.addEventListener("click", () => { form.remove(); actions.hidden = false; });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      let args;
      try {
        args = JSON.parse(text.value);
      } catch (err) {
        error.textContent = `Not valid JSON: ${err.message}`;
        return;
      }
      if (args === null || typeof args !== "object" || Array.isArray(args)) {
        error.textContent = "The arguments must be a JSON object, e.g. {\"name\": \"value\"}.";
        return;
      }
      save.disabled = true;
      try {
        await C.request(`${callPath(run, call)}/edit`, { json: { args } });
        edited.add(`${run.run_id}/${call.call_id}`);
        C.toast(`${call.tool}: new arguments saved; approve them to run the call`, "ok");
        await load();
      } catch (err) {
        error.textContent = err.status === 422 ? `Not accepted by ${call.tool}: ${err.message}` : err.message || String(err);
        save.disabled = false;
      }
    });
    actions.hidden = true;
    item.append(form);
    text.focus();
  }

  function pendingItem(run, call) {
    const approve = el("button", { type: "button", class: "btn btn-primary btn-sm", text: "Approve" });
    const edit = el("button", { type: "button", class: "btn btn-secondary btn-sm", text: "Edit" });
    const reject = el("button", { type: "button", class: "btn btn-danger btn-sm", text: "Reject" });
    const actions = el("div", { class: "page-actions" }, approve, edit, reject);
    const wasEdited = edited.has(`${run.run_id}/${call.call_id}`);
    const item = el("li", { class: "agent-pending", "data-call": call.call_id, "data-run": run.run_id, "data-digest": call.args_digest },
      el("div", { class: "card-head" },
        el("div", null, el("strong", { class: "mono", text: call.tool }),
          wasEdited ? el("span", { class: "pill pill-warn agent-edited", text: "edited: needs its own approval" }) : null),
        el("span", { class: "muted", text: `${run.task.slice(0, 80)} · ${run.run_id}` })),
      el("pre", { class: "mono agent-args", text: JSON.stringify(call.args, null, 2) }),
      el("p", { class: "muted" }, "digest ", el("code", { text: call.args_digest.slice(0, 16) })),
      actions);
    approve.addEventListener("click", () => decide(run, call, "approve", approve));
    reject.addEventListener("click", () => decide(run, call, "reject", reject));
    edit.addEventListener("click", () => editor(run, call, item, actions));
    return item;
  }

  function runItem(run) {
    const open = el("button", { type: "button", class: "btn btn-ghost btn-sm", text: run.task.slice(0, 60) || run.run_id });
    open.addEventListener("click", () => showTimeline(run.run_id));
    return el("li", { class: "agent-run", "data-run": run.run_id }, pill(run.status), " ", open,
      el("span", { class: "muted", text: ` ${run.steps} steps · ${C.fmtUsd(run.cost_usd)}` }));
  }

  function parseEvents(text) {
    const events = [];
    for (const block of text.split("\n\n")) {
      let name = "";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (name && data) events.push({ name, data: JSON.parse(data) });
    }
    return events;
  }

  function describe(record) {
    const p = record.payload || {};
    if (p.tool) return `${p.tool}${p.call_id ? ` (${p.call_id})` : ""}`;
    if (p.model) return `${p.model} · ${C.fmtInt((p.input_tokens || 0) + (p.output_tokens || 0))} tokens`;
    if (p.actor) return `by ${p.actor}`;
    if (p.status) return `${p.status}${p.reason ? `: ${p.reason}` : ""}`;
    if (p.task) return p.task.slice(0, 80);
    return p.call_id || "";
  }

  async function showTimeline(runId) {
    clear(timeline);
    timeline.append(el("p", { class: "muted loading", text: "Loading…" }));
    try {
      const response = await C.request(`${base(runId)}/events?follow_s=0`, { raw: true, headers: { Accept: "text/event-stream" } });
      const events = parseEvents(await response.text());
      clear(timeline);
      timeline.append(el("p", { class: "mono muted", text: runId }));
      timeline.append(el("ol", { class: "agent-timeline" }, events.filter((e) => e.name === "record").map((e) =>
        el("li", { class: "agent-record", "data-kind": e.data.kind },
          el("strong", { text: e.data.kind.replace(/_/g, " ") }), " ",
          el("span", { text: describe(e.data) }), " ",
          el("span", { class: "muted", text: C.fmtTime(e.data.at) })))));
      const end = events.find((e) => e.name === "end");
      if (end) timeline.append(el("p", null, "Status: ", pill(end.data.status)));
    } catch (err) {
      clear(timeline);
      timeline.append(C.errorBox(err, "Could not load the timeline"));
    }
  }

  async function load(selected) {
    try {
      const data = await C.request("/v1/agent/runs");
      const runs = data.runs || [];
      clear(inbox);
      const waiting = runs.flatMap((run) => run.pending.map((call) => pendingItem(run, call)));
      inbox.append(waiting.length ? el("ul", { class: "agent-inbox" }, waiting)
        : C.empty("Nothing waits for you", "Calls that need approval appear here."));
      clear(runsNode);
      runsNode.append(runs.length ? el("ul", { class: "agent-runs" }, runs.map(runItem))
        : C.empty("No runs yet", "Start one with 'cairn agent run' or POST /v1/agent/runs."));
      if (selected) await showTimeline(selected);
    } catch (err) {
      clear(inbox);
      inbox.append(C.errorBox(err, "Could not load the runs"));
    }
  }

  refresh.addEventListener("click", () => load());
  load();
})();
