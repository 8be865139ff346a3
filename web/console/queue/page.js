// The queue page's wiring: who may see it, the list, the selected incident, the actions
// (each sent with If-Match, a 412 shown and the incident reloaded) and the keyboard.
import { ProblemError, clearProblem, fetchJSON, getKey, showProblem } from "../lib/api.js";
import { change, figure, h, when } from "../lib/dom.js";
import { mountHeader } from "../lib/header.js";
import { oneOf, readState, writeState } from "../lib/urlstate.js";
import { CEASEFIRE_STATUSES, REVIEW_STATUSES, VIOLATION_TYPES, label } from "../lib/vocabulary.js";
import { queueMap } from "./map.js";

const ORDERS = ["oldest", "casualties"];
const PAGE_SIZE = 50;
const ACTIONS = {
  v: ["verified", "Verify"],
  d: ["disputed", "Dispute"],
  r: ["rejected", "Reject"],
};
const WAITING = new Set(["unverified"]);
const CONFLICT =
  "Someone else changed this incident since you loaded it; nothing was overwritten. It has been reloaded: check it and act again.";

const state = {
  order: "oldest",
  items: [],
  next: null,
  selected: -1,
  chosen: null, // the candidate's id to merge into
  busy: false,
  map: null,
};

const $ = (id) => document.getElementById(id);

function notice(text) {
  $("notice").textContent = text;
}

// ---- rendering ----

function casualties(c) {
  return `${figure(c.killed)} killed, ${figure(c.injured)} injured (${figure(c.civilians_killed)} civilians)`;
}

function where(event) {
  return [event.place_name, event.district?.name_en, event.province?.name_en].filter(Boolean).join(", ");
}

function party(ref) {
  return ref?.party_name || ref?.raw || "unknown";
}

function listItem(item, index) {
  const i = item.incident;
  const button = h(
    "button",
    {
      type: "button",
      class: "queue-item",
      id: `item-${i.id}`,
      "data-id": i.id,
      "aria-current": index === state.selected ? "true" : undefined,
      on: { click: () => select(index, { focus: false }) },
    },
    h("span", { class: "when", text: when(i.occurred_at) }),
    h("span", { class: "what", text: `${label(VIOLATION_TYPES, i.violation_type)} · ${where(i)}` }),
    h("span", {
      class: "muted",
      text: `${figure(i.casualties.killed)} killed · ${i.report_count} report(s)${i.pending_review ? " · reports held for review" : ""}${item.candidates.length ? ` · ${item.candidates.length} candidate(s)` : ""}`,
    }),
  );
  return h("li", {}, button);
}

function renderList() {
  const list = $("queue-list");
  list.replaceChildren(...state.items.map(listItem));
  if (!state.items.length) list.append(h("li", { class: "muted", text: "Nothing waits for a verdict." }));
  $("more").hidden = !state.next;
}

function grade(source) {
  if (!source.reliability && !source.credibility) return "ungraded";
  return `${source.reliability || "?"}${source.credibility || "?"}`;
}

function report(r) {
  return h(
    "li",
    { class: "report", "data-report": r.id },
    h(
      "p",
      {},
      h("strong", { text: when(r.occurred_at) }),
      ` · ${label(VIOLATION_TYPES, r.violation_type)} · ${where(r)}`,
    ),
    h("p", {}, `By ${party(r.perpetrator)} against ${party(r.target)}; ${casualties(r.casualties)}`),
    r.description ? h("p", { class: "description", text: r.description }) : null,
    h(
      "ul",
      { class: "sources", "aria-label": "Sources and grades (Admiralty: reliability A-F, credibility 1-6)" },
      r.sources.map((s) =>
        h(
          "li",
          {},
          h("span", { class: "grade", title: "reliability / credibility", text: grade(s) }),
          ` ${s.kind}`,
          s.publisher ? `: ${s.publisher}` : "",
          s.url ? h("span", { class: "muted url", text: ` ${s.url}` }) : null,
        ),
      ),
    ),
    h("p", { class: "muted" }, `Reporter: ${r.reporter?.name || "—"}; revision ${r.revision}`),
  );
}

