#!/usr/bin/env bash
# Builds the public pages' assets: GOV.UK Frontend's Sass with the council branding to compressed CSS, and
# GOV.UK Frontend's ES module, into civicvoice/static/build/. Idempotent and quiet; any failure stops it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../civicvoice/static/build"
govuk="$here/node_modules/govuk-frontend/dist/govuk"

cd "$here"

command -v npm >/dev/null || { echo "frontend/build.sh: npm is not installed (Node.js 20 or later is needed)" >&2; exit 1; }

# Install when node_modules is missing, or older than the manifest or lock that describes it.
stamp="node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if [ -f package-lock.json ]; then npm_cmd=(npm ci); else npm_cmd=(npm install); fi
  if ! "${npm_cmd[@]}" --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    cat "$log" >&2
    echo "frontend/build.sh: '${npm_cmd[*]}' failed" >&2
    exit 1
  fi
  touch "$stamp"
fi

mkdir -p "$out"

# Deprecations inside GOV.UK Frontend v5 are its maintainers' to fix (--quiet-deps); @import is how v5 is
# configured, so that deprecation is silenced for our file too. Real errors still fail the build.
node_modules/.bin/sass \
  --no-source-map \
  --no-error-css \
  --style=compressed \
  --load-path=node_modules \
  --quiet-deps \
  --silence-deprecation=import \
  civicvoice.scss "$out/civicvoice.css.tmp"
mv "$out/civicvoice.css.tmp" "$out/civicvoice.css"

install -m 0644 "$govuk/govuk-frontend.min.js" "$out/govuk-frontend.min.js"
install -m 0644 "$govuk/govuk-frontend.min.js.map" "$out/govuk-frontend.min.js.map"

# No GOV.UK image is referenced by our markup: the crown, the logo, the favicons and the fonts are for
# GOV.UK services only and are deliberately not copied.
