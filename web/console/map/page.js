// The map page: the header and key, the map (outlines, choropleth, incident tiles), the
// filters (kept in the URL query; the view in the hash), the counts, the governorates'
// table and the incident card.
import { AttributionControl, Map as MapLibreMap, NavigationControl, setWorkerUrl } from "maplibre-gl";
import { BASE, clearProblem, getJSON, getKey, showProblem } from "../lib/api.js";
import { mountHeader } from "../lib/header.js";
import { bilingual } from "../lib/rtl.js";
import { isoDate, oneOf, readState, writeState } from "../lib/urlstate.js";
import { CEASEFIRE_STATUSES, CONFIDENCE_BANDS, REVIEW_STATUSES, VIOLATION_TYPES } from "../lib/vocabulary.js";
import { Card } from "./card.js";
import { h, number, select, withheld as figure } from "../lib/dom.js";
import { Period, addDays } from "./histogram.js";
import { renderLegend } from "./legend.js";
import { buildStyle, choroplethBreaks, choroplethColor } from "./style.js";

// The worker module the build copied beside the bundles (a file of this origin: CSP-clean).
setWorkerUrl(new URL(`./${__MAPLIBRE_WORKER__}`, import.meta.url).href);

const ORIGIN = location.origin;
const STATE = [
  "from",
  "to",
  "province",
  "guarantor",
  "ceasefire_status",
  "violation_type",
  "confidence",
  "status",
];
const codes = (vocabulary) => vocabulary.map(([code]) => code);
const COUNTED_STATUSES = "unverified,verified,disputed";

/** Requests the map makes to this service carry the key; nothing goes anywhere else. */
function transformRequest(url) {
  const key = getKey();
  if (key && url.startsWith(`${ORIGIN}${BASE}/`)) {
    return { url, headers: { Authorization: `Bearer ${key}` } };
  }
  return { url };
}

function absolute(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  return `${ORIGIN}${BASE}${path}${query ? `?${query}` : ""}`;
}

class MapPage {
  constructor(view) {
    this.view = view; // "public" or "full"
    this.problem = document.getElementById("problem");
    this.sidebar = document.getElementById("filters");
    this.provinces = new Map();
    this.pending = null;
  }

  /** The filters as the API spells them (the period as since/until, whole local days). */
  apiFilters({ period = true } = {}) {
    const s = this.state;
    const filters = {
      province: s.province,
      guarantor: s.guarantor,
      ceasefire_status: s.ceasefire_status,
      violation_type: s.violation_type,
      confidence: s.confidence,
      // The full view's default, as the counts take it: no rejected or merged incident.
      status: this.view === "full" ? s.status || COUNTED_STATUSES : "",
    };
    if (period) {
      const value = this.period.value;
      filters.since = value?.first || "";
      filters.until = value?.last ? addDays(value.last, 1) : "";
    }
    return Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
  }

  readState(guarantors) {
    const raw = readState(STATE);
    this.state = {
      from: isoDate(raw.from),
      to: isoDate(raw.to),
      province: oneOf(raw.province, [...this.provinces.keys()]),
      guarantor: oneOf(raw.guarantor, guarantors.map((g) => g.id)),
      ceasefire_status: oneOf(raw.ceasefire_status, codes(CEASEFIRE_STATUSES)),
      violation_type: oneOf(raw.violation_type, codes(VIOLATION_TYPES)),
      confidence: oneOf(raw.confidence, codes(CONFIDENCE_BANDS)),
      status: this.view === "full" ? oneOf(raw.status, codes(REVIEW_STATUSES)) : "",
    };
  }

  async start() {
    const [guarantors, tilejson, provinces, domain] = await Promise.all([
      getJSON("/v1/guarantors"),
      getJSON("/tiles/incidents.json"),
      getJSON("/v1/stats/provinces"),
      getJSON("/v1/stats/timeseries", { interval: "day" }),
    ]);
    for (const feature of provinces.features) {
      const p = feature.properties;
      this.provinces.set(p.pcode, { name_en: p.name_en, name_ar: p.name_ar });
    }
    this.readState(guarantors);
    this.buildSidebar(guarantors);
    const days = domain.buckets.map((bucket) => bucket.start);
    this.period.setDomain(days[0], days[days.length - 1]);
    this.period.set(this.state.from, this.state.to, { quiet: true });
    this.card = new Card(document.getElementById("card"), this.provinces);
    this.buildMap(tilejson);
    await this.refresh();
  }

