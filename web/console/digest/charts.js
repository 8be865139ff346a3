// The digest page's two drawings, as SVG built from data (no library, nothing inline):
// a guarantor's 30-day compliance trend, and a choropleth of the governorates.
import { addDays, figure, svg } from "../lib/dom.js";

/**
 * A guarantor's trend over the `days` days ending on `last`: its compliance rate (a line,
 * 0 to 100%) and its violations each day (bars). `series` maps a day to
 * `{rate, violations}`; missing days (no digest) leave gaps.
 */
export function complianceTrend(series, last, { days = 30, label = "" } = {}) {
  const width = 150;
  const height = 36;
  const step = width / days;
  const points = [];
  const counts = [];
  for (let i = 0; i < days; i += 1) {
    const day = addDays(last, i - days + 1);
    const entry = series.get(day);
    points.push(entry && entry.rate !== null && entry.rate !== undefined ? entry.rate : null);
    counts.push(entry ? entry.violations : null);
  }
  const most = Math.max(1, ...counts.filter((c) => typeof c === "number"));
  const known = points.filter((p) => p !== null);
  const first = known[0];
  const latest = known[known.length - 1];
  const total = counts.reduce((sum, c) => sum + (typeof c === "number" ? c : 0), 0);
  const description =
    known.length === 0
      ? `${label}: no compliance figures in the last ${days} days`
      : `${label}: compliance ${Math.round(first * 100)}% to ${Math.round(latest * 100)}% over the` +
        ` last ${days} days; ${figure(total)} attributed violations on the days shown`;
  const drawing = svg("svg", {
    class: "trend",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": description,
  });
  drawing.append(svg("title", { text: description }));
  counts.forEach((count, i) => {
    if (typeof count !== "number" || count === 0) return;
    const barHeight = Math.max(1, (count / most) * (height * 0.45));
    drawing.append(
      svg("rect", {
        class: "trend-bar",
        x: (i * step + 0.5).toFixed(1),
        y: (height - barHeight).toFixed(1),
        width: Math.max(1, step - 1).toFixed(1),
        height: barHeight.toFixed(1),
      }),
    );
  });
  // The rate as a line, broken where a day has no figure.
  let path = "";
  let pen = false;
  points.forEach((rate, i) => {
    if (rate === null) {
      pen = false;
      return;
    }
    const x = (i * step + step / 2).toFixed(1);
    const y = (2 + (1 - rate) * (height - 4)).toFixed(1);
    path += `${pen ? "L" : "M"}${x} ${y}`;
    pen = true;
  });
  if (path) drawing.append(svg("path", { class: "trend-line", d: path }));
  return drawing;
}

/** Classes of violations per governorate: 0, then four steps up to the day's most. */
export function classify(value, most) {
  if (value === null || value === undefined) return "withheld";
  if (value === 0 || most === 0) return "c0";
  return `c${Math.min(4, Math.ceil((value / most) * 4))}`;
}

function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

/**
 * The governorates (a GeoJSON FeatureCollection of the service's outlines) filled by
 * `values` (P-code -> violations, null when withheld), each with a title; `onPick(pcode)`
 * on a click or Enter. An equirectangular projection scaled at the middle latitude.
 */
export function choropleth(collection, values, { names = new Map(), onPick } = {}) {
  const features = collection?.features || [];
  let [west, south, east, north] = [180, 90, -180, -90];
  for (const feature of features) {
    for (const ring of rings(feature.geometry)) {
      for (const [lon, lat] of ring) {
        west = Math.min(west, lon);
        east = Math.max(east, lon);
        south = Math.min(south, lat);
        north = Math.max(north, lat);
      }
    }
  }
  const scale = Math.cos((((north + south) / 2) * Math.PI) / 180);
  const width = 400;
  const height = Math.max(1, Math.round(((north - south) / ((east - west) * scale)) * width));
  const project = ([lon, lat]) =>
    `${(((lon - west) / (east - west)) * width).toFixed(1)} ${(((north - lat) / (north - south)) * height).toFixed(1)}`;
  const most = Math.max(0, ...[...values.values()].filter((v) => typeof v === "number"));
  const drawing = svg("svg", {
    class: "choropleth",
    viewBox: `0 0 ${width} ${height}`,
    role: "group",
    "aria-label": "Violations by governorate",
  });
  for (const feature of features) {
    const pcode = feature.id ?? feature.properties?.pcode;
    const d = rings(feature.geometry)
      .map((ring) => `M${ring.map(project).join("L")}Z`)
      .join("");
    // A governorate the document leaves out (a view narrowed to another) is drawn apart.
    const shown = values.has(pcode);
    const value = shown ? values.get(pcode) : undefined;
    const name = names.get(pcode) || feature.properties?.name_en || pcode;
    const what = !shown ? "not in this view" : value === null ? "withheld" : `${figure(value)} violations`;
    const text = `${name}: ${what}`;
    const area = svg(
      "path",
      {
        d,
        class: `area ${shown ? classify(value, most) : "outside"}`,
        "data-pcode": pcode,
        tabindex: onPick && shown ? 0 : undefined,
        role: onPick && shown ? "button" : "img",
        "aria-label": text,
      },
      svg("title", { text }),
    );
    if (onPick && shown) {
      area.addEventListener("click", () => onPick(pcode));
      area.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          onPick(pcode);
        }
      });
    }
    drawing.append(area);
  }
  return { drawing, most };
}
