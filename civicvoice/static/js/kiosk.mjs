// The kiosk's idle reset: a tablet left alone returns to the kiosk's first screen for the next person. A touch,
// click, key or typing restarts the wait; a few seconds before the end a notice says so (read out by screen
// readers), and any touch keeps the screen. The kiosk's screens say where home is and how long to wait
// (data-kiosk-home, data-kiosk-idle) and which of them return by themselves (data-kiosk-resets); the tab
// remembers it, so a page reached from the kiosk (its privacy notice, say) returns too: init.mjs loads this
// file on any public page when the tab has been a kiosk. The pages work without this file; the thank-you screen
// then returns by a <noscript> refresh.
const KEY = "cv-kiosk";
const body = document.body;

function remembered() {
  try {
    return JSON.parse(window.sessionStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

let kiosk = null;
if (body.dataset.kioskHome) {
  kiosk = { home: body.dataset.kioskHome, idle: Number(body.dataset.kioskIdle) };
  window.sessionStorage.setItem(KEY, JSON.stringify(kiosk));
  if (!("kioskResets" in body.dataset)) kiosk = null; // the first screen: nothing to reset
} else if (!body.classList.contains("cv-kiosk")) {
  kiosk = remembered(); // a page reached from the kiosk
}

if (kiosk && kiosk.idle > 0 && typeof kiosk.home === "string" && kiosk.home.startsWith("/")) {
  const { home, idle } = kiosk;
  const warning = document.querySelector("#kiosk-idle-warning p");
  const warnBefore = Math.min(10, idle / 2) * 1000;
  let warnTimer = 0;
  let resetTimer = 0;

  const restart = () => {
    window.clearTimeout(warnTimer);
    window.clearTimeout(resetTimer);
    if (warning) warning.hidden = true;
    warnTimer = window.setTimeout(() => {
      if (warning) warning.hidden = false;
    }, idle * 1000 - warnBefore);
    resetTimer = window.setTimeout(() => window.location.replace(home), idle * 1000);
  };

  for (const name of ["pointerdown", "keydown", "input", "touchstart", "wheel"]) {
    document.addEventListener(name, restart, { passive: true, capture: true });
  }
  restart();
}
