// Progressive enhancement for the console: everything works without it, it only makes the till quicker.
(function () {
  "use strict";
  // A form marked data-once sends once: its buttons are disabled as it submits (the order number fixed at
  // render makes a second send a replay anyway).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-once")) return;
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  }, true);

  // Enter in a basket field re-prices the basket instead of confirming the payment.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key !== "Enter" || !target.form || target.form.id !== "basket" || target.tagName === "BUTTON") return;
    event.preventDefault();
    target.dispatchEvent(new Event("change", { bubbles: true }));
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("#use-all-points");
    if (!button) return;
    var input = document.getElementById("points-to-use");
    input.value = button.dataset.usable;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // After a member is scanned, clear the field for the next scan.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "scan-form") {
      var input = document.getElementById("member-code-input");
      input.value = "";
      input.focus();
    }
  });

  // The camera, where the browser has a barcode detector (feature-detected; a scanner gun needs none of it).
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("camera-button");
    if (!button || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
    button.classList.remove("d-none");
    button.addEventListener("click", async function () {
      var video = document.getElementById("camera-view");
      var detector = new window.BarcodeDetector();
      var stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = stream;
      video.classList.remove("d-none");
      await video.play();
      var timer = setInterval(async function () {
        var codes = await detector.detect(video);
        var hit = codes.map(function (c) { return c.rawValue; }).find(function (v) { return /^\d{18}$/.test(v); });
        if (!hit) return;
        clearInterval(timer);
        stream.getTracks().forEach(function (t) { t.stop(); });
        video.classList.add("d-none");
        document.getElementById("member-code-input").value = hit;
        document.getElementById("scan-form").requestSubmit();
      }, 300);
    });
  });
})();
