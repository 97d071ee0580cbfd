// The marketing dashboard's charts, drawn with the vendored Chart.js from the page's JSON island
// (#dashboard-data, written by console/dashboard.py). Each canvas gets data-rendered="1" once drawn.
(function () {
  "use strict";
  var COLORS = ["#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#dc3545", "#20c997", "#6c757d"];

  function draw(id, type, datasets, options) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, {
      type: type,
      data: { labels: DATA.days, datasets: datasets.map(function (set, i) {
        var color = set.color || COLORS[i % COLORS.length];
        return Object.assign({ borderColor: color, backgroundColor: color, tension: 0.2, pointRadius: 1 }, set);
      }) },
      options: Object.assign({ animation: false, responsive: true, interaction: { mode: "index", intersect: false },
                               plugins: { legend: { labels: { boxWidth: 12 } } } }, options || {})
    });
    canvas.dataset.rendered = "1";
  }

  var DATA;
  document.addEventListener("DOMContentLoaded", function () {
    DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
    var tierNames = JSON.parse(document.getElementById("tier-names").textContent);
    draw("chart-sales", "bar", [
      { label: "销售额（元）", data: DATA.gmv, yAxisID: "y" },
      { label: "购买笔数", data: DATA.purchases, type: "line", yAxisID: "y1" }
    ], { scales: { y: { position: "left", beginAtZero: true }, y1: { position: "right", beginAtZero: true,
                                                                      grid: { drawOnChartArea: false } } } });
    draw("chart-tiers", "bar", DATA.tiers.map(function (code) {
      return { label: tierNames[code] || code || "非会员价", data: DATA.gmv_by_tier[code] };
    }), { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } });
    draw("chart-points", "bar", [
      { label: "发放", data: DATA.points_issued }, { label: "兑换", data: DATA.points_spent },
      { label: "过期", data: DATA.points_expired }
    ], { scales: { y: { beginAtZero: true } } });
    draw("chart-members", "line", [
      { label: "新会员", data: DATA.members_new }, { label: "签到", data: DATA.checkins },
      { label: "邀请", data: DATA.invites }
    ], { scales: { y: { beginAtZero: true } } });
    draw("chart-rates", "line", [
      { label: "券使用率", data: DATA.coupon_use_rate }, { label: "当日复购率", data: DATA.repurchase_rate }
    ], { scales: { y: { beginAtZero: true, suggestedMax: 100 } } });
    draw("chart-liability", "line", [{ label: "积分负债（元）", data: DATA.liability, fill: false }],
         { scales: { y: { beginAtZero: true } } });
  });
})();
