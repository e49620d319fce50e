'use strict'
// Hand-written entry point (package.json "main"): everything the generated native loader
// (index.js) exports, plus the stream and file helpers of stream.js and the reference
// SessionStore below. Types: sealwire.d.ts.

/** A copy of a byte string as a Buffer (never shares memory with the argument). */
const copy = (bytes) => Buffer.from(bytes)
/** Map key for a byte string (peer id, message id). */
const hex = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')

/** The error a store throws when a commit does not follow the last one (see the contract). */
function conflict(what) {
  const err = new Error(`store conflict: ${what}`)
  err.code = 'ERR_SEALWIRE_STORE_CONFLICT'
  return err
}

/**
 * The reference `SessionStore` in plain JavaScript, in memory: the contract of the core's
 * `SessionStore` trait (core/src/store/traits.rs, docs/STORE.md) in the simplest code, to
 * copy when writing a store over a real database — and a store for tests (nothing survives
 * the process).
 *
 * Contract (what `Messenger` relies on):
 * - every `commit*` method is one transaction: it checks everything first and then writes
 *   everything, or throws and writes nothing (a real store: one database transaction,
 *   durable before it returns);
 * - every `commit*` method sets the counter to its `counter` argument, which must be the
 *   current counter + 1 (`commitIdentity`: any value above it, on an empty store);
 *   otherwise it throws an error whose `code` is `'ERR_SEALWIRE_STORE_CONFLICT'` (another
 *   writer committed in between). Any other exception becomes `ERR_SEALWIRE_STORAGE`;
 * - `commitSend`'s outbox id and `commitReceive`'s inbox id equal the counter; a message id
 *   already seen makes `commitReceive` a conflict;
 * - `markSent` and `ack` delete one record, are idempotent and leave the counter alone;
 * - `pendingOutbox` / `pendingInbox` list records in increasing id order;
 * - reads return what the last successful commit wrote. Everything is synchronous.
 * Every value stored is either sealed by the messenger under the storage key or public
 * (ciphertexts, ids, counter): a store never sees a secret.
 */
class MemorySessionStore {
  #counter = 0n
  #identity = null
  #prekeys = null
  /** hex(peer id) → { peer, session } */
  #sessions = new Map()
  /** id → { id, peer, messageId, ciphertext } */
  #outbox = new Map()
  /** id → { id, peer, messageId, sealed } */
  #inbox = new Map()
  /** hex(message id) of every message received */
  #seen = new Set()

  /** The commit checks: the counter must be the current one + 1. */
  #begin(counter) {
    if (BigInt(counter) !== this.#counter + 1n) {
      throw conflict(`commit ${counter} does not follow commit ${this.#counter}`)
    }
  }

  counter() {
    return this.#counter
  }

  loadIdentity() {
    return this.#identity === null ? null : copy(this.#identity)
  }

  loadPrekeys() {
    return this.#prekeys === null ? null : copy(this.#prekeys)
  }

  loadSession(peer) {
    const entry = this.#sessions.get(hex(peer))
    return entry === undefined ? null : copy(entry.session)
  }

  peers() {
    return [...this.#sessions.values()].map((e) => copy(e.peer))
  }

  seen(messageId) {
    return this.#seen.has(hex(messageId))
  }

  pendingOutbox() {
    return [...this.#outbox.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((r) => ({ id: r.id, peer: copy(r.peer), messageId: copy(r.messageId), ciphertext: copy(r.ciphertext) }))
  }

  pendingInbox() {
    return [...this.#inbox.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((r) => ({ id: r.id, peer: copy(r.peer), messageId: copy(r.messageId), sealed: copy(r.sealed) }))
  }

  commitIdentity(counter, identity, prekeys) {
    const c = BigInt(counter)
    if (c <= this.#counter || this.#identity !== null) {
      throw conflict('the store is already set up')
    }
    const [i, p] = [copy(identity), copy(prekeys)]
    this.#identity = i
    this.#prekeys = p
    this.#counter = c
  }

  commitPrekeys(counter, prekeys) {
    this.#begin(counter)
    this.#prekeys = copy(prekeys)
    this.#counter = BigInt(counter)
  }

  commitSession(counter, peer, session) {
    this.#begin(counter)
    const entry = { peer: copy(peer), session: copy(session) }
    this.#sessions.set(hex(entry.peer), entry)
    this.#counter = BigInt(counter)
  }

  commitSend(counter, peer, session, outbox) {
    this.#begin(counter)
    const id = BigInt(outbox.id)
    if (id !== BigInt(counter) || this.#outbox.has(id)) {
      throw conflict('the outbox id must be the new counter')
    }
    // Everything is copied (and so checked) before the first write.
    const entry = { peer: copy(peer), session: copy(session) }
    const record = { id, peer: copy(outbox.peer), messageId: copy(outbox.messageId), ciphertext: copy(outbox.ciphertext) }
    this.#sessions.set(hex(entry.peer), entry)
    this.#outbox.set(id, record)
    this.#counter = id
  }

  commitReceive(commit) {
    this.#begin(commit.counter)
    const id = BigInt(commit.inbox.id)
    const seenKey = hex(commit.messageId)
    if (id !== BigInt(commit.counter) || this.#seen.has(seenKey) || this.#inbox.has(id)) {
      throw conflict('the inbox id must be the new counter, and the message new')
    }
    // Everything is copied (and so checked) before the first write.
    const entry = { peer: copy(commit.peer), session: copy(commit.session) }
    const prekeys = commit.prekeys === null || commit.prekeys === undefined ? null : copy(commit.prekeys)
    const r = commit.inbox
    const record = { id, peer: copy(r.peer), messageId: copy(r.messageId), sealed: copy(r.sealed) }
    this.#sessions.set(hex(entry.peer), entry)
    if (prekeys !== null) this.#prekeys = prekeys
    this.#seen.add(seenKey)
    this.#inbox.set(id, record)
    this.#counter = id
  }

  markSent(outboxId) {
    this.#outbox.delete(BigInt(outboxId))
  }

  ack(inboxId) {
    this.#inbox.delete(BigInt(inboxId))
  }

  /**
   * An independent copy of the whole store (a snapshot: restore it to simulate a
   * rolled-back database, which `Messenger.openWithStore` with `minCounter` refuses).
   */
  clone() {
    const c = new MemorySessionStore()
    c.#counter = this.#counter
    c.#identity = this.#identity === null ? null : copy(this.#identity)
    c.#prekeys = this.#prekeys === null ? null : copy(this.#prekeys)
    for (const [k, e] of this.#sessions) c.#sessions.set(k, { peer: copy(e.peer), session: copy(e.session) })
    for (const [k, r] of this.#outbox) c.#outbox.set(k, { ...r, peer: copy(r.peer), messageId: copy(r.messageId), ciphertext: copy(r.ciphertext) })
    for (const [k, r] of this.#inbox) c.#inbox.set(k, { ...r, peer: copy(r.peer), messageId: copy(r.messageId), sealed: copy(r.sealed) })
    for (const k of this.#seen) c.#seen.add(k)
    return c
  }
}

module.exports = { ...require('./index.js'), ...require('./stream.js'), MemorySessionStore }
