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

// The explanation's terms are normalised (simplified, half-width); the page highlights each
// place where one occurs in the text as typed. Longest terms first, so 占道经营 wins over 经营;
// a term of digits or letters only counts as a whole run, so 12345 is not marked inside a
// phone number.
function highlight(text, terms) {
  const wanted = [...new Set(terms.map((t) => t.term).filter((t) => t && !t.startsWith("<")))]
    .sort((a, b) => b.length - a.length);
  const container = el("div", { class: "ticket" });
  if (!wanted.length) { container.append(text); return container; }
  const escaped = wanted.map((t) => {
    const literal = t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return /^[0-9A-Za-z]+$/.test(t) ? "(?<![0-9A-Za-z])" + literal + "(?![0-9A-Za-z])" : literal;
  });
  const pattern = new RegExp("(" + escaped.join("|") + ")", "gi");
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    container.append(text.slice(last, match.index), el("mark", {}, match[0]));
    last = match.index + match[0].length;
  }
  container.append(text.slice(last));
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
  };
  return (answer.review_codes || []).map((code) => (phrases[code] ? phrases[code]() : code));
}

function show(text, answer) {
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
    el("div", {}, el("span", { class: "dept" }, answer.label), badge),
    el("div", {}, "置信度 " + percent(answer.confidence)),
    el("table", {}, ...rows),
    terms,
    highlight(text, answer.explanation),
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
    if (response.ok) show(text, body); else showError(response.status, body);
  } catch (error) {
    showError("—", { error: { message: String(error) } });
  } finally {
    button.disabled = false;
  }
});
