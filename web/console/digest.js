// The digest page: one day's compliance digest (the day in the URL, else the latest), with
// day-over-day and 7-day figures, each guarantor's 30-day compliance trend, the
// governorates as a table and a choropleth, previous/next days, a calendar, the revision
// history and downloads.
import "./lib/console.css";
import "./digest/digest.css";
import { startDigestPage } from "./digest/page.js";

startDigestPage();
