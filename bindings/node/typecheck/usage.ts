// Compile-only sample of the public API (never executed): checks that sealwire.d.ts and the
// generated index.d.ts are consistent and usable from TypeScript under `strict`.
import { Transform } from 'node:stream'
import {
  seal,
  sealAsync,
  unseal,
  unsealAsync,
  rewrap,
  rewrapAsync,
  keyProviderInfo,
  createSealStream,
  createUnsealStream,
  sealFile,
  unsealFile,
  EnvelopeHeader,
  EnvelopeSealer,
  EnvelopeOpener,
  Keyring,
  KeyringKey,
  KmsKey,
  DataKeyCache,
  RootKey,
  XWingKeyPair,
  XWingPublicKey,
  Identity,
  PublicIdentity,
  NoiseHandshake,
  Messenger,
  PrekeyBundle,
  RelayClient,
  RelayAgent,
  PrekeyStore,
  RatchetSession,
  MemorySessionStore,
  peerId,
  version,
  type OutboxMessage,
  type ReceivedMessage,
  type MessengerCreateOptions,
  type PrekeyStatus,
  type RelayClientOptions,
  type RelayReceiveOptions,
  type RelayReceiveReport,
  type PrekeyStoreOptions,
  type RatchetSessionOptions,
  type RatchetAcceptResult,
  type SessionStore,
  type SessionStoreInboxRecord,
  type SessionStoreOutboxRecord,
  type SessionStoreReceiveCommit,
  type CustomKeyProvider,
  type KeyProvider,
  type KeyProviderContext,
  type SealOptions,
  type OpenOptions,
  type KeyVersionInfo,
  type KmsKeySettings,
  type KmsStats,
  type DataKeyCacheLimits,
  type DataKeyCacheStats,
  type WrappedKeyInfo,
} from '../sealwire.js'

export async function sample(): Promise<void> {
  const ring: Keyring = new Keyring()
  const v1: number = ring.createKey('orders')
  const v2: number = ring.rotate('orders', { oldDecryptUntil: 1_900_000_000 })
  ring.setDecryptUntil('orders', v1, null)
  const infos: KeyVersionInfo[] = ring.versions('orders')
  const retired: number | undefined = infos[0].retiredAt
  const ids: string[] = ring.keyIds
  const def: string | null = ring.defaultKey
  const key: KeyringKey = ring.key('orders')
  const kv: number = key.keyVersion + v2 + ring.primaryVersion('orders') + ring.generation
  ring._setTime(1_700_000_000)
  ring._setTime(null)
  await ring.saveAsync('/tmp/k', { passphrase: 'pw', kdf: { memoryKib: 19456, iterations: 2, lanes: 1 } })
  ring.save('/tmp/k', { rootKey: RootKey.fromEnv() })
  const loaded: Keyring = await Keyring.loadAsync('/tmp/k', { rootKey: RootKey.generate() })
  const loaded2: Keyring = Keyring.load('/tmp/k', { passphrase: new Uint8Array(2) })

  const bob: Identity = Identity.generate()
  const bobPublic: PublicIdentity = bob.public
  const carol: XWingKeyPair = XWingKeyPair.generate()
  const carolPublic: XWingPublicKey = XWingPublicKey.fromBytes(carol.publicKey.toBytes())

  const kms: CustomKeyProvider = {
    providerId: 'aws-kms',
    keyId: 'arn:aws:kms:eu-west-1:111122223333:key/x',
    keyVersion: 1,
    wrap: (dataKey: Buffer, ctx: KeyProviderContext): Uint8Array => Buffer.concat([ctx.aad, dataKey]),
    unwrap: (wrapped: Buffer, ctx: KeyProviderContext): Uint8Array => wrapped.subarray(ctx.aad.length),
  }
  const to: KeyProvider[] = [ring, key, bobPublic, bob, carolPublic, carol, kms]
  const options: SealOptions = { context: { tenant: 'acme' }, to, suite: 'aes256gcm', segmentSize: 1 << 16 }
  const sealed: Buffer = seal(Buffer.from('x'), options)
  const sealed2: Buffer = await sealAsync(new Uint8Array(3), { to: [ring], suite: 'chacha20-poly1305' })
  const open: OpenOptions = { context: { tenant: 'acme' }, keys: [bob, carol, ring, kms] }
  const pt: Buffer = unseal(sealed, open)
  const pt2: Buffer = await unsealAsync(sealed2, { keys: [key] })
  const moved: Buffer = rewrap(sealed, {
    context: { tenant: 'acme' },
    keys: [ring],
    rewrapWith: [ring],
    remove: [{ provider: 'hpke-x25519', keyId: keyProviderInfo(bobPublic).keyId }],
    add: [carolPublic],
  })

  const h: EnvelopeHeader = EnvelopeHeader.parse(moved)
  const suite: 'chacha20-poly1305' | 'aes-256-gcm' = h.suite
  const entries: WrappedKeyInfo[] = h.wrappedKeys
  const n: number = h.headerLen + h.segmentSize + EnvelopeHeader.headerLength(moved) + entries[0].version
  const ctx: Record<string, string> = h.context

  const sealer: EnvelopeSealer = EnvelopeSealer.create(options)
  const out: Buffer[] = [sealer.update(pt), await sealer.updateAsync(pt2), sealer.final()]
  const opener: EnvelopeOpener = EnvelopeOpener.create(Buffer.concat(out), open)
  const last: Buffer = await opener.finalAsync()

  const s: Transform = createSealStream(options)
  const o: Transform = createUnsealStream(open)
  await sealFile('a', 'b', options)
  await unsealFile('b', 'c', open)

  const hs: NoiseHandshake = NoiseHandshake.initiator('Noise_NN_25519_ChaChaPoly_BLAKE2s')
  const root: string = RootKey.generate().toHex()
  const seed: Buffer = carol.exportSeed()
  void [retired, ids, def, kv, loaded, loaded2, n, ctx, last, s, o, hs, root, seed, suite, version]
}

