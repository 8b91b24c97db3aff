// Make the field app installable and ready for a lost connection: register the
// service worker (intake/static/sw.js) and tell it this page's language, so
// that its offline page speaks it. Progressive: without JavaScript or service
// workers, every page works as before while the field node is reachable.
(function () {
  "use strict";
  var retry = document.getElementById("offline-retry");
  if (retry) {
    // The offline page, shown by the worker in place of another: try that one again.
    retry.hidden = false;
    retry.addEventListener("click", function () { window.location.reload(); });
    return;
  }
  var script = document.currentScript;
  if (!("serviceWorker" in navigator) || !script) { return; }
  var language = document.documentElement.lang;
  navigator.serviceWorker.register(script.getAttribute("data-service-worker"))
    .catch(function (error) {
      // Not a page error: the pages work without it; it is tried again on the next one.
      console.warn("Intake could not install its offline shell:", error);
    });
  navigator.serviceWorker.ready.then(function (registration) {
    registration.active.postMessage({ language: language });
  });
})();
