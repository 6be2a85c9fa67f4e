// The try-it page: one call to POST /v1/classify, then department, confidence, runners-up,
// the ticket with its deciding terms highlighted, and (as the service is configured) the
// urgency, the place, the lead and assisting units, and each problem's department.
// No framework; nothing leaves but the API call.
"use strict";

const form = document.getElementById("form");
const result = document.getElementById("result");
const button = document.getElementById("submit");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value; else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function percent(x) { return (100 * x).toFixed(1) + "%"; }

// Each term of the explanation is a word as it was typed, with its spans: the field (title or
// text) and the offsets in it, counted in code points of the value sent, where the model read
// it. The page marks exactly those places, in the title and in the body.
function highlight(value, field, terms) {
  const chars = Array.from(value);  // code points, as the offsets count them
  const spans = [];
  for (const term of terms) {
    for (const span of term.spans || []) {
      if (span.field === field) spans.push({ ...span, term });
    }
  }
  spans.sort((a, b) => a.start - b.start);
  const container = el("div", { class: field === "title" ? "ticket-title" : "ticket-text" });
  let last = 0;
  for (const span of spans) {
    if (span.start < last || span.end > chars.length) continue;  // overlapping: keep the first
    container.append(
      chars.slice(last, span.start).join(""),
      el("mark", { title: span.term.term + " · 权重 " + span.term.weight.toFixed(3) },
        chars.slice(span.start, span.end).join("")));
    last = span.end;
  }
  container.append(chars.slice(last).join(""));
  return container;
}

function showError(status, body) {
  const message = body && body.error ? body.error.message : "请求失败";
  result.replaceChildren(el("p", { class: "error" }, `错误 ${status}：${message}`));
}

// Why a person should check, in Chinese, from the answer's review_codes and its numbers
// (never by translating review_reason): one phrase per code, in the answer's order.
function reviewReasons(answer) {
  const scores = answer.top_k.map((item) => item.score);
  const margin = scores.length > 1 ? scores[0] - scores[1] : scores[0];
  const phrases = {
    low_confidence: () => `置信度低于阈值（${percent(answer.confidence)}）`,
    close_call: () => `前两名接近（相差 ${percent(margin)}）`,
    out_of_scope: () => "超出受理范围（内容太少或与受理事项无关）",
    urgent: () => "紧急事项，请立即处理",
  };
  return (answer.review_codes || []).map((code) => (phrases[code] ? phrases[code]() : code));
}

// The urgency badge: 紧急 red, 较急 orange, 一般 grey; its reason as the tooltip and beside it.
function urgencyBadge(urgency) {
  const kind = { "紧急": "urgent", "较急": "fairly" }[urgency.level] || "usual";
  return el("span", { class: `urgency ${kind}`, title: urgency.reason }, urgency.level);
}

// Where, who, and each problem: only the parts the service answers (null: not configured).
function dispatchDetails(answer) {
  const parts = [];
  if (answer.urgency) {
    parts.push(el("div", { class: "urgency-line" }, "紧急程度：", urgencyBadge(answer.urgency),
      " " + answer.urgency.reason));
  }
  if (answer.location) {
    const where = answer.location;
    const path = [where.district, where.street, where.community, where.grid].filter(Boolean);
    const named = where.mentions.map((m) => m.text).join("、");
    parts.push(el("div", { class: "place" }, "地点：",
      path.length ? path.join(" / ") + (where.place ? `（${where.place}）` : "") : "未能定位",
      named ? `；提到：${named}` : ""));
  }
  if (answer.dispatch) {
    const routed = answer.dispatch;
    const assist = routed.assist.map((unit) => el("span", { class: "assist" }, unit.unit));
    parts.push(el("div", { class: "units", title: routed.rule },
      "主办：", el("span", { class: "lead" }, routed.lead ? routed.lead.unit : "无匹配规则，请人工指派"),
      ...(assist.length ? ["　协办：", ...assist] : [])));
  }
  if (answer.problems && answer.problems.length > 1) {
    parts.push(el("div", {}, `本工单含 ${answer.problems.length} 个问题：`),
      el("ol", { class: "problems" }, ...answer.problems.map((problem) =>
        el("li", {},
          el("span", { class: "problem-label" }, problem.label),
          ` ${percent(problem.confidence)}`,
          ...(problem.lead ? [" → ", el("span", { class: "problem-lead" }, problem.lead)] : []),
          el("div", { class: "problem-text" }, problem.text)))));
  }
  return parts.length ? [el("div", { class: "dispatch" }, ...parts)] : [];
}

function show(title, text, answer) {
  const badge = answer.needs_review
    ? el("span", { class: "review" }, "需人工复核：" + reviewReasons(answer).join("；"))
    : el("span", { class: "review ok" }, "可直接派单");
  const rows = answer.top_k.map((item) =>
    el("tr", {},
      el("td", {}, item.label),
      el("td", {}, percent(item.score)),
      el("td", {}, el("div", { class: "bar", style: `width:${Math.round(160 * item.score)}px` }))));
  const terms = el("div", { class: "terms" }, "关键词：",
    ...answer.explanation.map((t) => el("span", { title: "权重 " + t.weight.toFixed(3) }, t.term)));
  result.replaceChildren(
    el("div", {}, el("span", { class: "dept" }, answer.label),
      ...(answer.urgency ? [urgencyBadge(answer.urgency)] : []), badge),
    el("div", {}, "置信度 " + percent(answer.confidence)),
    ...dispatchDetails(answer),
    el("table", {}, ...rows),
    terms,
    el("div", { class: "ticket" },
      ...(title ? [highlight(title, "title", answer.explanation)] : []),
      highlight(text, "text", answer.explanation)),
    el("p", { class: "meta" }, `模型 ${answer.model.name}@${answer.model.version}`));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = document.getElementById("text").value;
  const title = document.getElementById("title").value.trim();
  const key = document.getElementById("key").value.trim();
  const headers = { "Content-Type": "application/json" };
  if (key) headers["X-API-Key"] = key;
  button.disabled = true;
  try {
    const response = await fetch("/v1/classify", {
      method: "POST", headers, body: JSON.stringify(title ? { text, title } : { text }),
    });
    const body = await response.json().catch(() => null);
    if (response.ok) show(title, text, body); else showError(response.status, body);
  } catch (error) {
    showError("—", { error: { message: String(error) } });
  } finally {
    button.disabled = false;
  }
});
