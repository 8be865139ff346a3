// The map page: governorate and district outlines, incidents from the service's vector
// tiles, a province choropleth, filters kept in the URL, and an incident's card on click.
import "maplibre-gl/dist/maplibre-gl.css";
import "./lib/console.css";
import "./map/map.css";
import { startMapPage } from "./map/page.js";

startMapPage();
