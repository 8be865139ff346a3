// The legend: what each colour means, from the same tables the style uses.
import { CELLS, POINTS, SUPPRESSED, choroplethClasses } from "./style.js";
import { CEASEFIRE_STATUSES, label } from "../lib/vocabulary.js";
import { h } from "../lib/dom.js";

function item(color, text, shape = "") {
  const swatch = h("span", { className: `swatch ${shape}` });
  swatch.style.backgroundColor = color; // CSSOM, not a style attribute: allowed by the CSP
  return h("li", {}, swatch, h("span", { textContent: text }));
}

export function renderLegend(element, { publicView, breaks }) {
  const was = element.querySelector("details");
  const open = was ? was.open : !matchMedia("(max-width: 600px)").matches;
  const details = h("details", { open });
  element.replaceChildren(details);
  details.append(
    h("summary", { textContent: "Legend" }),
    h("strong", { textContent: "Incidents per cell" }),
    h("ul", {}, ...CELLS.map(([, color, text]) => item(color, text))),
    h("strong", { textContent: "Incidents (zoomed in)" }),
    h("ul", {}, ...POINTS.map(([status, color]) => item(color, label(CEASEFIRE_STATUSES, status), "circle"))),
    h("strong", { textContent: "Governorates" }),
    h(
      "ul",
      {},
      ...choroplethClasses(breaks).map(([color, text]) => item(color, text)),
      ...(publicView ? [item(SUPPRESSED[0], SUPPRESSED[1])] : []),
    ),
    h("p", {
      className: "muted legend-note",
      textContent: publicView
        ? "Public view: verified incidents only, each at the centre of its public grid cell."
        : "Full view: every status, exact positions.",
    }),
  );
}
