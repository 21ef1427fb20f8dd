// Polls the payment's status JSON and shows it, until the payment has reached its end.
(function () {
  var url = document.currentScript.dataset.status;
  var box = document.getElementById("status");
  function show(s) {
    box.className = "state " + s.phase;
    box.dataset.phase = s.phase;
    box.dataset.final = s.final;
    box.textContent = s.message_zh;
    var en = document.createElement("small");
    en.textContent = s.message_en;
    box.appendChild(en);
  }
  function poll() {
    fetch(url, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) { show(s); } if (!s || !s.final) { setTimeout(poll, 1000); } })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (box.dataset.final !== "true") { poll(); }
})();
