// Starts GOV.UK Frontend's components. Module scripts run only in browsers GOV.UK Frontend supports, so the
// classes that switch on its JavaScript-dependent styles are added here rather than by an inline script,
// which the Content-Security-Policy (script-src 'self') forbids. Pages work fully without this file.
import { initAll } from "/static/build/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// A tab that has been a face-to-face kiosk returns to it when left idle, from any public page it reaches.
if (!document.body.classList.contains("cv-kiosk") && !window.location.pathname.startsWith("/staff/")) {
  if (window.sessionStorage.getItem("cv-kiosk")) import("/static/js/kiosk.mjs");
}
