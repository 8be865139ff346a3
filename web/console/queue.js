// The verifier's queue: incidents waiting for a verdict (oldest or most casualties first),
// each with its reports, sources and grades and its candidates on a small map; verify,
// dispute, reject or merge with a note, by button or keyboard, always with If-Match.
import "maplibre-gl/dist/maplibre-gl.css";
import "./lib/console.css";
import "./queue/queue.css";
import { startQueuePage } from "./queue/page.js";

startQueuePage();