  buildSidebar(guarantors) {
    this.period = new Period(() => this.changed());
    const province = select(
      "province",
      "Governorate",
      [...this.provinces].map(([pcode, names]) => [pcode, names.name_en]),
    );
    const guarantor = select(
      "guarantor",
      "Guarantor answering for the perpetrator",
      guarantors.map((g) => [g.id, g.name]),
    );
    const ceasefire = select("ceasefire_status", "Ceasefire status", CEASEFIRE_STATUSES);
    const type = select("violation_type", "Violation type", VIOLATION_TYPES);
    const confidence = select("confidence", "Confidence", CONFIDENCE_BANDS);
    const controls = { province, guarantor, ceasefire_status: ceasefire, violation_type: type, confidence };
    this.controls = controls;
    const fields = [province.field, guarantor.field, ceasefire.field, type.field, confidence.field];
    if (this.view === "full") {
      const status = select("status", "Review status", REVIEW_STATUSES, "Unverified, verified, disputed");
      controls.status = status;
      fields.push(status.field);
    }
    for (const [name, { control }] of Object.entries(controls)) {
      control.value = this.state[name];
      control.addEventListener("change", () => {
        this.state[name] = control.value;
        this.changed();
      });
    }
    this.counts = h("p", { className: "counts", id: "counts", role: "status" });
    this.table = h("tbody");
    const reset = h("button", { type: "button", className: "secondary", textContent: "Clear filters" });
    reset.addEventListener("click", () => {
      for (const [name, { control }] of Object.entries(controls)) {
        control.value = this.state[name] = "";
      }
      this.period.set("", "", { quiet: true });
      this.changed();
    });
    this.sidebar.replaceChildren(
      h("h1", { className: "page-title", textContent: "Incidents" }),
      this.counts,
      this.period.element,
      ...fields,
      reset,
      h("h2", { textContent: "Governorates" }),
      h(
        "table",
        { className: "governorates" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col", textContent: "Governorate" }),
            h("th", { scope: "col", className: "number", textContent: "Incidents" }),
            h("th", { scope: "col", className: "number", textContent: "Killed" }),
          ),
        ),
        this.table,
      ),
    );
  }

  buildMap(tilejson) {
    const narrow = matchMedia("(max-width: 600px)").matches;
    this.map = new MapLibreMap({
      container: "map",
      style: buildStyle({
        tiles: absolute("/tiles/incidents/{z}/{x}/{y}.mvt", this.apiFilters()),
        provinces: absolute("/v1/stats/provinces", this.apiFilters()),
        districts: absolute("/v1/districts", { simplify: "0.005" }),
        attribution: tilejson.attribution,
      }),
      // The theatre's extent (the hash, when the URL has one, wins).
      ...(tilejson.bounds ? { bounds: tilejson.bounds, fitBoundsOptions: { padding: 20 } } : { center: [0, 0], zoom: 1 }),
      hash: "view",
      attributionControl: false,
      transformRequest,
    });
    const map = this.map;
    map.addControl(new NavigationControl({ showCompass: false }), "top-right");
    map.addControl(new AttributionControl({ compact: narrow }), "bottom-right");
    map.on("dataloading", () => (document.body.dataset.map = "loading"));
    map.on("idle", () => (document.body.dataset.map = "idle"));
    // When the first map was drawn, tiles included (ms since navigation: bench/console.py).
    map.once("idle", () => (document.body.dataset.firstMapMs = String(Math.round(performance.now()))));
    // A tile or outline the service refused: shown unless the page already shows a problem
    // (the same refusal of a JSON request says it with the service's own words).
    map.on("error", (event) => {
      if (this.problem.hidden) showProblem(this.problem, event.error || new Error("map error"));
    });
    for (const layer of ["cells", "points"]) {
      map.on("mouseenter", layer, () => (map.getCanvas().style.cursor = "pointer"));
      map.on("mouseleave", layer, () => (map.getCanvas().style.cursor = ""));
    }
    map.on("click", (event) => {
      const [hit] = map.queryRenderedFeatures(event.point, { layers: ["points", "cells"] });
      if (!hit) return;
      if (hit.layer.id === "points" && hit.properties.id) this.card.showIncident(hit.properties.id);
      else this.card.showCell(hit.properties);
    });
    window.consoleMap = map; // for the browser tests and debugging from the browser's console
  }

  changed() {
    writeState({ ...this.state, from: this.period.value.from, to: this.period.value.to });
    document.body.dataset.counts = "loading";
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.refresh(), 200);
  }

  async refresh() {
    const filters = this.apiFilters();
    document.body.dataset.counts = "loading";
    const map = this.map;
    const apply = () => {
      map.getSource("incidents").setTiles([absolute("/tiles/incidents/{z}/{x}/{y}.mvt", filters)]);
      map.getSource("provinces").setData(absolute("/v1/stats/provinces", filters));
      map.setFilter("province-selected", ["==", ["get", "pcode"], this.state.province || ""]);
    };
    if (map.isStyleLoaded()) apply();
    else map.once("load", apply);
    try {
      const days = this.period.days;
      const [stats, series] = await Promise.all([
        getJSON("/v1/stats/provinces", filters),
        days.length === 0
          ? { buckets: [] } // no incident at all yet: nothing to draw
          : getJSON("/v1/stats/timeseries", {
              ...this.apiFilters({ period: false }),
              interval: "day",
              since: days[0],
              until: addDays(days[days.length - 1], 1),
            }),
      ]);
      clearProblem(this.problem);
      this.period.setCounts(series.buckets);
      const rows = stats.features.map((feature) => feature.properties);
      this.showCounts(rows);
      const breaks = choroplethBreaks(Math.max(0, ...rows.map((row) => row.incidents ?? 0)));
      const paint = () => map.setPaintProperty("choropleth", "fill-color", choroplethColor(breaks));
      if (map.isStyleLoaded()) paint();
      else map.once("load", paint);
      renderLegend(document.getElementById("legend"), { publicView: this.view !== "full", breaks });
    } catch (error) {
      showProblem(this.problem, error);
    }
    document.body.dataset.counts = "ready";
  }

  /** A governorate's name as a button: it filters the map to that governorate (or back). */
  provinceButton(row) {
    const selected = this.state.province === row.pcode;
    const button = h("button", { type: "button", className: "link-button" }, bilingual(row.name_en, row.name_ar));
    button.setAttribute("aria-pressed", String(selected));
    button.title = selected ? "Show every governorate" : `Show ${row.name_en} only`;
    button.addEventListener("click", () => {
      this.state.province = selected ? "" : row.pcode;
      this.controls.province.control.value = this.state.province;
      this.changed();
    });
    return button;
  }

  showCounts(rows) {
    const sum = (name) => rows.reduce((total, row) => total + (row[name] ?? 0), 0);
    const withheld = rows.filter((row) => row.suppressed).length;
    const incidents = sum("incidents");
    this.counts.dataset.incidents = String(incidents);
    this.counts.replaceChildren(
      h("strong", { textContent: number.format(incidents) }),
      ` incidents · ${number.format(sum("violations"))} violations · ${number.format(sum("killed"))} killed`,
      withheld
        ? h("span", {
            className: "muted withheld",
            textContent: ` (${withheld} governorate${withheld > 1 ? "s" : ""} with too few to show left out)`,
          })
        : "",
    );
    const ordered = [...rows].sort((a, b) => (b.incidents ?? -1) - (a.incidents ?? -1));
    this.table.replaceChildren(
      ...ordered.map((row) =>
        h(
          "tr",
          { dataset: { pcode: row.pcode } },
          h("td", {}, this.provinceButton(row)),
          h("td", { className: "number", textContent: figure(row.incidents) }),
          h("td", { className: "number", textContent: figure(row.killed) }),
        ),
      ),
    );
  }
}

export async function startMapPage() {
  const problem = document.getElementById("problem");
  try {
    const view = await mountHeader("map", () => location.reload());
    await new MapPage(view === "full" ? "full" : "public").start();
  } catch (error) {
    showProblem(problem, error);
  }
}
