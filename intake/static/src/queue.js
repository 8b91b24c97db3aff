// Sending the sealed envelopes queued on this tablet to the field node.
//
// Used by the offline interview (offline.js) and on the node's own pages
// (waiting.js), so that records sealed offline go as soon as the officer is
// back on any page of the node, not only while the offline interview is open.
// Each envelope goes alone, as the body of POST /offline/envelopes with the
// session's CSRF token (intake/field/offline_api.py); the node keeps it once
// by its record id, and only its "stored" (201) or "already held" (200)
// takes it off the tablet. Two pages sending at once send some twice: the
// node keeps each once.

import * as store from "./store.js";

/**
 * A sender for this page. `urls.envelopes`: where to send; `urls.page`: a
 * node page that carries a signed-in session's CSRF token in
 * <meta name="csrf-token"> (the offline interview's). `report(what, details)`
 * hears how it goes: "sent"; "offline" (the node cannot be reached);
 * "signin" (no session: sign in again); "refused" {reference, status}.
 */
export function queueSender(urls, report) {
  let sending = false;
  let cached = null;
  let metaUsed = false;

  /** This page's CSRF token, else a fresh one from the node; null (reported) offline or signed out. */
  async function token() {
    if (cached) return cached;
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && !metaUsed) {
      metaUsed = true; // once: if it has gone stale, the next one is fetched
      return (cached = meta.content);
    }
    try {
      const response = await fetch(urls.page, { credentials: "same-origin", cache: "no-store", redirect: "manual" });
      const page = response.ok ? new DOMParser().parseFromString(await response.text(), "text/html") : null;
      cached = page?.querySelector('meta[name="csrf-token"]')?.content || null;
      if (!cached) report("signin");
      return cached;
    } catch {
      report("offline");
      return null;
    }
  }

  /** Send one envelope: "sent", "refused", or "stop" (offline or signed out: the rest waits too). */
  async function sendOne(item, retried = false) {
    const csrf = await token();
    if (csrf === null) return "stop";
    let response;
    try {
      response = await fetch(urls.envelopes, {
        method: "POST",
        credentials: "same-origin",
        redirect: "manual",
        headers: { "Content-Type": "application/octet-stream", "X-CSRFToken": csrf },
        body: item.envelope,
      });
    } catch {
      report("offline");
      return "stop";
    }
    if (response.status === 200 || response.status === 201) {
      await store.dequeue(item.id);
      report("sent");
      return "sent";
    }
    if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
      cached = null;
      report("signin");
      return "stop";
    }
    if (response.status === 400 && !retried) {
      cached = null; // perhaps only a stale CSRF token: once more with a fresh one
      return sendOne(item, true);
    }
    // Refused for good (a bad record, another under its id, too large): kept
    // and reported, and the rest of the queue goes on.
    if (response.status === 400 || response.status === 409 || response.status === 413) {
      item.refused = { status: response.status, at: new Date().toISOString().slice(0, 19) + "Z" };
      await store.markQueued(item); // kept: a refused record is never dropped silently
      report("refused", { reference: item.reference, status: response.status });
      return "refused";
    }
    report("offline");
    return "stop";
  }

  /** Send every queued envelope, in turn; one call at a time (a second returns at once). */
  async function send() {
    if (sending) return;
    sending = true;
    try {
      for (const item of await store.queued()) {
        if ((await sendOne(item)) === "stop") break;
      }
    } finally {
      sending = false;
    }
  }

  return { send, token, forgetToken: () => (cached = null) };
}