export async function messengerSample(): Promise<void> {
  const storageKey = new Uint8Array(32)
  const opts: MessengerCreateOptions = { oneTimePrekeys: 10, postQuantum: true }
  const bob: Messenger = Messenger.create('/tmp/bob.db', Identity.generate(), storageKey, opts)
  const alice: Messenger = await Messenger.createAsync('/tmp/alice.db', Identity.generate(), storageKey)
  const bundle: PrekeyBundle = PrekeyBundle.fromBytes(bob.bundle().toBytes())
  const pq: boolean = bundle.isPostQuantum
  const bobPublic: PublicIdentity = bundle.identity
  alice.connect(bobPublic, bundle)
  await alice.connectAsync(bobPublic, bundle)
  const has: boolean = alice.hasSession(bobPublic) && alice.hasSession(peerId(bobPublic))
  const out: OutboxMessage = alice.send(bobPublic, Buffer.from('hi'))
  const out2: OutboxMessage = await alice.sendAsync(peerId(bobPublic), new Uint8Array(1))
  const id: bigint = out.id
  alice.markSent(id)
  await alice.markSentAsync(1)
  const pending: OutboxMessage[] = alice.pendingOutbox()
  const got: ReceivedMessage | null = bob.receive(out.ciphertext)
  const got2: ReceivedMessage | null = await bob.receiveAsync(out2.ciphertext)
  if (got) bob.ack(got.id)
  if (got2) await bob.ackAsync(got2.id)
  const inbox: ReceivedMessage[] = bob.pendingInbox()
  const counter: bigint = bob.counter
  const left: number = bob.oneTimePrekeyCount()
  bob.replenishPrekeys()
  const peers: Buffer[] = bob.peers()
  bob.close()
  const reopened: Messenger = Messenger.open('/tmp/bob.db', storageKey, { minCounter: counter })
  const reopened2: Messenger = await Messenger.openAsync('/tmp/bob.db', storageKey, { minCounter: 0 })
  void [pq, has, pending, inbox, left, peers, reopened.identity, reopened2.closed]
}

