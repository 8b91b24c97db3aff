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

import { utcNow } from "./clock.js";
import * as store from "./store.js";

/**
 * The CSRF token of a signed-in session, read from a node page that carries
 * it in <meta name="csrf-token"> (the offline interview's); null when
 * signed out. Throws when the node cannot be reached.
 */
export async function sessionToken(pageUrl) {
  const response = await fetch(pageUrl, { credentials: "same-origin", cache: "no-store", redirect: "manual" });
  const page = response.ok ? new DOMParser().parseFromString(await response.text(), "text/html") : null;
  return page?.querySelector('meta[name="csrf-token"]')?.content || null;
}

/**
 * A sender for this page. `urls.envelopes`: where to send; `urls.page`: a
 * node page that carries a signed-in session's CSRF token (sessionToken).
 * `report(what, details)` hears how it goes: "sent"; "offline" (the node
 * cannot be reached); "signin" (no session: sign in again); "refused"
 * {reference, status}.
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
      cached = await sessionToken(urls.page);
      if (!cached) report("signin");
      return cached;
    } catch {
      report("offline");
      return null;
    }
  }

  /**
   * POST to the node with the session's CSRF token in X-CSRFToken; a 400 is
   * tried once more with a fresh token (perhaps only the token was stale).
   * Null without a token (reported); throws when the node cannot be reached.
   */
  async function post(url, { headers = {}, body }) {
    for (let tries = 0; ; tries += 1) {
      const csrf = await token();
      if (csrf === null) return null;
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        redirect: "manual",
        headers: { ...headers, "X-CSRFToken": csrf },
        body,
      });
      if (response.status !== 400 || tries > 0) return response;
      cached = null;
    }
  }

  /** Send one envelope: "sent", "refused", or "stop" (offline or signed out: the rest waits too). */
  async function sendOne(item) {
    let response;
    try {
      response = await post(urls.envelopes, { headers: { "Content-Type": "application/octet-stream" }, body: item.envelope });
    } catch {
      report("offline");
      return "stop";
    }
    if (response === null) return "stop";
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
    // Refused for good (a bad record, another under its id, too large): kept
    // and reported, and the rest of the queue goes on.
    if (response.status === 400 || response.status === 409 || response.status === 413) {
      item.refused = { status: response.status, at: utcNow() };
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

  return { send, post, forgetToken: () => (cached = null) };
}
