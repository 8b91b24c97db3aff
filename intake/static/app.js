// Make the field app installable and ready for a lost connection: register the
// service worker (intake/static/sw.js) and tell it this page's language, so
// that its offline page speaks it; and keep a screen, answers and all, when it
// is sent while the field node cannot be reached. Progressive: without
// JavaScript or service workers, every page works as before while the field
// node is reachable.
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
  if (!script) { return; }
  var unreachable = document.getElementById("node-unreachable");
  if (unreachable && window.fetch && window.AbortController) {
    keepScreensWhileUnreachable(unreachable, script.getAttribute("data-service-worker"));
  }
  if (!("serviceWorker" in navigator)) { return; }
  var language = document.documentElement.lang;
  navigator.serviceWorker.register(script.getAttribute("data-service-worker"))
    .catch(function (error) {
      // Not a page error: the pages work without it; it is tried again on the next one.
      console.warn("Intake could not install its offline shell:", error);
    });
  navigator.serviceWorker.ready.then(function (registration) {
    // Not controlled though a worker is active: loaded while it was activating.
    var claim = !navigator.serviceWorker.controller;
    registration.active.postMessage({ language: language, claim: claim });
  });

  // A form posted while the node is out of reach would leave its screen for the
  // browser's own error page, and the answers typed on it would be lost. So a
  // POST first asks the node whether it is there (a HEAD of the worker's
  // script, which the worker passes to the network); if not, the screen stays,
  // answers and all, with a notice, and the officer presses the button again.
  function keepScreensWhileUnreachable(notice, probe) {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.method !== "post") { return; }
      if (form.getAttribute("data-node-answered") === "yes") {
        form.removeAttribute("data-node-answered"); // this one goes; the next asks again
        return;
      }
      event.preventDefault();
      if (form.getAttribute("data-asking") === "yes") { return; }
      form.setAttribute("data-asking", "yes");
      var submitter = event.submitter || null;
      reachable(probe).then(function (answered) {
        form.removeAttribute("data-asking");
        notice.hidden = answered;
        if (!answered) {
          notice.focus();
          return;
        }
        form.setAttribute("data-node-answered", "yes");
        if (form.requestSubmit) { form.requestSubmit(submitter); } else { form.submit(); }
      });
    });
  }

  function reachable(probe) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, 8000);
    var asked = fetch(probe, { method: "HEAD", cache: "no-store", credentials: "omit", signal: controller.signal });
    return asked.then(
      function () { clearTimeout(timer); return true; }, // any answer: the node is there
      function () { clearTimeout(timer); return false; }
    );
  }
})();
