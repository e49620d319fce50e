// Hand-written (not generated): types of the package entry point sealwire.js = everything in
// the generated index.d.ts plus the stream and file helpers of stream.js and the
// `SessionStore` interface with its reference implementation `MemorySessionStore`.
import type { Transform } from 'node:stream'
import type { OpenOptions, SealOptions } from './index'

export * from './index'

/**
 * A `stream.Transform`: plaintext in, one sealed envelope out (the same format `seal`
 * produces, with a fresh data key). The data key is wrapped for `options.to` when the stream
 * is created: bad options throw synchronously, with a sealwire `code` — except with a
 * `KmsKey` in `options.to`, whose wrap runs on the libuv thread pool
 * (`EnvelopeSealer.createAsync`): its failure is the stream's first error. Each chunk is
 * sealed on the libuv thread pool; memory stays bounded by one segment.
 */
export declare function createSealStream(options: SealOptions): Transform

/**
 * A `stream.Transform`: one sealed envelope in, verified plaintext out. The header is
 * authenticated as soon as it has arrived; only segments whose tag verified are pushed. The
 * stream fails (`'error'` event, error `code`) with `ERR_SEALWIRE_TRUNCATED` if the input ends
 * before the final segment, `ERR_SEALWIRE_DECRYPTION_FAILED` if it was modified, and the
 * header codes of `unseal`. Plaintext already pushed before a failure was authentic, but
 * the whole is not: discard it. With a `KmsKey` in `options.keys` the header is authenticated
 * on the libuv thread pool (`EnvelopeOpener.createAsync`).
 */
export declare function createUnsealStream(options: OpenOptions): Transform

/**
 * Seal the file `src` into `dst` in constant memory. `dst` is replaced atomically (a
 * temporary file in the same directory, mode 0600, renamed on success). Rejects with the
 * `code`s of `createSealStream`, or Node's file-system errors.
 */
export declare function sealFile(src: string, dst: string, options: SealOptions): Promise<void>

/**
 * Open the sealed file `src` into `dst` in constant memory. `dst` is written (atomically,
 * mode 0600) only if the whole envelope verified. Rejects with the `code`s of
 * `createUnsealStream`, or Node's file-system errors.
 */
export declare function unsealFile(src: string, dst: string, options: OpenOptions): Promise<void>

/**
 * An outbox record as a `SessionStore` receives it (`commitSend`) and returns it
 * (`pendingOutbox`): a ciphertext committed for sending, kept until `markSent`.
 */
export interface SessionStoreOutboxRecord {
  /** Local id: the counter of the commit that created it (returned as `number` or `bigint`). */
  id: bigint | number
  /** The recipient's 32-byte peer id. */
  peer: Uint8Array
  /** 32-byte id of the ciphertext. */
  messageId: Uint8Array
  /** The exact bytes to (re)send (public). */
  ciphertext: Uint8Array
}

/**
 * An inbox record as a `SessionStore` receives it (`commitReceive`) and returns it
 * (`pendingInbox`): a received plaintext, sealed under the storage key, kept until `ack`.
 */
export interface SessionStoreInboxRecord {
  /** Local id: the counter of the commit that created it (returned as `number` or `bigint`). */
  id: bigint | number
  /** The sender's 32-byte peer id. */
  peer: Uint8Array
  /** 32-byte id of the ciphertext it came from. */
  messageId: Uint8Array
  /** The plaintext, sealed by the messenger (`SWIN`). */
  sealed: Uint8Array
}

/** Everything one received message changes: `SessionStore.commitReceive`'s argument. */
export interface SessionStoreReceiveCommit {
  /** The new counter (the current one + 1). */
  counter: bigint
  /** The sender's 32-byte peer id. */
  peer: Buffer
  /** The sender's new sealed session record. */
  session: Buffer
  /** The new sealed prekey store when the message started a session, else `null`. */
  prekeys: Buffer | null
  /** Record as seen; must not have been seen before (else: a conflict). */
  messageId: Buffer
  /** The inbox record to add (its id equals `counter`). */
  inbox: { id: bigint; peer: Buffer; messageId: Buffer; sealed: Buffer }
}

