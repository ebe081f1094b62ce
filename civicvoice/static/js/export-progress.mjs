// Progressive enhancement for a background export's page: fetch the page again every few seconds and swap in
// its status (a polite live region), until the export is ready or has failed. Without JavaScript the page has a
// "Check progress" link that does the same.
const status = document.getElementById("export-status");
const WORKING = new Set(["queued", "running"]);

async function poll() {
  if (!status || !WORKING.has(status.dataset.exportStatus)) return;
  try {
    const response = await fetch(window.location.pathname, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (response.ok) {
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("export-status");
      if (fresh) {
        status.innerHTML = fresh.innerHTML;
        status.dataset.exportStatus = fresh.dataset.exportStatus;
      }
    }
  } catch {
    // The next poll tries again; the link still works.
  }
  if (WORKING.has(status.dataset.exportStatus)) window.setTimeout(poll, 3000);
}

window.setTimeout(poll, 3000);
