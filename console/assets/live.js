// preenroll console: live updates. The page works without this script;
// with it, the regions marked data-live-region are refreshed when the
// server reports a change that concerns the page (server-sent events).
(function () {
  "use strict";
  var body = document.body;
  var scope = body.getAttribute("data-live") || "";
  if (!scope || !window.EventSource) { return; }
  var base = body.getAttribute("data-base") || "";
  var pending = null;

  function refresh() {
    if (pending) { return; }
    pending = setTimeout(function () {
      pending = null;
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live-region]").forEach(function (old) {
            var fresh = old.id && doc.getElementById(old.id);
            if (fresh && !old.contains(document.activeElement)) { old.replaceWith(document.importNode(fresh, true)); }
          });
          body.setAttribute("data-live-updated", String(Date.now()));
        })
        .catch(function () {});
    }, 300);
  }

  var es = new EventSource(base + "/events");
  es.addEventListener("record", function (e) {
    var d = JSON.parse(e.data);
    if (scope === "people" || scope === "user:" + d.user) { refresh(); }
  });
  es.addEventListener("batch", function (e) {
    var d = JSON.parse(e.data);
    if (scope === "batch:" + d.id) { refresh(); }
  });
  es.addEventListener("signedout", function () { es.close(); window.location.reload(); });
  es.addEventListener("open", function () { body.setAttribute("data-live-connected", "true"); });
})();
