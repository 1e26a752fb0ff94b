// Loaded on pages with saved widgets, before the Jupyter widgets HTML manager.
//
// 1. Tell the manager where its fonts and chunks live: in the book's own static folder,
//    next to this file, so saved widgets render with no network.
window.__jupyter_widgets_assets_path__ = new URL(
  "offline/@jupyter-widgets/html-manager/dist/", document.currentScript.src
).href;

// 2. The manager typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue); the book
//    uses MathJax 3. Route those calls to MathJax 3's typesetPromise, so labels with math are
//    typeset and no "reading 'Queue'" error is thrown.
(function () {
  function installHubShim() {
    var mj = window.MathJax;
    if (!mj || mj.Hub) {
      return;
    }
    mj.Hub = {
      Queue: function (command) {
        var element = Array.isArray(command) ? command[2] : undefined;
        if (window.MathJax.typesetPromise) {
          return window.MathJax.typesetPromise(element ? [element] : undefined);
        }
        if (window.MathJax.startup && window.MathJax.startup.promise) {
          return window.MathJax.startup.promise.then(function () {
            return window.MathJax.typesetPromise(element ? [element] : undefined);
          });
        }
      },
    };
  }
  installHubShim();
  document.addEventListener("DOMContentLoaded", installHubShim);
})();
