// Tell the Jupyter widgets HTML manager where its fonts and chunks live: in the book's own
// static folder, next to this file, so saved widgets render with no network.
window.__jupyter_widgets_assets_path__ = new URL(
  "offline/@jupyter-widgets/html-manager/dist/", document.currentScript.src
).href;