/**
 * Persistent storage for a `Messenger` written in JavaScript (`Messenger.createWithStore`,
 * `Messenger.openWithStore`): the core's `SessionStore` trait, one method per trait method,
 * in camelCase. `MemorySessionStore` is the reference implementation; docs/STORE.md explains
 * the transactions.
 *
 * Calls. Every method is called synchronously, on the JavaScript thread, with `this` = the
 * store, and must return its result synchronously (a returned Promise is a failure): use a
 * synchronous database API (e.g. `node:sqlite`'s `DatabaseSync`, better-sqlite3). Byte
 * strings arrive as fresh `Buffer` copies (keep them), counters and ids as `bigint`; ids and
 * counters may be returned as `bigint` or safe-integer `number`, byte strings as any
 * `Uint8Array`, missing values as `null` (or `undefined`). Because a store runs on the
 * JavaScript thread, the messenger's `…Async` methods run synchronously over it and return
 * a Promise already settled with the result. A method must not call its own messenger
 * (that call fails with `ERR_SEALWIRE_INVALID_PARAMETER`).
 *
 * Contract. Every `commit*` method is one atomic, durable transaction: it writes everything
 * or (throwing) nothing. It sets the store counter to its `counter` argument, which must be
 * the current counter + 1 (`commitIdentity`: any larger value, on an empty store);
 * otherwise it writes nothing and throws an error whose `code` is
 * `'ERR_SEALWIRE_STORE_CONFLICT'`. `commitSend`'s outbox id and `commitReceive`'s inbox id
 * equal the counter. `markSent` / `ack` delete one record, are idempotent and leave the
 * counter alone. Reads return what the last successful commit wrote; pending records come in
 * increasing id order.
 *
 * Failures. A method that throws makes the operation fail with `ERR_SEALWIRE_STORAGE`
 * (`ERR_SEALWIRE_STORE_CONFLICT` for that code) — nothing committed, the messenger
 * unchanged; the error's message names the method and repeats the thrown message, its
 * `cause` is the thrown value. A return value of the wrong type fails the same way.
 *
 * Nothing secret reaches the store: identity, prekeys, sessions and inbox plaintexts are
 * sealed under the storage key; ciphertexts, ids and the counter are public.
 */
export interface SessionStore {
  /** The counter of the last commit (0 for an empty store). */
  counter(): bigint | number
  /** The sealed identity, if the store was set up. */
  loadIdentity(): Uint8Array | null | undefined
  /** The sealed prekey store, if the store was set up. */
  loadPrekeys(): Uint8Array | null | undefined
  /** The sealed session record of `peer` (a 32-byte peer id), if any. */
  loadSession(peer: Buffer): Uint8Array | null | undefined
  /** The peer ids of every peer with a session record, in any order. */
  peers(): Uint8Array[]
  /** Whether a message with this id was received (committed by `commitReceive`). */
  seen(messageId: Buffer): boolean
  /** Outbox records not yet marked sent, in increasing id order. */
  pendingOutbox(): SessionStoreOutboxRecord[]
  /** Inbox records not yet acknowledged, in increasing id order. */
  pendingInbox(): SessionStoreInboxRecord[]
  /** Set up an empty store: the sealed identity and prekey store (conflict if set up). */
  commitIdentity(counter: bigint, identity: Buffer, prekeys: Buffer): void
  /** Replace the sealed prekey store. */
  commitPrekeys(counter: bigint, prekeys: Buffer): void
  /** Replace (or create) `peer`'s sealed session record. */
  commitSession(counter: bigint, peer: Buffer, session: Buffer): void
  /** Replace `peer`'s sealed session record and add `outbox` (whose id equals `counter`). */
  commitSend(
    counter: bigint,
    peer: Buffer,
    session: Buffer,
    outbox: { id: bigint; peer: Buffer; messageId: Buffer; ciphertext: Buffer },
  ): void
  /**
   * Replace the sender's session record, the prekey store if given, record the message id
   * as seen and add the inbox record (whose id equals the counter).
   */
  commitReceive(commit: SessionStoreReceiveCommit): void
  /** Delete an outbox record (idempotent). */
  markSent(outboxId: bigint): void
  /** Delete an inbox record (idempotent). */
  ack(inboxId: bigint): void
}

/**
 * The reference `SessionStore`, in plain JavaScript and in memory (nothing survives the
 * process): the contract in the simplest code, to copy for a store over a real database,
 * and a store for tests. Reopening a messenger over the same object is a restart.
 */
export declare class MemorySessionStore implements SessionStore {
  constructor()
  counter(): bigint
  loadIdentity(): Buffer | null
  loadPrekeys(): Buffer | null
  loadSession(peer: Uint8Array): Buffer | null
  peers(): Buffer[]
  seen(messageId: Uint8Array): boolean
  pendingOutbox(): Array<{ id: bigint; peer: Buffer; messageId: Buffer; ciphertext: Buffer }>
  pendingInbox(): Array<{ id: bigint; peer: Buffer; messageId: Buffer; sealed: Buffer }>
  commitIdentity(counter: bigint | number, identity: Uint8Array, prekeys: Uint8Array): void
  commitPrekeys(counter: bigint | number, prekeys: Uint8Array): void
  commitSession(counter: bigint | number, peer: Uint8Array, session: Uint8Array): void
  commitSend(counter: bigint | number, peer: Uint8Array, session: Uint8Array, outbox: SessionStoreOutboxRecord): void
  commitReceive(commit: SessionStoreReceiveCommit): void
  markSent(outboxId: bigint | number): void
  ack(inboxId: bigint | number): void
  /**
   * An independent copy of the whole store: a snapshot (restoring it simulates a
   * rolled-back database, which `Messenger.openWithStore` with `minCounter` refuses).
   */
  clone(): MemorySessionStore
}
