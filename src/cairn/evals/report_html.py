"""A self-contained HTML report of a run: one file, inline CSS and SVG, no scripts.

Sections: headline numbers, every metric with its confidence interval, per-tag scores with
whiskers, the difference against a baseline (with the gate's verdicts when given), failure
categories, and a drill-down per case (question, retrieved sources, answer, citations,
checkpoints, scores with their explanations, failure category).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from cairn.evals.gate import GateResult, MetricComparison
from cairn.evals.records import CaseResult, CitedChunk, RunRecord
from cairn.evals.report_terminal import TAG_METRICS, describe_config
from cairn.evals.scorers import LOWER_IS_BETTER
from cairn.evals.svg import BAD, BAR, GOOD, NEUTRAL, Row, interval_bars, tag_grid

OPEN_FAILURES = 5
"""The first failed cases are shown expanded."""

HEADLINE = ("pass", "doc.hit@5", "doc.mrr@10", "checkpoints", "groundedness", "abstention_accuracy")

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f5f7fa;color:#1f2933;font:14px/1.5 system-ui,-apple-system,
 'Segoe UI',sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 32px 60px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:34px 0 10px}
.sub{color:#616e7c;margin:0 0 18px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:12px 14px}
.card .k{color:#616e7c;font-size:12px}.card .v{font-size:26px;font-weight:650}
.card .ci{color:#7b8794;font-size:12px}
.panel{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:14px 16px;
 overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;
 border-bottom:1px solid #eef0f3;vertical-align:top}th{font-size:12px;color:#616e7c}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;
 font-weight:600;white-space:nowrap}
.pass{background:#d3f9d8;color:#2b8a3e}.fail{background:#ffe3ec;color:#a61e4d}
.tag{background:#e7f5ff;color:#1864ab;margin-right:4px}
.hit{background:#d3f9d8;color:#2b8a3e;margin:2px}.miss{background:#ffe3ec;color:#a61e4d;margin:2px}
details{background:#fff;border:1px solid #e4e7eb;border-radius:8px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:10px;align-items:baseline}
summary .q{flex:1;color:#323f4b}summary .id{font-family:ui-monospace,monospace;
 font-size:12px;color:#52606d;min-width:190px}
.body{padding:4px 16px 14px;border-top:1px solid #eef0f3}
.answer{white-space:pre-wrap;background:#f8f9fb;border-left:3px solid #3e7cb1;
 padding:8px 12px;border-radius:4px;font-size:13px}
.gold{font-weight:700;color:#2b8a3e}.golddoc{color:#40a060}
.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.muted{color:#7b8794}.reg{color:#a61e4d;font-weight:600}.ok{color:#2b8a3e}
.warn{color:#b35c00}
"""


def render_html(
    run: RunRecord,
    *,
    baseline: RunRecord | None = None,
    comparisons: Sequence[MetricComparison] = (),
    gate: GateResult | None = None,
) -> str:
    passed = sum(1 for c in run.cases if c.failure is None)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>cairn eval {escape(run.id)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>cairn eval · {escape(run.id)}</h1>",
        f"<p class='sub'>{escape(describe_config(run))} · {escape(run.created)} · "
        f"<b>{passed}/{len(run.cases)}</b> cases passed</p>",
        _cards(run),
        _metrics(run),
        _tags(run),
    ]
    if baseline is not None and comparisons:
        parts.append(_diff(run, baseline, comparisons, gate))
    parts.append(_failures(run))
    parts.append(_cases(run, baseline))
    parts.append("</main></body></html>")
    return "".join(parts)


def _cards(run: RunRecord) -> str:
    cards = []
    for name in HEADLINE:
        s = run.aggregates.get(name)
        if s is None:
            continue
        cards.append(
            f"<div class='card'><div class='k'>{escape(name)}</div><div class='v'>"
            f"{s.mean:.2f}</div><div class='ci'>95% CI [{s.low:.2f}, {s.high:.2f}] · n={s.n}"
            "</div></div>"
        )
    return f"<div class='cards'>{''.join(cards)}</div>"


def _metrics(run: RunRecord) -> str:
    groups = {
        "Retrieval, by document": [m for m in run.aggregates if m.startswith("doc.")],
        "Retrieval, by section": [m for m in run.aggregates if m.startswith("section.")],
        "Answers": [m for m in run.aggregates if "." not in m],
    }
    out = ["<h2>Metrics <span class='muted'>(mean, 95% bootstrap CI)</span></h2>"]
    out.append("<div class='panel'>")
    for title, names in groups.items():
        if not names:
            continue
        rows = [
            Row(
                label=name + (" (lower is better)" if name in LOWER_IS_BETTER else ""),
                value=(s := run.aggregates[name]).mean,
                low=s.low,
                high=s.high,
                note=f"  n={s.n}",
                colour=BAD if name in LOWER_IS_BETTER else BAR,
            )
            for name in names
        ]
        out.append(f"<h3 style='font-size:14px;margin:8px 0 0'>{escape(title)}</h3>")
        out.append(interval_bars(rows, width=900, label_width=240))
    out.append("</div>")
    return "".join(out)


