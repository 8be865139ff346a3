// The digest page's wiring: which day, the service's documents for it, and the sections.
import { ProblemError, clearProblem, getJSON, getKey, showProblem } from "../lib/api.js";
import { addDays, change, figure, h, when } from "../lib/dom.js";
import { mountHeader } from "../lib/header.js";
import { bilingual } from "../lib/rtl.js";
import { isoDate, readState } from "../lib/urlstate.js";
import { VIOLATION_TYPES, label } from "../lib/vocabulary.js";
import { choropleth, classify, complianceTrend } from "./charts.js";

const DAILY = "/v1/digests/daily";
const FIGURES = [
  ["incidents", "Incidents"],
  ["violations", "Violations"],
  ["verified", "Verified violations"],
  ["excluded", "Involving an excluded party"],
  ["not_party", "By a non-party"],
  ["killed", "Killed"],
  ["injured", "Injured"],
  ["civilians_killed", "Civilians killed"],
];
const FORMATS = [
  ["application/json", "JSON", "json"],
  ["text/csv", "CSV", "csv"],
  ["text/markdown", "Markdown", "md"],
];
const TREND_DAYS = 30;
const DAY_IN_LINK = /\/v1\/digests\/daily\/(\d{4}-\d{2}-\d{2})(?:[/?#]|$)/;

/** A link of the document, as a path of this origin (the document's links are absolute). */
function local(href) {
  const url = new URL(href, location.href);
  return `${url.pathname}${url.search}`;
}

function dayOf(href) {
  return DAY_IN_LINK.exec(new URL(href, location.href).pathname)?.[1] || "";
}

// The governorate the page is narrowed to (the API's `province`: a P-code or any known name).
let narrowed = "";

/** The page's URL for `day`, narrowed as this one is (or to `province`). */
function pageHref(day, province = narrowed) {
  const query = new URLSearchParams({ day });
  if (province) query.set("province", province);
  return `?${query}`;
}

function dayLink(day, text, attrs = {}) {
  return h("a", { href: pageHref(day), ...attrs }, text);
}

function longDate(day) {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString("en-GB", {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
}

function withheld(row) {
  return row?.suppressed ? h("span", { class: "withheld", text: " (withheld)" }) : null;
}

function number(value, key, attrs = {}) {
  return h(
    "td",
    { class: "number", "data-field": key, "data-value": value === null ? "" : value, ...attrs },
    figure(value),
  );
}

/** A table in a box that scrolls sideways on a narrow screen (the page itself never does). */
function table(caption, head, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      attrs,
      h("caption", { text: caption }),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map(([text, numeric]) =>
            h("th", { scope: "col", class: numeric ? "number" : undefined, text }),
          ),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

function section(id, title, ...children) {
  return h(
    "section",
    { id, "aria-labelledby": `${id}-title`, class: "panel" },
    h("h2", { id: `${id}-title`, text: title }),
    ...children,
  );
}

// ---- the sections ----

function heading(doc) {
  const view = doc.disclosure ? "public view (verified incidents only)" : "full view";
  return h(
    "header",
    { class: "digest-head" },
    h("h1", { id: "digest-title" }, `Daily digest, ${longDate(doc.date)}`),
    h(
      "p",
      { class: "muted meta" },
      `Revision ${doc.revision}, generated ${when(doc.generated_at)}; day in ${doc.timezone}; ${view}`,
    ),
    doc.province
      ? h(
          "p",
          { class: "narrowed" },
          `${doc.province.name_en} (${doc.province.pcode}) only. `,
          h("a", { href: pageHref(doc.date, ""), id: "whole-theatre", text: "The whole theatre" }),
        )
      : null,
    h("p", { class: "summary", id: "summary", text: doc.summary }),
  );
}

function totals(doc, previous, meanOf) {
  const rows = FIGURES.map(([key, text]) => {
    const today = doc.totals[key];
    const before = previous ? previous.totals[key] : null;
    const mean = key === "violations" ? doc.comparison.mean : meanOf(key);
    const delta = today === null || before === null || before === undefined ? null : today - before;
    const vsMean =
      key === "violations"
        ? change(doc.comparison.change, doc.comparison.change_pct)
        : today === null || mean === null
          ? "—"
          : change(today - mean, mean ? ((today - mean) * 100) / mean : null);
    return h(
      "tr",
      { "data-figure": key },
      h("th", { scope: "row", text }),
      number(today, "today"),
      number(before ?? null, "day-before"),
      h("td", { class: "number", "data-field": "change", text: change(delta) }),
      h("td", {
        class: "number",
        "data-field": "mean",
        text: mean === null ? "—" : figure(Math.round(mean * 100) / 100),
      }),
      h("td", { class: "number", "data-field": "vs-mean", text: vsMean }),
    );
  });
  const dayBefore = previous ? `Day before (${previous.date})` : "Day before (no digest)";
  const days = doc.comparison.days;
  return section(
    "totals",
    "Totals",
    table(
      `The day's figures${withheld(doc.totals) ? " (withheld: too few incidents)" : ""} against the day before and the mean of the ${days || 7} days before it`,
      [
        ["Figure"],
        ["This day", true],
        [dayBefore, true],
        ["Change", true],
        ["7-day mean", true],
        ["Against the mean", true],
      ],
      rows,
      { id: "totals-table" },
    ),
    h("p", {
      class: "muted",
      text: `Days since the last verified violation: ${doc.days_since_last_verified_violation ?? "none recorded"}. Since ${doc.running_total.since}: ${figure(doc.running_total.violations)} violations, ${figure(doc.running_total.killed)} killed (${doc.running_total.days} days).`,
    }),
  );
}

function guarantors(doc, range) {
  const series = new Map(); // guarantor -> day -> {rate, violations}
  for (const day of range) {
    for (const row of day.by_guarantor) {
      const key = row.guarantor ?? "";
      if (!series.has(key)) series.set(key, new Map());
      series.get(key).set(day.date, { rate: row.compliance?.rate ?? null, violations: row.violations });
    }
  }
  const rows = doc.by_guarantor.map((row) => {
    const name = row.guarantor ? `${row.name || row.guarantor} (${row.guarantor})` : "Unattributed";
    const c = row.compliance;
    return h(
      "tr",
      { "data-guarantor": row.guarantor ?? "none" },
      h("th", { scope: "row" }, name, withheld(row)),
      h(
        "td",
        { class: "number", "data-field": "compliance", "data-value": c ? c.rate : "" },
        c ? `${Math.round(c.rate * 100)}%` : "—",
      ),
      h("td", {
        class: "number",
        "data-field": "violation-free",
        text: c ? `${c.violation_free_days} of ${c.days}` : "—",
      }),
      number(row.violations, "violations"),
      number(row.verified, "verified"),
      number(row.killed, "killed"),
      h(
        "td",
        { class: "trend-cell" },
        c
          ? complianceTrend(series.get(row.guarantor ?? "") || new Map(), doc.date, {
              days: TREND_DAYS,
              label: name,
            })
          : "—",
      ),
    );
  });
  return section(
    "guarantors",
    "Guarantors",
    table(
      "Each guarantor's compliance over 30 days (days without a verified violation by a party it answers for) and the day's violations",
      [
        ["Guarantor"],
        ["Compliance", true],
        ["Violation-free days", true],
        ["Violations", true],
        ["Verified", true],
        ["Killed", true],
        [`Last ${TREND_DAYS} days`],
      ],
      rows,
      { id: "guarantor-table" },
    ),
    h("p", { class: "muted formula", text: doc.compliance_formula }),
  );
}

function governorates(doc, outlines) {
  const arabic = new Map(
    (outlines?.features || []).map((f) => [f.id ?? f.properties.pcode, f.properties.name_ar]),
  );
  const values = new Map(doc.by_province.map((p) => [p.pcode, p.violations]));
  const names = new Map(doc.by_province.map((p) => [p.pcode, p.name_en]));
  const rows = doc.by_province.map((p) =>
    h(
      "tr",
      { "data-pcode": p.pcode, id: `province-${p.pcode}` },
      h(
        "th",
        { scope: "row" },
        h(
          "a",
          { href: pageHref(doc.date, p.pcode), title: `The digest for ${p.name_en} only` },
          bilingual(p.name_en, arabic.get(p.pcode)),
        ),
        withheld(p),
      ),
      number(p.incidents, "incidents"),
      number(p.violations, "violations"),
      number(p.verified, "verified"),
      number(p.killed, "killed"),
      h("td", {
        class: "number",
        "data-field": "trailing-mean",
        text: p.trailing_mean === null ? "—" : figure(p.trailing_mean),
      }),
      h("td", { class: "number", "data-field": "change", text: change(p.change, p.change_pct) }),
      h("td", {
        class: "number",
        "data-field": "days-since",
        text: p.days_since_last_verified_violation ?? "—",
      }),
    ),
  );
  const tableNode = table(
    "The governorates: the day's figures, violations against their 7-day mean, days since the last verified violation",
    [
      ["Governorate"],
      ["Incidents", true],
      ["Violations", true],
      ["Verified", true],
      ["Killed", true],
      ["7-day mean", true],
      ["Change", true],
      ["Days since", true],
    ],
    rows,
    { id: "province-table" },
  );
  const parts = [];
  if (outlines) {
    const pick = (pcode) => {
      const row = document.getElementById(`province-${pcode}`);
      if (!row) return;
      for (const other of tableNode.querySelectorAll("tr.picked")) other.classList.remove("picked");
      row.classList.add("picked");
      row.scrollIntoView({ block: "nearest" });
    };
    const { drawing, most } = choropleth(outlines, values, { names, onPick: pick });
    const legend = h("ul", { class: "legend-scale", "aria-label": "Legend: violations" });
    const steps = [["c0", "0"]];
    // Class k holds the values v with ceil(4v / most) = k (charts.classify).
    for (let k = 1; k <= 4 && most > 0; k += 1) {
      const low = Math.floor(((k - 1) * most) / 4) + 1;
      const high = Math.floor((k * most) / 4);
      if (high >= low) steps.push([classify(high, most), low === high ? `${low}` : `${low}–${high}`]);
    }
    if (doc.disclosure) steps.push(["withheld", "withheld"]);
    if (doc.province) steps.push(["outside", "not in this view"]);
    for (const [cls, text] of steps)
      legend.append(h("li", {}, h("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), text));
    parts.push(
      h("figure", { class: "map-figure" }, drawing, h("figcaption", {}, "Violations by governorate", legend)),
    );
  }
  return section("governorates", "Governorates", h("div", { class: "governorates" }, ...parts, tableNode));
}

/**
 * A section listing rows of figures: each row named (`name`), marked (`mark`: its data-*
 * attribute) and with a number cell per `fields` entry ([key, column title]); `empty` when
 * there is no row, then any `notes`.
 */
function figureSection({ id, title, caption, head, rows, name, mark, fields, empty, notes = [] }) {
  const body = rows.map((row) =>
    h(
      "tr",
      mark(row),
      h("th", { scope: "row" }, name(row), withheld(row)),
      ...fields.map(([key]) => number(row[key], key)),
    ),
  );
  return section(
    id,
    title,
    body.length
      ? table(caption, [[head], ...fields.map(([, text]) => [text, true])], body)
      : h("p", { class: "muted", text: empty }),
    ...notes,
  );
}

function hotspots(doc) {
  const left = doc.disclosure?.hotspots_left_out;
  return figureSection({
    id: "hotspots",
    title: "Hotspots",
    caption: "The districts with the most violations",
    head: "District",
    rows: doc.hotspots,
    name: (d) => d.name_en,
    mark: (d) => ({ "data-pcode": d.pcode }),
    fields: [
      ["violations", "Violations"],
      ["verified", "Verified"],
      ["incidents", "Incidents"],
      ["killed", "Killed"],
    ],
    empty: "No district to show for this day.",
    notes: left
      ? [
          h("p", {
            class: "muted",
            text: `${left} district(s) with fewer than ${doc.disclosure.threshold} incidents left out (public view).`,
          }),
        ]
      : [],
  });
}

function parties(doc) {
  return figureSection({
    id: "parties",
    title: "Parties",
    caption: "Incidents by perpetrator",
    head: "Party",
    rows: doc.by_party,
    name: (p) => (p.party_id ? p.name || p.party_id : "Unknown perpetrator"),
    mark: (p) => ({ "data-party": p.party_id ?? "unknown" }),
    fields: [
      ["incidents", "Incidents"],
      ["violations", "Violations"],
      ["verified", "Verified"],
      ["excluded", "Excluded"],
      ["not_party", "Non-party"],
      ["killed", "Killed"],
    ],
    empty: "No incident this day.",
  });
}

function types(doc) {
  return figureSection({
    id: "types",
    title: "Violation types",
    caption: "Incidents by type (types without one are left out)",
    head: "Type",
    rows: doc.by_type.filter((t) => t.incidents !== 0),
    name: (t) => label(VIOLATION_TYPES, t.violation_type),
    mark: (t) => ({ "data-type": t.violation_type }),
    fields: [
      ["incidents", "Incidents"],
      ["violations", "Violations"],
      ["verified", "Verified"],
    ],
    empty: "No incident this day.",
  });
}

function revisions(doc, history) {
  const items = [...history].reverse().map((r) => {
    const moved = Object.entries(r.changes?.totals || {}).map(
      ([key, v]) => `${key} ${v.before} → ${v.after}`,
    );
    return h(
      "li",
      { "data-revision": r.revision },
      h("strong", {}, `Revision ${r.revision}`),
      ` (${when(r.generated_at)})`,
      r.revision === doc.revision ? " — shown" : "",
      ": ",
      r.changes ? r.changes.summary : "first published",
      moved.length ? h("span", { class: "muted" }, ` (totals: ${moved.join(", ")})`) : "",
      r.changes?.sections?.length
        ? h("span", { class: "muted" }, `; sections: ${r.changes.sections.join(", ")}`)
        : "",
    );
  });
  return section(
    "revisions",
    "Revision history",
    items.length
      ? h("ol", { class: "revisions", reversed: true }, items)
      : h("p", { class: "muted", text: "No revision is visible to you." }),
  );
}

function downloads(doc, problem) {
  const byType = new Map(
    doc.links.filter((l) => l.rel === "self" || l.rel === "alternate").map((l) => [l.type, l.href]),
  );
  const items = FORMATS.filter(([type]) => byType.has(type)).map(([type, text, ext]) => {
    const href = local(byType.get(type));
    const name = `digest-${doc.date}-r${doc.revision}.${ext}`;
    return h(
      "li",
      {},
      h(
        "a",
        {
          href,
          type,
          download: name,
          "data-format": ext,
          on: { click: (e) => saveWithKey(e, href, name, problem) },
        },
        text,
      ),
    );
  });
  const atom = doc.links.find((l) => l.type === "application/atom+xml");
  if (atom)
    items.push(
      h("li", {}, h("a", { href: local(atom.href), type: atom.type, "data-format": "atom" }, "Atom feed")),
    );
  const history = doc.links.find((l) => l.rel === "version-history");
  if (history)
    items.push(
      h(
        "li",
        {},
        h(
          "a",
          { href: local(history.href), type: history.type, "data-format": "revisions" },
          "Revisions (JSON)",
        ),
      ),
    );
  return section("downloads", "Downloads", h("ul", { class: "downloads" }, items));
}

/** A download while signed in: the key goes in a header (never a URL), the bytes to a file. */
async function saveWithKey(event, href, name, problem) {
  if (!getKey()) return; // public: the link itself is the download
  event.preventDefault();
  try {
    const response = await fetch(href, { headers: { Authorization: `Bearer ${getKey()}` } });
    if (!response.ok) {
      const problemBody = await response.json().catch(() => null);
      throw new ProblemError(response.status, problemBody, href);
    }
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    showProblem(problem, error);
  }
}

function calendar(doc, range) {
  const exists = new Set(range.map((d) => d.date));
  const month = doc.date.slice(0, 7);
  const first = `${month}-01`;
  const lead = (new Date(`${first}T00:00:00Z`).getUTCDay() + 6) % 7; // Monday first
  const cells = [];
  for (let i = 0; i < lead; i += 1) cells.push(h("td", {}));
  for (let day = first; day.startsWith(month); day = addDays(day, 1)) {
    const n = Number(day.slice(8));
    const attrs = { "aria-label": longDate(day) };
    if (day === doc.date) attrs["aria-current"] = "date";
    cells.push(
      h(
        "td",
        { class: exists.has(day) ? "has-digest" : "no-digest" },
        exists.has(day) ? dayLink(day, String(n), attrs) : h("span", { ...attrs, text: String(n) }),
      ),
    );
  }
  const rows = [];
  for (let i = 0; i < cells.length; i += 7) rows.push(h("tr", {}, cells.slice(i, i + 7)));
  const title = new Date(`${first}T00:00:00Z`).toLocaleDateString("en-GB", {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
  return h(
    "table",
    { class: "calendar", id: "calendar" },
    h("caption", { text: `${title}: days with a digest are links` }),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"].map((d) => h("th", { scope: "col", text: d })),
      ),
    ),
    h("tbody", {}, rows),
  );
}

function dayNav(doc, range) {
  const prev = doc.links.find((l) => l.rel === "prev");
  const next = doc.links.find((l) => l.rel === "next");
  const picker = h(
    "form",
    { class: "day-picker", action: "" },
    h("label", { for: "day-input", text: "Day" }),
    h("input", { type: "date", id: "day-input", name: "day", value: doc.date, required: true }),
    h("button", { type: "submit", class: "secondary", text: "Show" }),
  );
  return [
    h(
      "div",
      { class: "prev-next" },
      prev
        ? dayLink(dayOf(prev.href), `← ${dayOf(prev.href)}`, { rel: "prev", id: "prev-day" })
        : h("span", { class: "muted", text: "No earlier digest" }),
      next
        ? dayLink(dayOf(next.href), `${dayOf(next.href)} →`, { rel: "next", id: "next-day" })
        : h("span", { class: "muted", text: "No later digest" }),
      picker,
    ),
    calendar(doc, range),
  ];
}

// ---- loading ----

async function load(problem) {
  const article = document.getElementById("digest");
  const nav = document.getElementById("day-nav");
  article.setAttribute("aria-busy", "true");
  clearProblem(problem);
  const query = readState(["day", "province"]);
  const asked = isoDate(query.day);
  narrowed = query.province.slice(0, 200);
  const outlines = getJSON("/v1/provinces", { simplify: 0.02 }).catch(() => null);
  let doc;
  try {
    doc = await getJSON(asked ? `${DAILY}/${asked}` : `${DAILY}/latest`, { province: narrowed });
  } catch (error) {
    showProblem(problem, error);
    article.replaceChildren(
      h("p", { class: "muted", text: asked ? `No digest to show for ${asked}.` : "No digest to show." }),
    );
    nav.replaceChildren(h("a", { href: "digest", text: "The latest digest of the whole theatre" }));
    article.setAttribute("aria-busy", "false");
    return;
  }
  narrowed = doc.province?.pcode || ""; // the P-code, whatever name the URL gave
  // One range gives the trend (30 days to the day), the day before and the calendar month.
  const monthStart = `${doc.date.slice(0, 7)}-01`;
  const from = [addDays(doc.date, -TREND_DAYS), monthStart].sort()[0];
  const to = addDays(addDays(`${doc.date.slice(0, 7)}-28`, 4).slice(0, 7) + "-01", -1);
  const [range, history, shapes] = await Promise.all([
    getJSON(DAILY, { from, to, province: doc.province?.pcode })
      .then((r) => r.days)
      .catch((error) => (showProblem(problem, error), [])),
    getJSON(`${DAILY}/${doc.date}/revisions`).catch((error) => (showProblem(problem, error), [])),
    outlines,
  ]);
  const previous = range.find((d) => d.date === addDays(doc.date, -1)) || null;
  const week = range.filter((d) => d.date < doc.date && d.date >= addDays(doc.date, -7));
  const meanOf = (key) => {
    const known = week.map((d) => d.totals[key]).filter((v) => typeof v === "number");
    return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
  };
  document.title = `Digest ${doc.date} · Ceasefire monitor console`;
  nav.replaceChildren(...dayNav(doc, range));
  const parts = [
    heading(doc),
    totals(doc, previous, meanOf),
    guarantors(doc, range),
    governorates(doc, shapes),
    hotspots(doc),
    parties(doc),
    types(doc),
    revisions(doc, history),
    downloads(doc, problem),
  ];
  if (doc.disclosure)
    parts.push(
      h("p", {
        class: "muted disclosure",
        text: `Public view: figures about fewer than ${doc.disclosure.threshold} incidents are withheld (${doc.disclosure.suppressed_cells} rows this day). ${doc.disclosure.basis}`,
      }),
    );
  article.replaceChildren(...parts);
  article.dataset.day = doc.date;
  article.dataset.revision = doc.revision;
  article.setAttribute("aria-busy", "false");
  document.body.dataset.digest = "ready";
}

export async function startDigestPage() {
  const problem = document.getElementById("problem");
  await mountHeader("digest", () => load(problem));
  await load(problem);
}
