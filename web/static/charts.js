// Draws every chart of a page from its <script type="application/json"> block. No inline
// script and no eval: the page's Content-Security-Policy allows scripts from this origin only.
"use strict";

(function () {
  var config = { displayModeBar: false, responsive: true };

  function draw(plot) {
    var block = document.getElementById(plot.getAttribute("data-figure"));
    if (!block || typeof Plotly === "undefined") return;
    var figure = JSON.parse(block.textContent);
    Plotly.newPlot(plot, figure.data, figure.layout, config).then(function () {
      plot.classList.add("drawn");
    });
  }

  function drawAll() {
    document.documentElement.classList.add("js");
    var plots = document.querySelectorAll(".plot[data-figure]");
    for (var i = 0; i < plots.length; i++) draw(plots[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
