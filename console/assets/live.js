// preenroll console: live updates. The page works without this script;
// with it, the regions marked data-live-region are refreshed when the
// server reports a change that concerns the page (server-sent events).
(function () {
  "use strict";
  var body = document.body;
  var scope = body.getAttribute("data-live") || "";
  // A notice after an action (?done=...) is said once: a reload, or a
  // live update's fetch of this address, does not say it again.
  var url = new URL(window.location.href);
  if (url.searchParams.has("done")) {
    url.searchParams.delete("done");
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  }
  if (!scope) { return; }
  if (!window.EventSource) {
    // No live updates: a progress page reloads itself as it does without
    // JavaScript (its meta refresh is inside <noscript>).
    var every = parseInt(body.getAttribute("data-refresh") || "0", 10);
    if (every > 0) { setTimeout(function () { window.location.reload(); }, every * 1000); }
    return;
  }
  var base = body.getAttribute("data-base") || "";

  // dropStaleNotice removes the notice about the key once the key has
  // moved to another status: "The key was ordered" is no longer news.
  function dropStaleNotice() {
    var notice = document.getElementById("notice");
    var key = document.getElementById("key-status");
    var about = notice && notice.getAttribute("data-notice-for");
    if (about && key && key.getAttribute("data-status") !== about) { notice.remove(); }
  }

  // One fetch of the page at a time. A change reported while a fetch is
  // under way may have been stored after the server rendered that fetch's
  // answer, so the page is fetched once more when it is done: the last
  // answer applied is always newer than the last change reported. (With
  // fetches side by side, a slow older answer could land after a newer
  // one and leave the page showing the past, with no event to come.)
  var timer = null, fetching = false, again = false;

  function refresh() {
    if (fetching) { again = true; return; }
    if (timer) { return; }
    timer = setTimeout(load, 300);
  }

  // fetchTimeout ends a fetch that gets no answer, which would otherwise
  // hold back every later one.
  var fetchTimeout = 30000;

  function load() {
    timer = null;
    fetching = true;
    var abort = new AbortController();
    var giveUp = setTimeout(function () { abort.abort(); }, fetchTimeout);
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" }, signal: abort.signal })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-region]").forEach(function (old) {
          var fresh = old.id && doc.getElementById(old.id);
          if (fresh && !old.contains(document.activeElement)) { old.replaceWith(document.importNode(fresh, true)); }
        });
        dropStaleNotice();
        body.setAttribute("data-live-updated", String(Date.now()));
      })
      .catch(function () {})
      .then(function () {
        clearTimeout(giveUp);
        fetching = false;
        if (again) {
          again = false;
          refresh();
        }
      });
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
  // The server could not keep up with this browser and dropped events:
  // whichever they were, fetch the page.
  es.addEventListener("resync", refresh);
  es.addEventListener("signedout", function () { es.close(); window.location.reload(); });
  // On every (re)connection fetch the page once: a change made between the
  // page's rendering and the stream's start (or while it was reconnecting)
  // sent its event to nobody.
  es.addEventListener("open", function () {
    body.setAttribute("data-live-connected", "true");
    refresh();
  });
})();
