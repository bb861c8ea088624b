// Draws the ```mermaid diagrams of the site (the exception trees of the catalogue) with the
// mermaid.min.js served alongside the site: nothing is loaded from a network. The diagrams are
// drawn again in the other colours when the reader switches between light and dark.
(function () {
  "use strict";

  function scheme() {
    return document.body.getAttribute("data-md-color-scheme") === "slate" ? "dark" : "neutral";
  }

  function draw() {
    if (typeof mermaid === "undefined") {
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
      flowchart: { htmlLabels: true, useMaxWidth: true }
    });
    mermaid.run({ nodes: todo });
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(draw);
  } else {
    document.addEventListener("DOMContentLoaded", draw);
  }
  new MutationObserver(draw).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"]
  });
})();
