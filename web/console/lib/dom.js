// Building the DOM without markup strings (nothing is parsed as HTML, so data can never
// become markup) and without `style` attributes (the CSP forbids them): attributes, classes
// and text only. The map page and the header name properties the DOM's way (`className`,
// `textContent`, `htmlFor`, `ariaLabel`); the digest and queue pages the markup's way
// (`class`, `text`, `for`, `aria-label`); both end as the same attributes.

const SVG_NS = "http://www.w3.org/2000/svg";

function attribute(name) {
  if (name === "className") return "class";
  if (name === "htmlFor") return "for";
  if (/^aria[A-Z]/.test(name)) return `aria-${name.slice(4).toLowerCase()}`;
  return name;
}

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text" || name === "textContent") node.textContent = String(value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "on") {
      for (const [type, listener] of Object.entries(value)) node.addEventListener(type, listener);
    } else node.setAttribute(attribute(name), value === true ? "" : String(value));
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

/** A labelled <select> with an "All" option first; `options` are [value, text] pairs. */
export function select(id, text, options, allText = "All") {
  const control = h("select", { id, name: id });
  control.append(h("option", { value: "", text: allText }));
  for (const [value, label] of options) control.append(h("option", { value, text: label }));
  const field = h("div", { class: "field" }, h("label", { for: id, text }), control);
  return { field, control };
}

/** A day `YYYY-MM-DD` moved by `days` (calendar arithmetic in UTC: no time zone shifts). */
export function addDays(day, days) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

export const number = new Intl.NumberFormat("en");

/** A figure for people: thousands separated; null (withheld or unknown) as `missing`. */
export function figure(value, missing = "—") {
  if (value === null || value === undefined) return missing;
  return number.format(value);
}

/** A figure the caller's view may withhold: "withheld" rather than a dash. */
export function withheld(value) {
  return figure(value, "withheld");
}

/** A signed change (+3, −2, 0) and, when known, its percentage. */
export function change(value, pct) {
  if (value === null || value === undefined) return "—";
  const rounded = Math.round(value * 10) / 10;
  const sign = rounded > 0 ? "+" : rounded < 0 ? "−" : "±";
  const text = `${sign}${number.format(Math.abs(rounded))}`;
  if (pct === null || pct === undefined) return text;
  return `${text} (${pct > 0 ? "+" : pct < 0 ? "−" : "±"}${number.format(Math.abs(Math.round(pct)))}%)`;
}

/** A date-time as UTC text, to the minute. */
export function when(iso) {
  const date = new Date(iso || "");
  if (Number.isNaN(date.getTime())) return "";
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
