// The queue's small map: the service's own governorate and district outlines, the selected
// incident (red) and its candidates (blue; the chosen one ringed), nothing from elsewhere.
import { LngLatBounds, Map as MapLibreMap, NavigationControl, setWorkerUrl } from "maplibre-gl";
import { apiUrl } from "../lib/api.js";

setWorkerUrl(new URL(`./${__MAPLIBRE_WORKER__}`, import.meta.url).href);

const EMPTY = { type: "FeatureCollection", features: [] };

function style() {
  const outlines = (path) => ({
    type: "geojson",
    data: `${location.origin}${apiUrl(path, { simplify: 0.005 })}`,
  });
  return {
    version: 8,
    sources: {
      provinces: outlines("/v1/provinces"),
      districts: outlines("/v1/districts"),
      points: { type: "geojson", data: EMPTY },
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#dfe6ec" } },
      { id: "province-fill", type: "fill", source: "provinces", paint: { "fill-color": "#f7f7f2" } },
      {
        id: "district-line",
        type: "line",
        source: "districts",
        paint: { "line-color": "#9aa5b1", "line-width": 0.6 },
      },
      {
        id: "province-line",
        type: "line",
        source: "provinces",
        paint: { "line-color": "#4a5560", "line-width": 1.2 },
      },
      {
        id: "points",
        type: "circle",
        source: "points",
        paint: {
          "circle-radius": ["case", ["==", ["get", "kind"], "incident"], 7, 5],
          "circle-color": ["case", ["==", ["get", "kind"], "incident"], "#c0392b", "#0a58a8"],
          "circle-stroke-color": ["case", ["get", "chosen"], "#c25100", "#ffffff"],
          "circle-stroke-width": ["case", ["get", "chosen"], 3, 1.5],
        },
      },
    ],
  };
}

/** A map in `container`; `show(item, chosen)` draws an item's incident and candidates. */
export function queueMap(container) {
  const map = new MapLibreMap({
    container,
    style: style(),
    center: [38.5, 35],
    zoom: 5,
    attributionControl: { compact: true },
  });
  map.addControl(new NavigationControl({ showCompass: false }), "top-right");
  map.on("idle", () => (container.dataset.map = "idle"));
  map.on("dataloading", () => (container.dataset.map = "loading"));
  let pending = null;
  const draw = ({ item, chosen }) => {
    const features = [];
    const add = (incident, kind, index) => {
      if (!incident.location) return;
      features.push({
        type: "Feature",
        geometry: incident.location,
        properties: { kind, index, chosen: incident.id === chosen },
      });
    };
    add(item.incident, "incident", 0);
    item.candidates.forEach((c, i) => add(c.incident, "candidate", i + 1));
    map.getSource("points").setData({ type: "FeatureCollection", features });
    if (features.length) {
      const bounds = new LngLatBounds();
      for (const f of features) bounds.extend(f.geometry.coordinates);
      map.fitBounds(bounds, { padding: 40, maxZoom: 8, duration: 0 });
    }
  };
  map.on("load", () => {
    if (pending) draw(pending);
    pending = null;
  });
  return {
    map,
    show(item, chosen = null) {
      // Before the style has loaded, the latest item waits for it (an older one never wins).
      pending = { item, chosen };
      if (map.getSource("points")) {
        draw(pending);
        pending = null;
      }
    },
  };
}
