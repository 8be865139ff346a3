// The incident card: what the service shows the caller about one incident (the public's
// generalised view, or the full one for a monitor, verifier or admin key), nothing more.
import { getJSON, showProblem } from "../lib/api.js";
import { bilingual } from "../lib/rtl.js";
import { CEASEFIRE_STATUSES, REVIEW_STATUSES, VIOLATION_TYPES, label } from "../lib/vocabulary.js";
import { figure, h } from "../lib/dom.js";

let parties = null;

async function partyNames() {
  if (!parties) {
    parties = getJSON("/v1/parties")
      .then((list) => new Map(list.map((party) => [party.id, party.name])))
      .catch(() => new Map());
  }
  return parties;
}

export class Card {
  constructor(element, provinces) {
    this.element = element;
    this.provinces = provinces; // pcode -> {name_en, name_ar}
    element.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
  }

  close() {
    this.element.hidden = true;
    this.element.replaceChildren();
    this.returnFocus?.focus();
  }

  frame(title) {
    const close = h("button", { type: "button", className: "close secondary", textContent: "×" });
    close.setAttribute("aria-label", "Close the card");
    close.addEventListener("click", () => this.close());
    const heading = h("h2", { id: "card-title", textContent: title });
    this.returnFocus = document.activeElement;
    this.element.replaceChildren(close, heading);
    this.element.hidden = false;
    return close;
  }

  /** A cell at low zoom: its counts, and a hint to zoom in. */
  showCell(properties) {
    const close = this.frame("Incidents in this cell");
    this.element.append(
      h(
        "dl",
        {},
        h("dt", { textContent: "Incidents" }),
        h("dd", { textContent: figure(properties.incidents) }),
        h("dt", { textContent: "Violations" }),
        h("dd", { textContent: figure(properties.violations) }),
        h("dt", { textContent: "Killed" }),
        h("dd", { textContent: figure(properties.killed) }),
      ),
      h("p", { className: "muted", textContent: "Zoom in to see each incident." }),
    );
    close.focus();
  }

  /** One incident, read from the service with the caller's key. */
  async showIncident(id) {
    const close = this.frame("Incident");
    const body = h("div", { className: "card-body", textContent: "Loading…" });
    this.element.append(body);
    close.focus();
    try {
      const [feature, names] = await Promise.all([
        getJSON(`/collections/incidents/items/${encodeURIComponent(id)}`),
        partyNames(),
      ]);
      body.replaceChildren(this.details(feature, names));
      body.dataset.incident = String(feature.id);
    } catch (error) {
      const box = h("div", { className: "problem", role: "alert" });
      body.replaceChildren(box);
      showProblem(box, error);
    }
  }

  details(feature, names) {
    const p = feature.properties || {};
    const rows = [];
    const add = (term, value) => {
      if (value === undefined || value === null || value === "") return;
      rows.push(h("dt", { textContent: term }));
      rows.push(value instanceof Node ? h("dd", {}, value) : h("dd", { textContent: String(value) }));
    };
    const exact = p.occurred_at && p.occurred_at.includes("T");
    const when = exact ? p.occurred_at.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC") : p.occurred_at;
    add("When", p.time_precision && p.time_precision !== "exact" ? `${when} (${p.time_precision} precision)` : when);
    add("Type", label(VIOLATION_TYPES, p.violation_type));
    add("Ceasefire", label(CEASEFIRE_STATUSES, p.ceasefire_status));
    add("Review", label(REVIEW_STATUSES, p.status));
    const province = this.provinces.get(p.province);
    add(
      "Governorate",
      p.province ? bilingual(p.province_name || province?.name_en || p.province, province?.name_ar) : "",
    );
    add("District", p.district_name);
    add("Place", p.place_name);
    add("Perpetrator", p.perpetrator_party && (names.get(p.perpetrator_party) || p.perpetrator_party));
    add("Target", p.target_party && (names.get(p.target_party) || p.target_party));
    add("Guarantors", (p.responsible_guarantors || []).join(", ") || "none");
    add("Killed", p.killed === undefined ? undefined : figure(p.killed));
    add("Civilians killed", p.civilians_killed === undefined ? undefined : figure(p.civilians_killed));
    add("Injured", p.injured === undefined ? undefined : figure(p.injured));
    add("Reports", p.report_count);
    const point = feature.geometry?.coordinates;
    if (point) {
      const where = `${point[1].toFixed(3)}, ${point[0].toFixed(3)}`;
      add("Position", exact || p.place_name ? where : `${where} (centre of its public grid cell)`);
    }
    return h("dl", {}, ...rows);
  }
}
