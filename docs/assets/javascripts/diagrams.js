// Draws the ```mermaid diagrams of the site (the exception trees of the catalogue) with the
// mermaid.min.js served alongside the site: nothing is loaded from a network. The diagrams are
// drawn again in the other colours when the reader switches between light and dark.
//
// A box must hold its whole text. Mermaid measures each label in a scratch element outside the
// page's article and sizes the box to it; the label is then shown inside the article, where the
// theme's typography applies. So the labels are drawn in the page's own font, measured only once
// the fonts are ready, and styled in passendezorg.css so that the theme adds nothing to them
// (no margins, the same line height): what was measured is what is shown.
(function () {
  "use strict";

  // mermaid (3.5 MB) is loaded only by pages that have a diagram, from next to this script
  var here = document.currentScript ? document.currentScript.src : "";
  var loading = null;

  function withMermaid(then) {
    if (typeof mermaid !== "undefined") {
      then();
      return;
    }
    if (!loading) {
      loading = document.createElement("script");
      loading.src = here.replace(/diagrams\.js(\?.*)?$/, "mermaid.min.js");
      document.head.appendChild(loading);
    }
    loading.addEventListener("load", then);
  }

  function scheme() {
    return document.body.getAttribute("data-md-color-scheme") === "slate" ? "dark" : "neutral";
  }

  function pageFont() {
    var article = document.querySelector(".md-typeset") || document.body;
    return getComputedStyle(article).fontFamily;
  }

  function draw() {
    if (!document.querySelector("div.pz-diagram")) {
      return;
    }
    if (typeof mermaid === "undefined") {
      withMermaid(draw);
      return;
    }
    var nodes = Array.prototype.slice.call(document.querySelectorAll("div.pz-diagram"));
    var todo = [];
    nodes.forEach(function (node) {
      if (node.dataset.source === undefined) {
        node.dataset.source = node.textContent; // the diagram's text, before mermaid replaces it
      }
      if (node.getAttribute("data-processed") && node.dataset.theme === scheme()) {
        return; // drawn already, in these colours
      }
      node.removeAttribute("data-processed");
      node.removeAttribute("data-ready");
      node.textContent = node.dataset.source;
      node.dataset.theme = scheme();
      todo.push(node);
    });
    if (!todo.length) {
      return;
    }
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme: scheme(),
      fontFamily: pageFont(),
      flowchart: { htmlLabels: true, useMaxWidth: true, wrappingWidth: 220, padding: 12 }
    });
    mermaid.run({ nodes: todo }).then(function () {
      todo.forEach(readable);
    });
  }

  // A diagram wider than its column is scaled down to fit it, but not below MIN_SCALE (its text stays
  // readable, about 12 px): a wider one keeps that size and scrolls sideways in its box.
  var MIN_SCALE = 0.75;

  function readable(node) {
    var svg = node.querySelector("svg");
    if (svg && svg.viewBox && svg.viewBox.baseVal) {
      var natural = svg.viewBox.baseVal.width;
      if (natural * MIN_SCALE > node.clientWidth) {
        svg.style.maxWidth = "none";
        svg.style.width = Math.ceil(natural * MIN_SCALE) + "px";
        node.classList.add("pz-diagram-wide");
      }
    }
    node.dataset.ready = node.dataset.theme; // drawn, and sized to be read
  }

  function whenFontsReady() {
    if (document.fonts && document.fonts.ready) {
      document.fonts.ready.then(draw);
    } else {
      draw();
    }
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(whenFontsReady);
  } else {
    document.addEventListener("DOMContentLoaded", whenFontsReady);
  }
  new MutationObserver(draw).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"]
  });
})();
