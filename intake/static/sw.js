/* The field app's service worker: keeps this release's app shell, so that a
   tablet that loses the field node gets a page in its officer's language
   rather than a browser error.

   Served at /sw.js by intake/field/pwa.py, which writes SHELL above this
   source: the release's cache name, the URLs to pre-cache and the offline
   page of each language, every URL naming the release (?v=). A new release
   changes SHELL, so the browser installs this worker again, into a new cache,
   and the old cache is deleted when it takes over.

   What it never keeps: a page (pages show case data; drafts stay on the node,
   encrypted), anything under /screening/, the answer to a POST. It answers
   only GET requests of its own site: navigations from the network, falling
   back to the offline page; the shell's own URLs from the cache. A form's
   POST goes to the node as if there were no worker: the browser's own
   request, its SameSite cookies and Sec-Fetch-* headers unchanged. */
/* global SHELL */
"use strict";

const SHELF = new Set(SHELL.precache);
// The language of the last page shown, for the offline page: a preference
// that outlives releases, so kept apart from them.
const PREFERENCES = "intake-preferences";
const LANGUAGE_KEY = "/offline-language";
let language = null;

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(dropOtherReleases().then(enablePreload).then(() => self.clients.claim()));
});

// Each page's language is written after the one before it: two pages' writes
// left to race could leave the older language stored.
let saving = Promise.resolve();

self.addEventListener("message", (event) => {
  // A page loaded while this worker was activating can miss the claim made on
  // activation and stay uncontrolled; it asks, and is taken now.
  if (event.data && event.data.claim === true) {
    event.waitUntil(self.clients.claim());
  }
  const chosen = event.data && event.data.language;
  if (typeof chosen !== "string" || !Object.hasOwn(SHELL.offline, chosen)) {
    return;
  }
  language = chosen;
  const save = () => caches.open(PREFERENCES).then((cache) => cache.put(LANGUAGE_KEY, new Response(chosen)));
  saving = saving.then(save, save);
  event.waitUntil(saving);
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== "GET") {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(navigate(event));
  } else if (SHELF.has(url.pathname + url.search)) {
    event.respondWith(fromShelf(request));
  }
});

async function precache() {
  const urls = [...SHELL.precache, ...Object.values(SHELL.offline), ...Object.values(SHELL.app)];
  // From the node, not the HTTP cache; without the officer's cookie: the shell
  // is the same for everyone, and no session is read or changed to fetch it.
  const requests = urls.map((url) => new Request(url, { cache: "reload", credentials: "omit" }));
  const shelf = await caches.open(SHELL.cache);
  try {
    await shelf.addAll(requests);
  } catch (error) {
    await caches.delete(SHELL.cache); // a URL refused (another release's node): keep nothing
    throw error;
  }
}

async function dropOtherReleases() {
  const names = await caches.keys();
  const others = names.filter((name) => name.startsWith(SHELL.prefix) && name !== SHELL.cache);
  await Promise.all(others.map((name) => caches.delete(name)));
}

async function enablePreload() {
  // The browser then sends the navigation itself while the worker starts: no
  // wait for the worker, and the same request as without one.
  if (self.registration.navigationPreload) {
    await self.registration.navigationPreload.enable();
  }
}

async function navigate(event) {
  try {
    return (await event.preloadResponse) || (await fetch(event.request));
  } catch (error) {
    // The offline interview's own page is kept: it goes on without the node.
    // Any other page gives way to the notice that the node cannot be reached.
    const wanted = new URL(event.request.url).pathname === SHELL.app_path ? SHELL.app : SHELL.offline;
    return (await keptPage(wanted)) || Response.error();
  }
}

async function keptPage(pages) {
  const chosen = language || (await storedLanguage());
  const url = pages[chosen] || pages[SHELL.language];
  const shelf = await caches.open(SHELL.cache);
  return shelf.match(url, { ignoreVary: true });
}

async function storedLanguage() {
  const stored = await (await caches.open(PREFERENCES)).match(LANGUAGE_KEY);
  return stored ? stored.text() : null;
}

async function fromShelf(request) {
  const shelf = await caches.open(SHELL.cache);
  return (await shelf.match(request, { ignoreVary: true })) || fetch(request);
}
