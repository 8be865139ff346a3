// The map's style: no external tiles, glyphs or sprites (no text labels at all), only the
// service's outlines, choropleth and incident tiles over a plain background. The colours
// here are the legend's (legend.js) and the browser tests' (tests/browser/test_map.py).

export const COLORS = {
  background: "#dfe6ec",
  land: "#f7f7f2",
  provinceLine: "#4a5560",
  districtLine: "#9aa5b1",
  selectedLine: "#0a58a8",
};

// Governorates by incidents matching the filters, in five classes scaled to the busiest
// governorate (public rows about too few incidents are withheld and drawn apart).
export const CHOROPLETH_COLORS = ["#f7f7f2", "#e1e9f2", "#c3d3e7", "#a3bbdb", "#83a3cf"];

/** The lower bounds of the classes above "none" for a largest count of `max`. */
export function choroplethBreaks(max) {
  const nice = (value) => {
    if (value <= 10) return Math.max(1, Math.round(value));
    const unit = 10 ** Math.floor(Math.log10(value));
    return Math.round(value / unit) * unit;
  };
  const breaks = [1];
  for (const share of [0.1, 0.3, 0.6]) {
    const bound = nice(max * share);
    if (bound > breaks[breaks.length - 1]) breaks.push(bound);
  }
  return breaks;
}

/** [color, text] per class, for the legend. */
export function choroplethClasses(breaks) {
  return breaks.map((low, i) => {
    const next = breaks[i + 1];
    const text = next === undefined ? `${low} or more` : next - 1 > low ? `${low}-${next - 1}` : `${low}`;
    return [CHOROPLETH_COLORS[i + 1], text];
  });
}

/** The fill expression of the choropleth for these class breaks. */
export function choroplethColor(breaks) {
  return [
    "case",
    ["==", ["get", "suppressed"], true],
    SUPPRESSED[0],
    stepped(
      "incidents",
      breaks.map((low, i) => [low, CHOROPLETH_COLORS[i + 1]]),
      CHOROPLETH_COLORS[0],
    ),
  ];
}

export const SUPPRESSED = ["#e6e6e6", "withheld (too few to show)"];

// Incident cells (low zoom): a red that nothing else on the map uses, darker with more.
export const CELLS = [
  [1, "#e8836f", "1-2"],
  [3, "#c0392b", "3-9"],
  [10, "#96281b", "10 or more"],
];

// Incident points (zoomed in) by ceasefire status.
export const POINTS = [
  ["violation", "#c0392b"],
  ["excluded", "#7b3294"],
  ["not_party", "#b35806"],
  ["outside_period", "#5a6570"],
];

export const POINT_MIN_ZOOM = 8;

function stepped(property, stops, fallback) {
  const expression = ["step", ["coalesce", ["get", property], 0], fallback];
  for (const [threshold, color] of stops) expression.push(threshold, color);
  return expression;
}

/** The style, with the tile URL and GeoJSON URLs given (all of this origin). */
export function buildStyle({ tiles, provinces, districts, attribution }) {
  const choropleth = choroplethColor([1]);
  const pointColor = ["match", ["get", "ceasefire_status"]];
  for (const [status, color] of POINTS) pointColor.push(status, color);
  pointColor.push("#5a6570");
  return {
    version: 8,
    sources: {
      provinces: { type: "geojson", data: provinces, promoteId: "pcode" },
      districts: { type: "geojson", data: districts },
      incidents: {
        type: "vector",
        tiles: [tiles],
        minzoom: 0,
        maxzoom: 14,
        ...(attribution ? { attribution } : {}),
      },
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": COLORS.background } },
      {
        id: "choropleth",
        type: "fill",
        source: "provinces",
        // Fades as the map zooms in, where points and districts matter more.
        paint: {
          "fill-color": choropleth,
          "fill-opacity": ["interpolate", ["linear"], ["zoom"], 6, 1, 9, 0.3],
        },
      },
      {
        id: "district-line",
        type: "line",
        source: "districts",
        minzoom: 6,
        paint: { "line-color": COLORS.districtLine, "line-width": 0.6 },
      },
      {
        id: "province-line",
        type: "line",
        source: "provinces",
        paint: { "line-color": COLORS.provinceLine, "line-width": 1.2 },
      },
      {
        id: "province-selected",
        type: "line",
        source: "provinces",
        filter: ["==", ["get", "pcode"], ""],
        paint: { "line-color": COLORS.selectedLine, "line-width": 3 },
      },
      {
        id: "cells",
        type: "fill",
        source: "incidents",
        "source-layer": "cells",
        paint: {
          "fill-color": stepped("incidents", CELLS.slice(1), CELLS[0][1]),
          "fill-opacity": 0.85,
          "fill-outline-color": "#ffffff",
        },
      },
      {
        id: "points",
        type: "circle",
        source: "incidents",
        "source-layer": "incidents",
        paint: {
          "circle-radius": ["interpolate", ["linear"], ["zoom"], 8, 4, 14, 8],
          "circle-color": pointColor,
          "circle-stroke-color": "#ffffff",
          "circle-stroke-width": 1,
        },
      },
    ],
  };
}