export function ratchetSample(): void {
  const key = new Uint8Array(32)
  const alice: Identity = Identity.generate()
  const bob: Identity = Identity.generate()
  const opts: PrekeyStoreOptions = { oneTimePrekeys: 5, kemOneTimePrekeys: 2, postQuantum: true, now: 1_700_000_000 }
  const store: PrekeyStore = PrekeyStore.generate(bob, opts)
  const counts: number = store.oneTimePrekeyCount + store.kemOneTimePrekeyCount + store.signedPrekeyId
  const retiredIds: number[] = store.retiredSignedPrekeyIds
  const created: number = store.signedPrekeyCreatedAt
  store.rotateSignedPrekey(bob, 1_700_000_100)
  store.rotateSignedPrekey(bob)
  const removed: number = store.removeExpiredSignedPrekeys(1_800_000_000, 60) + store.removeExpiredSignedPrekeys()
  store.replenish(bob)
  const storeGen: bigint = store.generation
  const sealedStore: Buffer = store.seal(key)
  const store2: PrekeyStore = PrekeyStore.open(sealedStore, key, storeGen)
  const store3: PrekeyStore = PrekeyStore.open(sealedStore, key)
  const sopts: RatchetSessionOptions = { headerEncryption: false }
  const a: RatchetSession = RatchetSession.initiate(alice, bob.public, store2.bundle(), sopts)
  const first: Buffer = a.encrypt(Buffer.from('hi'))
  const accepted: RatchetAcceptResult = RatchetSession.accept(bob, store2, first)
  const b: RatchetSession = accepted.session
  const pt: Buffer = accepted.plaintext
  const reply: Buffer = a.decrypt(b.encrypt(new Uint8Array(2)))
  const ka: 'X3DH' | 'PQXDH' = a.keyAgreement
  const flags: boolean = a.headerEncryption && a.isInitiator && a.awaitingReply && store3.isPostQuantum
  const sid: Buffer = b.sessionId
  const peer: PublicIdentity = b.peerIdentity
  const local: PublicIdentity = b.localIdentity
  const skipped: number = b.skippedMessageKeys
  const gen: bigint = a.generation
  const sealed: Buffer = a.seal(key)
  const a2: RatchetSession = RatchetSession.open(sealed, key, gen)
  const a3: RatchetSession = RatchetSession.open(sealed, key, 3)
  void [counts, retiredIds, created, removed, pt, reply, ka, flags, sid, peer, local, skipped, a2, a3]
}

/** A SessionStore written against the interface (not the reference class). */
class LoggingStore implements SessionStore {
  readonly inner = new MemorySessionStore()
  readonly log: string[] = []
  counter(): bigint { return this.inner.counter() }
  loadIdentity(): Uint8Array | null { return this.inner.loadIdentity() }
  loadPrekeys(): Uint8Array | null { return this.inner.loadPrekeys() }
  loadSession(peer: Buffer): Uint8Array | null { return this.inner.loadSession(peer) }
  peers(): Uint8Array[] { return this.inner.peers() }
  seen(messageId: Buffer): boolean { return this.inner.seen(messageId) }
  pendingOutbox(): SessionStoreOutboxRecord[] { return this.inner.pendingOutbox() }
  pendingInbox(): SessionStoreInboxRecord[] { return this.inner.pendingInbox() }
  commitIdentity(counter: bigint, identity: Buffer, prekeys: Buffer): void {
    this.log.push('identity')
    this.inner.commitIdentity(counter, identity, prekeys)
  }
  commitPrekeys(counter: bigint, prekeys: Buffer): void { this.inner.commitPrekeys(counter, prekeys) }
  commitSession(counter: bigint, peer: Buffer, session: Buffer): void { this.inner.commitSession(counter, peer, session) }
  commitSend(counter: bigint, peer: Buffer, session: Buffer, outbox: { id: bigint; peer: Buffer; messageId: Buffer; ciphertext: Buffer }): void {
    this.inner.commitSend(counter, peer, session, outbox)
  }
  commitReceive(commit: SessionStoreReceiveCommit): void {
    const prekeys: Buffer | null = commit.prekeys
    void prekeys
    this.inner.commitReceive(commit)
  }
  markSent(outboxId: bigint): void { this.inner.markSent(outboxId) }
  ack(inboxId: bigint): void { this.inner.ack(inboxId) }
}

export async function storeSample(): Promise<void> {
  const key = new Uint8Array(32)
  const mem: MemorySessionStore = new MemorySessionStore()
  const m: Messenger = Messenger.createWithStore(mem, Identity.generate(), key, { oneTimePrekeys: 2 })
  const logged = new LoggingStore()
  const m2: Messenger = Messenger.createWithStore(logged, Identity.generate(), key)
  m2.connect(m.identity, m.bundle())
  const out: OutboxMessage = await m2.sendAsync(m.identity, Buffer.from('x'))
  const counter: bigint = m.counter
  m.close()
  const snapshot: MemorySessionStore = mem.clone()
  const again: Messenger = Messenger.openWithStore(mem, key, { minCounter: counter })
  const plain: SessionStore = snapshot
  void [out, again.receive(out.ciphertext), plain]
}