def _tags(run: RunRecord) -> str:
    if not run.by_tag:
        return ""
    metrics = [m for m in TAG_METRICS if m in run.aggregates]
    tags = list(run.by_tag)
    cells = {
        (tag, m): Row(tag, s.mean, s.low, s.high)
        for tag, summaries in run.by_tag.items()
        for m, s in summaries.items()
        if m in metrics
    }
    counts = " · ".join(f"{escape(t)} {sum(1 for c in run.cases if t in c.tags)}" for t in tags)
    return (
        "<h2>By tag <span class='muted'>(dot = mean, whiskers = 95% CI)</span></h2>"
        f"<div class='panel'>{tag_grid(tags, metrics, cells)}"
        f"<p class='muted'>cases per tag: {counts}</p></div>"
    )


def _diff(
    run: RunRecord,
    baseline: RunRecord,
    comparisons: Sequence[MetricComparison],
    gate: GateResult | None,
) -> str:
    verdicts = {v.metric: v for v in gate.verdicts} if gate else {}
    rows = []
    span = 0.05
    for m in comparisons:
        c = m.comparison
        if c.n == 0:
            continue
        significant = m.p_worse < 0.05
        colour = BAD if m.drop > 0 and significant else GOOD if m.drop < 0 else NEUTRAL
        if m.metric in verdicts:
            colour = BAD if verdicts[m.metric].regressed else colour
        span = max(span, abs(c.low), abs(c.high))
        rows.append(Row(m.metric, c.diff, c.low, c.high, note=f"  {_p(m.p_worse)}", colour=colour))
    span = min(1.0, round(span * 1.15 + 0.005, 2))
    chart = interval_bars(rows, width=900, label_width=240, lo=-span, hi=span, bar=False)
    table = [
        "<table><tr><th>metric</th><th>baseline</th><th>run</th><th>Δ</th><th>95% CI</th>"
        "<th>p (worse)</th><th>d_z</th><th>−/+/=</th><th>gate</th></tr>"
    ]
    for m in comparisons:
        c = m.comparison
        verdict = verdicts.get(m.metric)
        gate_cell = ""
        if verdict is not None:
            cls = (
                "reg" if verdict.regressed else "warn" if verdict.reason.startswith("not") else "ok"
            )
            gate_cell = f"<span class='{cls}'>{escape(verdict.reason.split(':')[0])}</span>"
        effect = "—" if c.effect_size is None else f"{c.effect_size:+.2f}"
        table.append(
            f"<tr><td>{escape(m.metric)}</td><td class='num'>{c.mean_b:.3f}</td>"
            f"<td class='num'>{c.mean_a:.3f}</td><td class='num'>{c.diff:+.3f}</td>"
            f"<td class='num'>[{c.low:+.3f}, {c.high:+.3f}]</td>"
            f"<td class='num'>{m.p_worse:.4f}</td><td class='num'>{effect}</td>"
            f"<td class='num'>{c.worse}/{c.better}/{c.ties}</td><td>{gate_cell}</td></tr>"
        )
    table.append("</table>")
    head = ""
    if gate is not None:
        word = (
            "<span class='ok'>passed</span>" if gate.passed else "<span class='reg'>failed</span>"
        )
        head = f"<p>Gate {word} on {gate.shared_cases} shared cases.</p>"
        head += "".join(f"<p class='muted'>{escape(n)}</p>" for n in gate.notes)
    return (
        f"<h2>Against baseline {escape(baseline.id)} <span class='muted'>(Δ = run − baseline, "
        "paired bootstrap CI, one-sided sign-flip p)</span></h2>"
        f"<div class='panel'>{head}{chart}{''.join(table)}</div>"
    )


def _failures(run: RunRecord) -> str:
    if not run.failures:
        return "<h2>Failures</h2><div class='panel'>No failed cases.</div>"
    total = len(run.cases)
    rows = [
        Row(
            cat,
            len(ids) / total,
            len(ids) / total,
            len(ids) / total,
            note=f"  {len(ids)} cases",
            colour=BAD,
        )
        for cat, ids in sorted(run.failures.items(), key=lambda item: -len(item[1]))
    ]
    return (
        "<h2>Failures <span class='muted'>(share of all cases, by first cause)</span></h2>"
        f"<div class='panel'>{interval_bars(rows, width=900, label_width=240)}</div>"
    )


