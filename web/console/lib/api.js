// The console's one way to the service's API: the key typed once and kept for this browser
// tab (sessionStorage), sent only as `Authorization: Bearer`, never in a URL; JSON fetched
// from this origin; problem details (RFC 9457) turned into errors a page can show.

const STORAGE = "ceasefire.console.key";
const KEY_EVENT = "console:key";

/** The service's base path: the console lives at <base>/console/, the API at <base>/. */
export const BASE = location.pathname.replace(/\/console(\/.*)?$/, "");

export function getKey() {
  try {
    return sessionStorage.getItem(STORAGE) || null;
  } catch {
    return null; // storage disabled: the console stays public
  }
}

export function setKey(secret) {
  const key = (secret || "").trim();
  if (!key) return forgetKey();
  sessionStorage.setItem(STORAGE, key);
  window.dispatchEvent(new CustomEvent(KEY_EVENT, { detail: { signedIn: true } }));
}

/** Sign out: the key is forgotten by this tab at once (`quiet`: without telling the page). */
export function forgetKey({ quiet = false } = {}) {
  try {
    sessionStorage.removeItem(STORAGE);
  } catch {
    /* nothing stored */
  }
  if (!quiet) window.dispatchEvent(new CustomEvent(KEY_EVENT, { detail: { signedIn: false } }));
}

/** Run `listener` whenever the key changes (signed in or out). */
export function onKeyChange(listener) {
  window.addEventListener(KEY_EVENT, listener);
}

/** Headers carrying the key, if there is one. */
export function authHeaders(extra = {}) {
  const key = getKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
}

/** A same-origin URL for an API path with query parameters (empty values left out). */
export function apiUrl(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    query.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = query.toString();
  return `${BASE}${path}${text ? `?${text}` : ""}`;
}

/** An answer that was not a success, with the service's problem details when it sent them. */
export class ProblemError extends Error {
  constructor(status, problem, url) {
    const detail = problem?.detail || problem?.title || `the service answered ${status}`;
    super(detail);
    this.name = "ProblemError";
    this.status = status;
    this.problem = problem || {};
    this.url = url;
  }

  get title() {
    return this.problem.title || `Error ${this.status}`;
  }
}

/**
 * Fetch an API path and return its JSON (null for 204/304) with the response.
 * Errors: ProblemError for any non-2xx answer, TypeError for a network failure.
 */
export async function fetchJSON(path, { params, method = "GET", body, headers = {}, signal } = {}) {
  const url = apiUrl(path, params);
  const init = { method, headers: authHeaders({ Accept: "application/json", ...headers }), signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, init);
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    let problem = null;
    if (type.includes("json")) problem = await response.json().catch(() => null);
    throw new ProblemError(response.status, problem, url);
  }
  const data = response.status === 204 || !type.includes("json") ? null : await response.json();
  return { data, response };
}

/** GET a path's JSON body. */
export async function getJSON(path, params, options = {}) {
  return (await fetchJSON(path, { ...options, params })).data;
}

/**
 * What the current key may see: "public" (no key, or a reporter's), "full" (a monitor,
 * verifier or admin key) or "refused" (an unknown or revoked key: 401).
 */
export async function access() {
  if (!getKey()) return "public";
  try {
    await fetchJSON("/v1/incidents", { params: { limit: 1 } });
    return "full";
  } catch (error) {
    if (error instanceof ProblemError && error.status === 403) return "public";
    if (error instanceof ProblemError && error.status === 401) return "refused";
    throw error;
  }
}

/** Show an error in `element` (a role="alert" box): the problem's title and detail. */
export function showProblem(element, error) {
  element.replaceChildren();
  element.hidden = false;
  const title = document.createElement("strong");
  const detail = document.createElement("span");
  if (error instanceof ProblemError) {
    title.textContent = `${error.title} (${error.status}): `;
    detail.textContent = error.message;
  } else if (Number.isInteger(error?.status) && error.status > 0) {
    title.textContent = `The service answered ${error.status}: `; // e.g. a map tile refused
    detail.textContent = error.message;
  } else if (error instanceof TypeError && /fetch/i.test(error.message)) {
    title.textContent = "The service could not be reached: "; // fetch's network failure
    detail.textContent = error.message;
  } else {
    title.textContent = "Something went wrong: ";
    detail.textContent = error?.message || String(error);
  }
  element.append(title, detail);
}

/** Hide an error box again. */
export function clearProblem(element) {
  element.replaceChildren();
  element.hidden = true;
}
