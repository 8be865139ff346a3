// Names in two scripts: the English name, then the Arabic one right-to-left with its own
// language, so screen readers and line breaking treat each as what it is.

/** A <span> holding `english` and, when given, `arabic` as lang="ar" dir="rtl". */
export function bilingual(english, arabic, { tag = "span" } = {}) {
  const wrapper = document.createElement(tag);
  wrapper.className = "bilingual";
  const en = document.createElement("span");
  en.lang = "en";
  en.textContent = english || "";
  wrapper.append(en);
  if (arabic) {
    const ar = document.createElement("span");
    ar.lang = "ar";
    ar.dir = "rtl";
    ar.className = "ar";
    ar.textContent = arabic;
    wrapper.append(" ", ar);
  }
  return wrapper;
}
