// Small DOM builders for the console's pages (text only through textContent: data never becomes
// markup).

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("aria") || name === "role" || name === "for") {
      node.setAttribute(name === "for" ? "for" : name.replace(/^aria/, "aria-").toLowerCase(), value);
    } else node[name] = value;
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** A labelled <select> with an "All" option first; `options` are [value, text] pairs. */
export function select(id, text, options, allText = "All") {
  const control = h("select", { id, name: id });
  control.append(h("option", { value: "", textContent: allText }));
  for (const [value, label] of options) control.append(h("option", { value, textContent: label }));
  const field = h("div", { className: "field" }, h("label", { for: id, textContent: text }), control);
  return { field, control };
}

export const number = new Intl.NumberFormat("en");

/** "1,234" or "withheld" for a figure the service did not give. */
export function figure(value) {
  return value === null || value === undefined ? "withheld" : number.format(value);
}
