// The try-it page: one call to POST /v1/classify, then department, confidence, runners-up,
// and the ticket with its deciding terms highlighted. No framework; nothing leaves but the API call.
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

function show(title, text, answer) {
  const badge = answer.needs_review
    ? el("span", { class: "review" }, "需人工复核：" + (answer.review_reason || ""))
    : el("span", { class: "review ok" }, "可直接派单");
  const rows = answer.top_k.map((item) =>
    el("tr", {},
      el("td", {}, item.label),
      el("td", {}, percent(item.score)),
      el("td", {}, el("div", { class: "bar", style: `width:${Math.round(160 * item.score)}px` }))));
  const terms = el("div", { class: "terms" }, "关键词：",
    ...answer.explanation.map((t) => el("span", { title: "权重 " + t.weight.toFixed(3) }, t.term)));
  result.replaceChildren(
    el("div", {}, el("span", { class: "dept" }, answer.label), badge),
    el("div", {}, "置信度 " + percent(answer.confidence)),
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
