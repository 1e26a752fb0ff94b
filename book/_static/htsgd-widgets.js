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

// 3. Explorers in the static page (htsgd.widgets.explorer, built with HTSGD_STATIC_FRAMES=1) carry
//    frames computed at build time for a grid of slider values, as JSON in a
//    <script class="htsgd-frames"> inside the explorer. When a reader moves a slider, the figure
//    is swapped for the nearest precomputed frame: no kernel is involved. The sliders are read
//    through their readouts (the text the widget manager updates as the slider moves).
(function () {
  function nearest(grid, value, log) {
    var best = 0;
    var dist = Infinity;
    for (var i = 0; i < grid.length; i++) {
      var d = log ? Math.abs(Math.log(grid[i]) - Math.log(value)) : Math.abs(grid[i] - value);
      if (d < dist) {
        dist = d;
        best = i;
      }
    }
    return best;
  }

  function wire(script) {
    if (script.dataset.htsgdWired) {
      return true;
    }
    var root = script.closest(".htsgd-explorer") || script.closest(".widget-vbox");
    if (!root) {
      return false;
    }
    var data = JSON.parse(script.textContent);
    var sliders = Array.prototype.slice.call(root.querySelectorAll(".widget-slider"));
    var image = root.querySelector(".widget-output img");
    if (sliders.length < data.names.length || !image) {
      return false;
    }
    // The sliders named in data.names, in the order of the controls.
    var readouts = sliders.map(function (s) { return s.querySelector(".widget-readout"); });
    var labels = sliders.map(function (s) {
      var l = s.querySelector(".widget-label");
      return l ? l.textContent.trim() : "";
    });
    var chosen = data.names.map(function (name, k) {
      var i = labels.indexOf(name);
      return readouts[i >= 0 ? i : k];
    });
    var width = null;
    function update() {
      var key = chosen.map(function (r, k) {
        var v = parseFloat((r.value !== undefined && r.value !== "" ? r.value : r.textContent).replace(/[^0-9eE+\-.]/g, ""));
        return nearest(data.grids[k], v, data.log[k]);
      }).join(",");
      var uri = data.frames[key];
      if (uri && image.getAttribute("src") !== uri) {
        if (width === null) {
          width = image.getBoundingClientRect().width || image.naturalWidth;
        }
        image.style.width = width + "px";
        image.setAttribute("src", uri);
        image.dataset.htsgdFrame = key;
      }
    }
    chosen.forEach(function (r) {
      new MutationObserver(update).observe(r, { childList: true, characterData: true, subtree: true });
      r.addEventListener("input", update);
      r.addEventListener("change", update);
    });
    root.addEventListener("mouseup", function () { setTimeout(update, 0); });
    root.addEventListener("keyup", function () { setTimeout(update, 0); });
    script.dataset.htsgdWired = "1";
    root.classList.add("htsgd-frames-ready");
    return true;
  }

  function scan() {
    var pending = false;
    document.querySelectorAll("script.htsgd-frames").forEach(function (s) {
      if (!wire(s)) {
        pending = true;
      }
    });
    return pending;
  }

  // The widget manager renders after the page has loaded: look again until every explorer is wired.
  function start() {
    var tries = 0;
    var timer = setInterval(function () {
      tries += 1;
      if ((!scan() && document.querySelector("script.htsgd-frames")) || tries > 600) {
        clearInterval(timer);
      }
    }, 100);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