function candidate(c, index) {
  const i = c.incident;
  const id = `candidate-${i.id}`;
  return h(
    "li",
    { class: "candidate" },
    h("input", {
      type: "radio",
      name: "merge-into",
      id,
      value: i.id,
      checked: state.chosen === i.id,
      on: { change: () => choose(i.id) },
    }),
    h(
      "label",
      { for: id },
      h("strong", { text: `${index + 1}. ` }),
      `${label(VIOLATION_TYPES, i.violation_type)} · ${where(i)} · ${label(REVIEW_STATUSES, i.status)}; ${casualties(i.casualties)}; `,
      c.distance_km === null
        ? "distance unknown (one has no point)"
        : `${figure(Math.round(c.distance_km * 10) / 10)} km`,
      `, ${change(c.hours_apart)} h`,
    ),
  );
}

/** For a reviewed incident holding reports: publish them with the verdict, decline them,
 * or leave them waiting (the review's `accept_reports`: true, false, omitted). */
function held(incident) {
  if (!incident.pending_review) return null;
  const proposed = incident.proposed;
  const choice = (value, text) =>
    h(
      "label",
      { class: "held-choice" },
      h("input", { type: "radio", name: "accept-reports", value, checked: value === "" }),
      ` ${text}`,
    );
  return h(
    "fieldset",
    { class: "held", id: "held" },
    h("legend", { text: `Reports held for review since ${when(incident.pending_since)}` }),
    proposed
      ? h("p", {
          class: "muted",
          text: `With every report (${proposed.report_count}) the figures would be ${casualties(proposed.casualties)}.`,
        })
      : null,
    choice("", "leave them waiting"),
    choice("true", "publish them with the verdict"),
    choice("false", "decline them"),
  );
}

function acceptReports() {
  const value = document.querySelector("input[name='accept-reports']:checked")?.value;
  return value === "true" ? true : value === "false" ? false : undefined;
}

