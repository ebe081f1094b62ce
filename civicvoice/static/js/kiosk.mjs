// The kiosk's idle reset: on a screen that sets data-kiosk-idle (seconds) and data-kiosk-home, a tablet left
// alone returns to the first screen for the next person. A touch, click, key or typing restarts the wait; a
// few seconds before the end a notice says so (read out by screen readers), and any touch keeps the screen.
// The pages work without this file: the thank-you screen then returns by a <noscript> refresh.
const body = document.body;
const idle = Number(body.dataset.kioskIdle);
const home = body.dataset.kioskHome;

if (idle > 0 && home) {
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
