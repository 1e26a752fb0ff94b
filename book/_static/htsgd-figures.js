// Figures on every page (loaded by _config.yml's html_js_files).
//
// 1. Legible on a narrow screen. The book's figures are SVG (htsgd.plotting) or 2x PNG, shown at most at their
//    natural size and shrunk to the column. On a phone a wide, multi-panel figure would shrink until its labels
//    are unreadable, so a figure is never shown below MIN_SCALE of its natural size: 10-pt labels, 13.3 px at
//    natural size, stay at least 9 px high; a figure wider than the column then scrolls sideways in its own box
//    (the page itself never gets wider than the screen).
// 2. Alt text for explorers: the figure of an htsgd explorer is drawn by the widget manager, with no alt
//    attribute; it gets one naming the explorer and the values of its controls, kept up to date when the
//    static page swaps frames.
(function () {
  var MIN_SCALE = 0.68;

  function naturalWidth(img) {
    var w = parseFloat(img.getAttribute("width"));
    return w > 0 ? w : img.naturalWidth;
  }

  function fit(img) {
    if (!img.closest(".cell_output") || img.dataset.htsgdFit) {
      return;
    }
    var natural = naturalWidth(img);
    if (!natural) {
      return;
    }
    img.style.minWidth = Math.round(MIN_SCALE * natural) + "px";
    img.parentElement.classList.add("htsgd-figure-scroll");
    img.dataset.htsgdFit = "1";
  }

  function controlText(control) {
    var label = control.querySelector(".widget-label");
    var name = label ? label.textContent.trim() : "";
    var select = control.querySelector("select");
    var readout = control.querySelector(".widget-readout");
    var value = select ? select.value : readout ? (readout.textContent || readout.value || "").trim() : "";
    return name && value ? name + " = " + value : "";
  }

  function explorerAlt(img) {
    var root = img.closest(".htsgd-explorer");
    if (!root) {
      return;
    }
    var title = root.querySelector(".widget-html b");
    var controls = Array.prototype.map.call(
      root.querySelectorAll(".widget-slider, .widget-dropdown"), controlText).filter(Boolean);
    var alt = "Figure of the explorer " + (title ? "\u201c" + title.textContent.trim() + "\u201d" : "") +
      (controls.length ? ", at " + controls.join(", ") : "");
    if (img.getAttribute("alt") !== alt) {
      img.setAttribute("alt", alt);
    }
  }

  function scan() {
    document.querySelectorAll(".cell_output img").forEach(function (img) {
      if (img.complete) {
        fit(img);
      } else {
        img.addEventListener("load", function () { fit(img); }, { once: true });
      }
      explorerAlt(img);
    });
  }

  function start() {
    scan();
    new MutationObserver(scan).observe(document.body, {
      childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["src"],
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
