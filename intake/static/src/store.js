// What the offline interview keeps on the tablet: IndexedDB, and nothing in the clear.
//
// Threat note: the tablet may be lost or seized, and a browser's storage is
// plain files in its profile. So every draft, and the node's configuration
// (officer, device, recipients), is AES-256-GCM encrypted under a key derived
// from the officer's password (PBKDF2-SHA256, WebCrypto's only slow
// derivation; no memory-hard one exists there), a non-extractable CryptoKey
// that lives in this page's memory and nowhere else. A fresh 12-byte nonce
// per write; the associated data names what the ciphertext is (and which
// draft), so one cannot be swapped for another. Finished records are queued
// as sealed envelopes, which this tablet cannot open at all (DESIGN
// invariant 2). What stays in the clear: the salt, the iteration count, a
// check value that tells a wrong password, draft and record ids, and for
// each officer who unlocked here a tag: a salted SHA-256 of their name, so
// that the tablet finds their keyring without keeping who they are.

const DB_NAME = "intake-offline";
// 2: one keyring per officer (1 kept one, "current", which an upgrade drops:
// the officer's next unlock with the node in reach sets theirs up again, with
// the same key, so that their drafts open as before).
const DB_VERSION = 2;
const KEYRING = "keyring"; // by random id, one per officer: {id, salt, iterations, tag, check, config}
const DRAFTS = "drafts"; // by draft id: {id, nonce, sealed}
const QUEUE = "queue"; // by record id: {id, reference, envelope, queued, refused}
const CHECK_TEXT = "intake-offline-check-v1";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The password does not open what this tablet keeps. */
export class WrongPasswordError extends Error {
  name = "WrongPasswordError";
}

/** A stored value does not open with this key (changed, or another officer's). */
export class UnreadableError extends Error {
  name = "UnreadableError";
}

let opened = null;

/** Open (once) the app's IndexedDB database. */
export function openDatabase() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = (event) => {
        const db = request.result;
        for (const name of [KEYRING, DRAFTS, QUEUE]) {
          if (!db.objectStoreNames.contains(name)) db.createObjectStore(name);
        }
        if (event.oldVersion === 1) request.transaction.objectStore(KEYRING).delete("current");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

async function run(storeName, mode, action) {
  const db = await openDatabase();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(storeName, mode);
    let result;
    const request = action(transaction.objectStore(storeName));
    if (request) request.onsuccess = () => (result = request.result);
    // Resolved when the write is durable, not when the request is queued.
    transaction.oncomplete = () => resolve(result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

const get = (store, key) => run(store, "readonly", (s) => s.get(key));
const put = (store, key, value) => run(store, "readwrite", (s) => s.put(value, key));
const remove = (store, key) => run(store, "readwrite", (s) => s.delete(key));
const all = (store) => run(store, "readonly", (s) => s.getAll());

// -- The key --

/** Derive the draft key from the password: AES-GCM, non-extractable, memory only. */
export async function deriveDraftKey(password, salt, iterations) {
  const material = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

async function encrypt(key, label, value) {
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const plaintext = encoder.encode(JSON.stringify(value));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: encoder.encode(label) },
    key,
    plaintext,
  );
  return { nonce, sealed: new Uint8Array(sealed) };
}

async function decrypt(key, label, { nonce, sealed }) {
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: nonce, additionalData: encoder.encode(label) },
      key,
      sealed,
    );
    return JSON.parse(decoder.decode(plaintext));
  } catch {
    throw new UnreadableError(`${label} does not open with this key`);
  }
}

/** The name as the node's sign-in reads it (accounts.authenticate). */
function normalName(name) {
  return name.trim().toLowerCase().slice(0, 64);
}