def _cases(run: RunRecord, baseline: RunRecord | None) -> str:
    before = {c.id: c for c in baseline.cases} if baseline else {}
    order = sorted(run.cases, key=lambda c: (c.failure is None, c.id))
    out = [f"<h2>Cases <span class='muted'>({len(run.cases)}, failures first)</span></h2>"]
    out.extend(
        _case(case, before.get(case.id), expanded=n < OPEN_FAILURES and case.failure is not None)
        for n, case in enumerate(order)
    )
    return "".join(out)


def _case(case: CaseResult, before: CaseResult | None, *, expanded: bool = False) -> str:
    if case.failure is None:
        badge = "<span class='badge pass'>pass</span>"
    else:
        badge = f"<span class='badge fail'>{escape(case.failure.category)}</span>"
    change = ""
    if before is not None and (before.failure is None) != (case.failure is None):
        change = (
            "<span class='badge fail'>newly failing</span>"
            if case.failure is not None
            else "<span class='badge pass'>newly passing</span>"
        )
    tags = "".join(f"<span class='badge tag'>{escape(t)}</span>" for t in case.tags)
    summary = (
        f"<summary>{badge}<span class='id'>{escape(case.id)}</span>"
        f"<span class='q'>{escape(case.question)}</span>{change}{tags}</summary>"
    )
    body = ["<div class='body'>"]
    expect = f"expect <b>{escape(case.expect)}</b>"
    if case.failure is not None:
        expect += f" · <span class='reg'>{escape(case.failure.explanation)}</span>"
    body.append(f"<p>{expect}</p>")
    body.append("<div class='grid2'><div>")
    body.append(_retrieved(case))
    body.append("</div><div>")
    body.append(_answer(case))
    body.append("</div></div>")
    if case.reference:
        body.append(f"<p class='muted'><b>reference:</b> {escape(case.reference)}</p>")
    body.append(_scores(case))
    body.append("</div>")
    return f"<details{' open' if expanded else ''}>{summary}{''.join(body)}</details>"


def _retrieved(case: CaseResult) -> str:
    gold_sources = {g.split("#")[0] for g in case.gold}
    gold_keys = set(case.gold)
    rows = []
    for r in case.output.retrieved:
        key = f"{r.source}#{r.anchor}" if r.anchor else r.source
        if key in gold_keys or (r.source in gold_keys):
            cls = "gold"
        elif r.source in gold_sources:
            cls = "golddoc"
        else:
            cls = ""
        rows.append(
            f"<tr><td class='num'>{r.rank}</td><td class='mono {cls}'>{escape(key)}</td>"
            f"<td class='num'>{r.score:.3f}</td></tr>"
        )
    gold = ", ".join(escape(g) for g in case.gold) or "—"
    table = (
        "<table><tr><th>#</th><th>retrieved (<span class='golddoc'>gold document</span>, "
        "<span class='gold'>gold section</span>)</th><th>score</th></tr>"
        f"{''.join(rows)}</table>"
        if rows
        else "<p class='muted'>nothing retrieved</p>"
    )
    return f"<p><b>gold:</b> <span class='mono'>{gold}</span></p>{table}"


def _answer(case: CaseResult) -> str:
    answer = case.output.answer
    if case.output.error:
        return f"<p class='reg'>error: {escape(case.output.error)}</p>"
    if answer is None:
        return "<p class='muted'>retrieval-only run: no answer</p>"
    out = []
    if answer.abstained:
        out.append("<p><span class='badge tag'>abstained</span></p>")
    out.append(f"<div class='answer'>{escape(answer.text)}</div>")
    if answer.citations:
        items = "".join(_citation(c) for c in answer.citations)
        out.append(f"<ul>{items}</ul>")
    checkpoints = case.scores.get("checkpoints")
    if checkpoints is not None and checkpoints.metadata.get("checkpoints"):
        chips = "".join(
            f"<span class='badge {'hit' if hit else 'miss'}'>{'✓' if hit else '✗'} "
            f"{escape(str(name))}</span>"
            for name, hit in checkpoints.metadata["checkpoints"].items()
        )
        out.append(f"<p><b>checkpoints:</b> {chips}</p>")
    return "".join(out)


def _scores(case: CaseResult) -> str:
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td class='num'>"
        f"{'—' if s.value is None else f'{s.value:.3f}'}</td><td>{escape(s.explanation)}</td></tr>"
        for name, s in case.scores.items()
        if s.value is not None
    )
    return (
        "<details style='border:none;margin:8px 0 0'><summary class='muted'>scores and "
        f"explanations</summary><table>{rows}</table></details>"
    )


def _citation(c: CitedChunk) -> str:
    where = escape(c.source) + ("#" + escape(c.anchor) if c.anchor else "")
    mark = (
        "<span class='ok'>✓ verified</span>"
        if c.verified
        else "<span class='reg'>✗ unverified</span>"
    )
    support = (
        f" <span class='muted'>support {c.support:.2f}</span>" if c.support is not None else ""
    )
    return f"<li>[{c.n}] <span class='mono'>{where}</span> {mark}{support}</li>"


def _p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"
