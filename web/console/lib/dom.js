// Building the DOM without markup strings (nothing is parsed as HTML, so data can never
// become markup) and without `style` attributes (the CSP forbids them): classes, attributes
// and text only.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "on") {
      for (const [type, listener] of Object.entries(value)) node.addEventListener(type, listener);
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/**
 * An HTML element: `h("td", {class: "number", dataset: {figure: "x"}, text: "3"})`.
 * Attributes are set as attributes (`class`, `href`, `aria-*`); `text` sets the text,
 * `dataset` data-* values, `on` event listeners; children are nodes or strings.
 */
export function h(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, as `h` builds HTML ones (presentation attributes, never `style`). */
export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** A day `YYYY-MM-DD` moved by `days` (calendar arithmetic in UTC: no time zone shifts). */
export function addDays(day, days) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

const NUMBER = new Intl.NumberFormat("en");

/** A figure for people: thousands separated; null (withheld or unknown) as an em dash. */
export function figure(value) {
  if (value === null || value === undefined) return "—";
  return NUMBER.format(value);
}

/** A signed change (+3, −2, 0) and, when known, its percentage. */
export function change(value, pct) {
  if (value === null || value === undefined) return "—";
  const rounded = Math.round(value * 10) / 10;
  const sign = rounded > 0 ? "+" : rounded < 0 ? "−" : "±";
  const text = `${sign}${NUMBER.format(Math.abs(rounded))}`;
  if (pct === null || pct === undefined) return text;
  return `${text} (${pct > 0 ? "+" : pct < 0 ? "−" : "±"}${NUMBER.format(Math.abs(Math.round(pct)))}%)`;
}

/** A date-time as UTC text, to the minute. */
export function when(iso) {
  const date = new Date(iso || "");
  if (Number.isNaN(date.getTime())) return "";
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
