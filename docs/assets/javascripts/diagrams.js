// Draws the ```mermaid diagrams of the site (the exception trees of the catalogue) with the
// mermaid.min.js served alongside the site: nothing is loaded from a network.
(function () {
  "use strict";

  function draw() {
    var nodes = document.querySelectorAll("div.pz-diagram:not([data-processed])");
    if (!nodes.length || typeof mermaid === "undefined") {
      return;
    }
    var dark = document.body.getAttribute("data-md-color-scheme") === "slate";
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme: dark ? "dark" : "neutral",
      flowchart: { htmlLabels: true, useMaxWidth: true }
    });
    mermaid.run({ nodes: nodes });
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(draw);
  } else {
    document.addEventListener("DOMContentLoaded", draw);
  }
})();