/** The tag that finds an officer's keyring: SHA-256 of a label, the keyring's salt and the name. */
async function nameTag(name, salt) {
  const label = encoder.encode("intake-offline-officer-v1\0");
  const named = encoder.encode(normalName(name));
  const data = new Uint8Array(label.length + salt.length + named.length);
  data.set(label);
  data.set(salt, label.length);
  data.set(named, label.length + salt.length);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

/** Whether two byte arrays hold the same bytes. */
export const sameBytes = (a, b) => a.length === b.length && a.every((byte, n) => byte === b[n]);

/** The keyrings kept on this tablet, as much as is in the clear: [{id, salt, iterations, tag}]. */
export async function storedKeyrings() {
  return (await all(KEYRING)).map(({ id, salt, iterations, tag }) => ({ id, salt, iterations, tag }));
}

/**
 * The keyring of the officer with this name, else null. With no name, the
 * only keyring kept, if there is only one.
 */
export async function findKeyring(name) {
  const keyrings = await storedKeyrings();
  if (name === null) return keyrings.length === 1 ? keyrings[0] : null;
  for (const keyring of keyrings) {
    if (sameBytes(keyring.tag, await nameTag(name, keyring.salt))) return keyring;
  }
  return null;
}

/**
 * Derive the key and set up this officer's keyring with it: the check value
 * and the node's configuration, both encrypted. Their earlier keyring (a new
 * salt, a changed password) is replaced; other officers' are left alone.
 */
export async function setUpKeyring(name, password, salt, iterations, config) {
  const key = await deriveDraftKey(password, salt, iterations);
  const check = await encrypt(key, "intake-offline-check", CHECK_TEXT);
  const sealedConfig = await encrypt(key, "intake-offline-config", config);
  const id = (await findKeyring(name))?.id || crypto.randomUUID();
  const tag = await nameTag(name, salt);
  await put(KEYRING, id, { id, salt, iterations, tag, check, config: sealedConfig });
  return key;
}

/**
 * Derive the key of the named officer's keyring (or the only one, with no
 * name); throw WrongPasswordError unless it opens the check. An unknown name
 * is refused in the same words, so that the screen does not tell who worked here.
 */
export async function unlockKeyring(name, password) {
  const found = await findKeyring(name);
  if (!found) throw new WrongPasswordError("no keyring for this name on this tablet");
  const keyring = await get(KEYRING, found.id);
  const key = await deriveDraftKey(password, keyring.salt, keyring.iterations);
  try {
    if ((await decrypt(key, "intake-offline-check", keyring.check)) !== CHECK_TEXT) throw 0;
  } catch {
    throw new WrongPasswordError("wrong password");
  }
  return { key, id: found.id, config: await decrypt(key, "intake-offline-config", keyring.config) };
}

/** Replace a keyring's configuration (fetched again from the node), under the same key. */
export async function updateConfig(key, id, config) {
  const keyring = await get(KEYRING, id);
  keyring.config = await encrypt(key, "intake-offline-config", config);
  await put(KEYRING, id, keyring);
}

// -- Drafts --

const draftLabel = (id) => `intake-offline-draft-v1:${id}`;

/** Encrypt and store a draft (a fresh nonce each time; the id is the associated data). */
export async function saveDraft(key, draft) {
  const { nonce, sealed } = await encrypt(key, draftLabel(draft.id), draft);
  await put(DRAFTS, draft.id, { id: draft.id, nonce, sealed });
}

/** Open one draft; throw UnreadableError if this key does not open it. */
export async function loadDraft(key, id) {
  const stored = await get(DRAFTS, id);
  if (!stored) throw new UnreadableError("no such draft");
  return decrypt(key, draftLabel(id), stored);
}

/** Open every draft this key opens; the others (another officer's) are left alone. */
export async function loadDrafts(key) {
  const found = [];
  for (const stored of await all(DRAFTS)) {
    try {
      found.push(await decrypt(key, draftLabel(stored.id), stored));
    } catch (e) {
      if (!(e instanceof UnreadableError)) throw e;
    }
  }
  return found;
}

export const deleteDraft = (id) => remove(DRAFTS, id);

// -- The queue of sealed envelopes --

/**
 * Queue a sealed envelope and delete its draft, in one transaction: a record
 * is never both lost and not yet queued.
 */
export async function queueEnvelope(item, draftId) {
  const db = await openDatabase();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction([QUEUE, DRAFTS], "readwrite");
    transaction.objectStore(QUEUE).put(item, item.id);
    if (draftId) transaction.objectStore(DRAFTS).delete(draftId);
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

export const queued = () => all(QUEUE);
export const dequeue = (id) => remove(QUEUE, id);
export const markQueued = (item) => put(QUEUE, item.id, item);