export async function kmsSample(): Promise<void> {
  const settings: KmsKeySettings = { vaultAddress: 'https://vault.example:8200', vaultToken: 't' }
  const vault: KmsKey = KmsKey.fromUri('vault://orders?mount=transit', settings)
  const aws: KmsKey = KmsKey.fromUri('aws-kms://arn:aws:kms:eu-west-1:111122223333:key/abc', {
    awsAccessKeyId: 'AKIA…',
    awsSecretAccessKey: 's',
    awsSessionToken: 'st',
  })
  const fromEnv: KmsKey = KmsKey.fromUri('vault://orders')
  const id: 'vault-transit' | 'aws-kms' = vault.providerId
  const keyId: string = aws.keyId
  const stats: KmsStats = aws.stats()
  const calls: number = stats.operations + stats.httpRequests + stats.retries + stats.failures
  const context = { tenant: 'acme' }
  const sealed: Buffer = await sealAsync(Buffer.from('x'), { to: [vault, aws], context })
  const opened: Buffer = await unsealAsync(sealed, { keys: [aws, fromEnv], context })
  const moved: Buffer = await rewrapAsync(sealed, { keys: [vault], rewrapWith: [vault], add: [aws], context })
  const sealer: EnvelopeSealer = await EnvelopeSealer.createAsync({ to: [vault], context })
  const opener: EnvelopeOpener = await EnvelopeOpener.createAsync(sealed, { keys: [vault], context })
  const limits: DataKeyCacheLimits = { maxAgeSeconds: 60, maxMessages: 1000, maxBytes: 1 << 20, maxEntries: 8 }
  const cache: DataKeyCache = new DataKeyCache(limits)
  const cached: Buffer = await cache.sealAsync(Buffer.from('x'), { to: [aws], context, suite: 'aes256gcm', segmentSize: 4096 })
  const local: Buffer = new DataKeyCache().seal(Buffer.from('x'), { to: [new Keyring()] })
  const cs: DataKeyCacheStats = cache.stats()
  const inForce: DataKeyCacheLimits = cache.limits
  cache.clear()
  void [id, keyId, calls, opened, moved, sealer, opener, cached, local, cs.hits + cs.misses + cs.entries, inForce]
}

export async function relaySample(): Promise<void> {
  const options: RelayClientOptions = { connectTimeoutMs: 2000, requestTimeoutMs: 15000, allowPlainHttp: false }
  const client: RelayClient = new RelayClient('http://127.0.0.1:8790', options)
  await client.healthAsync()
  const timeouts: number = client.requestTimeoutMs + client.connectTimeoutMs
  const m: Messenger = await Messenger.createAsync('/tmp/a.db', Identity.generate(), new Uint8Array(32))
  const agent: RelayAgent = new RelayAgent(m, new RelayClient('https://relay.example'))
  const published: PrekeyStatus = await agent.publishAsync()
  const reset: PrekeyStatus = await agent.publishResetAsync()
  const status: PrekeyStatus = await agent.maintainAsync()
  const left: number = status.oneTime + status.kemOneTime
  const flags: boolean = status.postQuantum && status.replenish
  const peer: PublicIdentity = Identity.generate().public
  await agent.connectAsync(peer)
  const outboxId: bigint = await agent.sendAsync(peer, Buffer.from('hi'))
  const outboxId2: bigint = await agent.sendAsync(peerId(peer), new Uint8Array(1))
  const flushed: number = await agent.flushOutboxAsync()
  const receiveOptions: RelayReceiveOptions = { limit: 10, waitSeconds: 5 }
  const report: RelayReceiveReport = await agent.receiveAsync(receiveOptions)
  const report2: RelayReceiveReport = await agent.receiveAsync()
  for (const r of report.received) await agent.messenger.ackAsync(r.id)
  const counts: number = report.duplicates + report.rejected + report2.received.length
  const interrupted: string | undefined = report.interrupted
  const why: string | undefined = report.interruptedMessage
  const me: PublicIdentity = agent.identity
  const address: Buffer = agent.mailboxAddress
  const sameClient: RelayClient = agent.client
  const closed: boolean = agent.closed
  const back: Messenger = agent.intoMessenger()
  agent.close()
  void [timeouts, published, reset, left, flags, outboxId, outboxId2, flushed, counts, interrupted, why, me, address, sameClient, closed, back]
}