function renderDetail() {
  const detail = $("detail");
  const item = state.items[state.selected];
  if (!item) {
    detail.replaceChildren(h("p", { class: "muted", text: "No incident selected." }));
    return;
  }
  const i = item.incident;
  const note = h("textarea", {
    id: "note",
    name: "note",
    rows: 3,
    maxlength: 2000,
    placeholder: "Why (kept with the incident and in the audit trail)",
  });
  const actions = h(
    "div",
    { class: "actions" },
    ...Object.entries(ACTIONS).map(([key, [status, text]]) =>
      h(
        "button",
        {
          type: "button",
          id: `act-${status}`,
          "aria-keyshortcuts": key,
          on: { click: () => review(status) },
        },
        text,
        h("kbd", { "aria-hidden": "true", text: key }),
      ),
    ),
    h(
      "button",
      {
        type: "button",
        id: "act-merge",
        class: "secondary",
        "aria-keyshortcuts": "m",
        disabled: !item.candidates.length,
        on: { click: () => merge() },
      },
      "Merge into the chosen",
      h("kbd", { "aria-hidden": "true", text: "m" }),
    ),
  );
  detail.replaceChildren(
    h("h2", { id: "detail-title" }, `${label(VIOLATION_TYPES, i.violation_type)}, ${when(i.occurred_at)}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", { text: "Where" }),
      h("dd", { text: where(i) || "unknown" }),
      h("dt", { text: "Parties" }),
      h("dd", { text: `${party(i.perpetrator)} against ${party(i.target)}` }),
      h("dt", { text: "Ceasefire" }),
      h("dd", {
        text: `${label(CEASEFIRE_STATUSES, i.ceasefire_status)}${i.responsible_guarantors.length ? ` (guarantors: ${i.responsible_guarantors.join(", ")})` : ""}`,
      }),
      h("dt", { text: "Casualties" }),
      h("dd", { text: casualties(i.casualties) }),
      h("dt", { text: "Status" }),
      h("dd", {
        id: "detail-status",
        text: `${label(REVIEW_STATUSES, i.status)}${i.pending_review ? ", reports held for review" : ""}`,
      }),
    ),
    h(
      "div",
      { class: "detail-grid" },
      h(
        "div",
        {},
        h("h3", { text: `Reports (${item.reports.length})` }),
        h("ol", { class: "reports" }, item.reports.map(report)),
        h("h3", { text: `Candidates (${item.candidates.length})` }),
        item.candidates.length
          ? h(
              "ol",
              { class: "candidates", "aria-label": "Candidates to merge into (1-5 choose)" },
              item.candidates.map(candidate),
            )
          : h("p", { class: "muted", text: "No likely duplicate nearby." }),
      ),
      h("div", {
        id: "queue-map",
        class: "queue-map",
        role: "img",
        "aria-label": "The incident (red) and its candidates (blue) on the map",
      }),
    ),
    h(
      "form",
      { class: "act", on: { submit: (e) => e.preventDefault() } },
      held(i),
      h("label", { for: "note", text: "Note" }),
      note,
      actions,
    ),
  );
  const container = $("queue-map");
  if (!state.map) {
    state.map = queueMap(container);
    window.queueMap = state.map.map; // for the browser tests and the console's own debugging
  } else container.replaceWith(state.map.map.getContainer());
  state.map.map.resize();
  state.map.show(item, state.chosen);
}

function select(index, { focus = true } = {}) {
  if (!state.items.length) return;
  const next = Math.max(0, Math.min(state.items.length - 1, index));
  if (next !== state.selected) state.chosen = null;
  state.selected = next;
  for (const node of document.querySelectorAll(".queue-item[aria-current]"))
    node.removeAttribute("aria-current");
  const button = $(`item-${state.items[next].incident.id}`);
  button?.setAttribute("aria-current", "true");
  if (focus) button?.focus();
  renderDetail();
}

function choose(id) {
  state.chosen = id;
  const radio = $(`candidate-${id}`);
  if (radio) radio.checked = true;
  state.map?.show(state.items[state.selected], id);
}

// ---- the service ----

async function loadQueue({ more = false } = {}) {
  const params = more ? undefined : { order: state.order, limit: PAGE_SIZE };
  const path = more ? new URL(state.next).pathname + new URL(state.next).search : "/v1/review-queue";
  const { data } = await fetchJSON(path, { params });
  state.items = more ? [...state.items, ...data.items] : data.items;
  state.next = data.next;
  renderList();
  if (!more) {
    state.selected = -1;
    select(0, { focus: false });
    if (!state.items.length) renderDetail();
  }
  document.body.dataset.queue = "ready";
}

/** The incident again (its new version and ETag); reports and candidates as loaded. */
async function reloadItem(index) {
  const item = state.items[index];
  const { data, response } = await fetchJSON(`/v1/incidents/${item.incident.id}`);
  if (!WAITING.has(data.status) && !data.pending_review) {
    removeItem(index);
    return data;
  }
  state.items[index] = { ...item, incident: data, etag: response.headers.get("ETag") || item.etag };
  renderList();
  select(index, { focus: false });
  return data;
}

function removeItem(index) {
  state.items.splice(index, 1);
  renderList();
  state.selected = -1;
  if (state.items.length) select(Math.min(index, state.items.length - 1));
  else renderDetail();
}

async function act(path, body, done) {
  if (state.busy) return;
  const index = state.selected;
  const item = state.items[index];
  if (!item) return;
  state.busy = true;
  clearProblem($("problem"));
  delete $("problem").dataset.conflict;
  delete $("problem").dataset.reloaded;
  try {
    await fetchJSON(path(item), { method: "POST", body, headers: { "If-Match": item.etag } });
    removeItem(index);
    notice(done(item));
  } catch (error) {
    if (error instanceof ProblemError && error.status === 412) {
      const problem = $("problem");
      problem.replaceChildren(h("strong", { text: "Conflict: " }), CONFLICT);
      problem.hidden = false;
      problem.dataset.conflict = "true";
      try {
        const now = await reloadItem(index);
        if (!WAITING.has(now.status) && !now.pending_review) {
          problem.append(
            ` It is now ${label(REVIEW_STATUSES, now.status).toLowerCase()} and has left the queue.`,
          );
        }
        problem.dataset.reloaded = "true";
      } catch (reloadError) {
        showProblem(problem, reloadError);
      }
    } else {
      showProblem($("problem"), error);
    }
  } finally {
    state.busy = false;
  }
}

function noteText() {
  return $("note")?.value.trim() || undefined;
}

function review(status) {
  const note = noteText();
  return act(
    (item) => `/v1/incidents/${item.incident.id}/review`,
    { status, note, accept_reports: acceptReports() },
    (item) =>
      `${label(REVIEW_STATUSES, status)}: ${label(VIOLATION_TYPES, item.incident.violation_type)}, ${where(item.incident)}.`,
  );
}

function merge() {
  const item = state.items[state.selected];
  if (!item) return undefined;
  if (!state.chosen || !item.candidates.some((c) => c.incident.id === state.chosen)) {
    const problem = $("problem");
    problem.replaceChildren(
      h("strong", { text: "Nothing merged: " }),
      "choose the candidate to merge into first (keys 1-5, or its button).",
    );
    problem.hidden = false;
    return undefined;
  }
  const into = state.chosen;
  return act(
    (it) => `/v1/incidents/${it.incident.id}/merge`,
    { into, note: noteText() },
    () => `Merged into the chosen candidate.`,
  );
}

// ---- the keyboard ----

function typing(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) &&
    target.type !== "radio"
  );
}

function onKey(event) {
  if ($("queue").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  if (typing(event.target)) {
    if (event.key === "Escape") {
      event.target.blur();
      $(`item-${state.items[state.selected]?.incident.id}`)?.focus();
    }
    return;
  }
  const key = event.key.toLowerCase();
  const item = state.items[state.selected];
  let handled = true;
  if (key === "j") select(state.selected + 1);
  else if (key === "k") select(state.selected - 1);
  else if (key === "n") $("note")?.focus();
  else if (ACTIONS[key]) review(ACTIONS[key][0]);
  else if (key === "m") merge();
  else if (/^[1-5]$/.test(key) && item?.candidates[Number(key) - 1])
    choose(item.candidates[Number(key) - 1].incident.id);
  else handled = false;
  if (handled) event.preventDefault();
}

// ---- the page ----

async function open(access) {
  const gate = $("gate");
  const queue = $("queue");
  clearProblem($("problem"));
  notice("");
  if (!getKey() || access !== "full") {
    queue.hidden = true;
    gate.hidden = false;
    gate.replaceChildren(
      h("h1", { text: "The verifier's queue" }),
      h("p", {
        id: "gate-message",
        text: "The queue is for verifier and admin keys: sign in with one above (the key stays in this tab only). Public figures are on the map and the digests.",
      }),
    );
    document.body.dataset.queue = "gated";
    return;
  }
  try {
    gate.hidden = true;
    queue.hidden = false;
    await loadQueue();
  } catch (error) {
    queue.hidden = true;
    gate.hidden = false;
    const refused = error instanceof ProblemError && error.status === 403;
    gate.replaceChildren(
      h("h1", { text: "The verifier's queue" }),
      h("p", {
        id: "gate-message",
        text: refused
          ? "This key may not review incidents: the queue is for verifier and admin keys."
          : "The queue could not be loaded.",
      }),
    );
    if (!refused) showProblem($("problem"), error);
    document.body.dataset.queue = "gated";
  }
}

export async function startQueuePage() {
  state.order = oneOf(readState(["order"]).order, ORDERS) || "oldest";
  $("order").value = state.order;
  $("order").addEventListener("change", async (event) => {
    state.order = oneOf(event.target.value, ORDERS) || "oldest";
    writeState({ order: state.order === "oldest" ? "" : state.order });
    try {
      await loadQueue();
    } catch (error) {
      showProblem($("problem"), error);
    }
  });
  $("more").addEventListener("click", () =>
    loadQueue({ more: true }).catch((error) => showProblem($("problem"), error)),
  );
  document.addEventListener("keydown", onKey);
  const access = await mountHeader("queue", (now) => open(now));
  await open(access);
}
