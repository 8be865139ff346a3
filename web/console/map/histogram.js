// The period filter: a daily histogram of the incidents matching the other filters, with a
// two-handled range (two range inputs) and the same range as two date fields. Keyboard: the
// range inputs move a day per arrow key, the date fields take typed dates.
import { h } from "../lib/dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 300;
const HEIGHT = 56;

export function addDays(day, n) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + n);
  return date.toISOString().slice(0, 10);
}

export class Period {
  constructor(onChange) {
    this.onChange = onChange;
    this.days = [];
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("class", "histogram");
    this.svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.svg.setAttribute("role", "img");
    this.svg.setAttribute("aria-label", "Incidents per day");
    this.start = h("input", { type: "range", id: "period-start", min: 0, max: 0, value: 0 });
    this.end = h("input", { type: "range", id: "period-end", min: 0, max: 0, value: 0 });
    this.start.setAttribute("aria-label", "First day of the period");
    this.end.setAttribute("aria-label", "Last day of the period");
    this.from = h("input", { type: "date", id: "from", name: "from" });
    this.to = h("input", { type: "date", id: "to", name: "to" });
    this.element = h(
      "fieldset",
      { className: "period" },
      h("legend", { textContent: "Period" }),
      this.svg,
      h("div", { className: "range" }, this.start, this.end),
      h(
        "div",
        { className: "period-dates" },
        h("div", { className: "field" }, h("label", { for: "from", textContent: "From" }), this.from),
        h("div", { className: "field" }, h("label", { for: "to", textContent: "To" }), this.to),
      ),
    );
    const fromSlider = () => {
      let [a, b] = [Number(this.start.value), Number(this.end.value)];
      if (a > b) [a, b] = [b, a];
      this.set(this.days[a], this.days[b]);
    };
    this.start.addEventListener("input", fromSlider);
    this.end.addEventListener("input", fromSlider);
    const fromDates = () => this.set(this.from.value, this.to.value);
    this.from.addEventListener("change", fromDates);
    this.to.addEventListener("change", fromDates);
  }

  /** The days the period can cover (YYYY-MM-DD, consecutive). */
  setDomain(first, last) {
    this.days = [];
    if (!first || !last) return; // no incident yet: no period to choose
    for (let day = first; day <= last; day = addDays(day, 1)) this.days.push(day);
    for (const input of [this.start, this.end]) input.max = String(this.days.length - 1);
    for (const input of [this.from, this.to]) {
      input.min = first;
      input.max = last;
    }
  }

  /** Select `from`..`to` (either may be "": the domain's end) and tell the page. */
  set(from, to, { quiet = false } = {}) {
    const first = this.days[0] || "";
    const last = this.days[this.days.length - 1] || "";
    let a = from && from >= first && from <= last ? from : first;
    let b = to && to >= first && to <= last ? to : last;
    if (a > b) [a, b] = [b, a];
    this.value = { from: a === first ? "" : a, to: b === last ? "" : b, first: a, last: b };
    this.from.value = a;
    this.to.value = b;
    this.start.value = String(Math.max(0, this.days.indexOf(a)));
    this.end.value = String(Math.max(0, this.days.indexOf(b)));
    this.paint();
    if (!quiet) this.onChange(this.value);
  }

  /** Draw the day counts ({start, incidents}); the selected days stand out. */
  setCounts(buckets) {
    this.counts = new Map(buckets.map((bucket) => [bucket.start, bucket.incidents ?? 0]));
    this.paint();
  }

  paint() {
    if (!this.counts || this.days.length === 0) return;
    const max = Math.max(1, ...this.counts.values());
    const width = WIDTH / this.days.length;
    const bars = this.days.map((day, i) => {
      const count = this.counts.get(day) || 0;
      const height = count ? Math.max(1, (count / max) * (HEIGHT - 2)) : 0;
      const bar = document.createElementNS(SVG, "rect");
      const inside = this.value && day >= this.value.first && day <= this.value.last;
      bar.setAttribute("class", inside ? "bar in" : "bar");
      bar.setAttribute("x", (i * width).toFixed(2));
      bar.setAttribute("y", (HEIGHT - height).toFixed(2));
      bar.setAttribute("width", Math.max(width - 0.2, 0.5).toFixed(2));
      bar.setAttribute("height", height.toFixed(2));
      return bar;
    });
    this.svg.replaceChildren(...bars);
  }
}
