// The console's only script of its own (served from this origin; the CSP allows no inline code):
// draws the summary histogram with uPlot from the numbers the page carries in data-chart.
function drawCharts() {
  for (const el of document.querySelectorAll("[data-chart]")) {
    if (el.dataset.drawn) continue;
    el.dataset.drawn = "1";
    const d = JSON.parse(el.dataset.chart);
    const bars = uPlot.paths.bars({ size: [0.8, 64] });
    const chart = new uPlot(
      {
        width: Math.max(320, el.clientWidth || 800),
        height: 240,
        series: [
          {},
          {
            label: "events",
            stroke: "#0b5cad",
            fill: "rgba(11,92,173,0.35)",
            paths: bars,
            points: { show: false },
          },
          {
            label: "failures",
            stroke: "#b3261e",
            fill: "rgba(179,38,30,0.6)",
            paths: bars,
            points: { show: false },
          },
        ],
        axes: [{}, { size: 56 }],
        scales: { x: { time: true } },
      },
      [d.start, d.total, d.failures],
      el,
    );
    new ResizeObserver(() => chart.setSize({ width: Math.max(320, el.clientWidth), height: 240 })).observe(
      el,
    );
  }
}
document.addEventListener("DOMContentLoaded", drawCharts);
