// The console's shared header: the service's name, the pages, and the key box (sign in with
// an API key kept for this tab, or sign out). Every page calls mountHeader() once.
import { access, forgetKey, getKey, onKeyChange, setKey } from "./api.js";
import { h as element } from "./dom.js";

export const PAGES = [
  ["map", "Map", "./"],
  ["digest", "Digests", "digest"],
  ["queue", "Verifier queue", "queue"],
];

const ACCESS_TEXT = {
  public: "Public view",
  full: "Signed in: full view",
  refused: "Key refused (unknown or revoked): public view",
};

/**
 * Fill <header id="console-header"> for page `current`. Resolves to the current access
 * ("public", "full" or "refused") and calls `onAccess(access)` after each sign-in or -out.
 */
export async function mountHeader(current, onAccess = () => {}) {
  const header = document.getElementById("console-header");
  header.replaceChildren();
  const nav = element("nav", { ariaLabel: "Console pages" });
  const list = element("ul");
  for (const [name, text, href] of PAGES) {
    const link = element("a", { href, textContent: text });
    if (name === current) link.setAttribute("aria-current", "page");
    list.append(element("li", {}, link));
  }
  nav.append(list);

  const status = element("span", { className: "access", id: "access-status" });
  status.setAttribute("role", "status");
  const form = element("form", { className: "keybox" });
  const input = element("input", {
    type: "password",
    id: "api-key",
    name: "api-key",
    autocomplete: "off",
    spellcheck: false,
    placeholder: "API key",
  });
  const label = element("label", { htmlFor: "api-key", textContent: "API key" });
  const signIn = element("button", { type: "submit", textContent: "Sign in" });
  const signOut = element("button", { type: "button", textContent: "Sign out", id: "sign-out" });
  form.append(label, input, signIn, signOut, status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setKey(input.value);
    input.value = ""; // the field never keeps the secret
  });
  signOut.addEventListener("click", () => forgetKey());

  const brand = element("a", { className: "brand", href: "./", textContent: "Ceasefire monitor" });
  header.append(brand, nav, form);

  const refresh = async () => {
    const signedIn = Boolean(getKey());
    label.hidden = input.hidden = signIn.hidden = signedIn;
    signOut.hidden = !signedIn;
    let now;
    try {
      now = await access();
    } catch {
      now = "public";
    }
    if (now === "refused") {
      forgetKey({ quiet: true }); // an unknown or revoked key is not kept
      label.hidden = input.hidden = signIn.hidden = false;
      signOut.hidden = true;
    }
    status.textContent = ACCESS_TEXT[now];
    status.dataset.access = now;
    return now;
  };
  onKeyChange(async () => onAccess(await refresh()));
  return refresh();
}
