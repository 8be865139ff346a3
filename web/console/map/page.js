// The map page's wiring: header and key, the map, filters, counts, choropleth and card.
import { AttributionControl, Map as MapLibreMap, NavigationControl, setWorkerUrl } from "maplibre-gl";
import { BASE, apiUrl, getKey, showProblem } from "../lib/api.js";
import { mountHeader } from "../lib/header.js";

// The worker module the build copied beside the bundles (a file of this origin: CSP-clean).
setWorkerUrl(new URL(`./${__MAPLIBRE_WORKER__}`, import.meta.url).href);

const ORIGIN = location.origin;

/** Requests the map makes to this service carry the key; nothing goes anywhere else. */
function transformRequest(url) {
  const key = getKey();
  if (key && url.startsWith(`${ORIGIN}${BASE}/`)) {
    return { url, headers: { Authorization: `Bearer ${key}` } };
  }
  return { url };
}

function tileUrl(filters) {
  const query = new URLSearchParams(filters).toString();
  return `${ORIGIN}${BASE}/tiles/incidents/{z}/{x}/{y}.mvt${query ? `?${query}` : ""}`;
}

function style(filters) {
  return {
    version: 8,
    sources: {
      provinces: {
        type: "geojson",
        data: `${ORIGIN}${apiUrl("/v1/provinces", { simplify: 0.005 })}`,
      },
      districts: {
        type: "geojson",
        data: `${ORIGIN}${apiUrl("/v1/districts", { simplify: 0.005 })}`,
      },
      incidents: { type: "vector", tiles: [tileUrl(filters)], minzoom: 0, maxzoom: 14 },
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#dfe6ec" } },
      {
        id: "province-fill",
        type: "fill",
        source: "provinces",
        paint: { "fill-color": "#f7f7f2", "fill-opacity": 1 },
      },
      {
        id: "district-line",
        type: "line",
        source: "districts",
        minzoom: 6,
        paint: { "line-color": "#9aa5b1", "line-width": 0.6 },
      },
      {
        id: "province-line",
        type: "line",
        source: "provinces",
        paint: { "line-color": "#4a5560", "line-width": 1.2 },
      },
      {
        id: "cells",
        type: "fill",
        source: "incidents",
        "source-layer": "cells",
        paint: { "fill-color": "#c0392b", "fill-opacity": 0.75 },
      },
      {
        id: "points",
        type: "circle",
        source: "incidents",
        "source-layer": "incidents",
        paint: { "circle-radius": 4, "circle-color": "#c0392b" },
      },
    ],
  };
}

export async function startMapPage() {
  const problem = document.getElementById("problem");
  await mountHeader("map", () => location.reload());
  try {
    const map = new MapLibreMap({
      container: "map",
      style: style({}),
      center: [38.5, 35],
      zoom: 5.5,
      hash: "view",
      attributionControl: false,
      transformRequest,
    });
    map.addControl(new NavigationControl({ showCompass: false }), "top-right");
    map.addControl(new AttributionControl({ compact: true }), "bottom-right");
    map.on("dataloading", () => (document.body.dataset.map = "loading"));
    map.on("idle", () => (document.body.dataset.map = "idle"));
    window.consoleMap = map; // for the browser tests and the console's own debugging
  } catch (error) {
    showProblem(problem, error);
  }
}
