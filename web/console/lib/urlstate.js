// The page's state in its URL query, so a link reproduces the view: read once at load,
// replaced (not pushed) as the user changes it. The hash is left to its owner (the map's
// view). Values are plain strings; lists are comma-separated.

/** The query's values for `names` (missing ones are ""). */
export function readState(names) {
  const query = new URLSearchParams(location.search);
  return Object.fromEntries(names.map((name) => [name, query.get(name) ?? ""]));
}

/** Write `state` into the query (empty values removed), keeping the path and the hash. */
export function writeState(state) {
  const query = new URLSearchParams(location.search);
  for (const [name, value] of Object.entries(state)) {
    const text = Array.isArray(value) ? value.join(",") : value == null ? "" : String(value);
    if (text) query.set(name, text);
    else query.delete(name);
  }
  const search = query.toString();
  const url = `${location.pathname}${search ? `?${search}` : ""}${location.hash}`;
  history.replaceState(history.state, "", url);
}

/** `value` if it is one of `allowed`, else "" (a hand-edited URL cannot inject a value). */
export function oneOf(value, allowed) {
  return allowed.includes(value) ? value : "";
}

/** A YYYY-MM-DD date or "". */
export function isoDate(value) {
  return /^\d{4}-\d{2}-\d{2}$/.test(value || "") ? value : "";
}
