#!/usr/bin/env bash
# Fetch the JavaScript the HTML book needs offline into DEST (default book/_static/offline):
# MathJax 3 (typesetting), require.js and the Jupyter widgets HTML manager (static widgets).
# They come from the npm registry through `npm pack`, are unpacked here and never committed.
# Without npm the book still builds; its pages then load these files from a CDN at read time.
set -euo pipefail
dest=${1:-book/_static/offline}
MATHJAX=mathjax@3.2.2
REQUIREJS=requirejs@2.3.8
HTML_MANAGER=@jupyter-widgets/html-manager@1.0.15

if ! command -v npm >/dev/null 2>&1; then
  echo "vendor_js: npm not found; install Node.js (Debian: apt-get install npm) for an offline-capable book" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$MATHJAX" "$REQUIREJS" "$HTML_MANAGER" >/dev/null)
stage="$tmp/stage"
mkdir -p "$stage/mathjax" "$stage/@jupyter-widgets/html-manager/dist"
for t in "$tmp"/*.tgz; do mkdir -p "$tmp/x" && tar xzf "$t" -C "$tmp/x" && mv "$tmp/x/package" "$tmp/$(basename "$t" .tgz)"; done
cp -r "$tmp"/mathjax-*/es5/. "$stage/mathjax/"
cp "$tmp"/requirejs-*/require.js "$stage/require.min.js"
cp -r "$tmp"/jupyter-widgets-html-manager-*/dist/. "$stage/@jupyter-widgets/html-manager/dist/"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$stage" "$dest"
find "$dest" -name "*.map" -delete
touch "$dest/.complete"
echo "vendor_js: MathJax, require.js and the widgets HTML manager are in $dest ($(du -sh "$dest" | cut -f1))"
