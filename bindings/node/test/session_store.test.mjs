// Messenger over a SessionStore written in JavaScript (Messenger.createWithStore /
// openWithStore), with the reference MemorySessionStore of sealwire.js.
//
// 1. The same scenarios run over the built-in SQLite store and over the JavaScript store:
//    offline round trip with restarts (reopening over the same store object), duplicates,
//    restart with a pending outbox, rollback refused, the Promise forms.
// 2. JavaScript-store specifics: a throwing store leaves nothing half-committed (sender and
//    receiver side, sync and Promise forms), thrown codes and messages, wrong return types,
//    a second writer, a store calling back into its own messenger, missing methods, the
//    Promise forms settling synchronously, and the store object being let go of.
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import crypto from 'node:crypto'

import { Identity, Messenger, peerId, MemorySessionStore } from '../sealwire.js'

const tmp = mkdtempSync(join(tmpdir(), 'sealwire-node-store-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
let n = 0
const OPTS = Object.freeze({ oneTimePrekeys: 3 })

const code = (c) => (err) => {
  assert.ok(err instanceof Error, `an Error instance (got ${inspect(err)})`)
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.equal(err.code, c)
  return true
}
const text = (b) => Buffer.from(b).toString('utf8')

/**
 * A backend: `make()` returns a fresh "place" (a file path, or a store object);
 * `create(place, identity, key)` / `open(place, key, minCounter)` make messengers over it;
 * `snapshot(place)` / `restore(place, snap)` copy its state (for rollback tests; `restore`
 * returns the place to open).
 */
const backends = [
  {
    name: 'SQLite (built-in)',
    make: () => join(tmp, `db-${n++}.sqlite`),
    create: (path, id, key) => Messenger.create(path, id, key, OPTS),
    open: (path, key, minCounter) => Messenger.open(path, key, { minCounter }),
    snapshot: (path) => {
      const snap = `${path}.snap-${n++}`
      copyFileSync(path, snap)
      return snap
    },
    restore: (path, snap) => {
      copyFileSync(snap, path)
      return path
    },
  },
  {
    name: 'JavaScript (MemorySessionStore)',
    make: () => new MemorySessionStore(),
    create: (store, id, key) => Messenger.createWithStore(store, id, key, OPTS),
    open: (store, key, minCounter) => Messenger.openWithStore(store, key, { minCounter }),
    snapshot: (store) => store.clone(),
    restore: (_store, snap) => snap,
  },
]

function pair(b) {
  const aliceId = Identity.generate()
  const bobId = Identity.generate()
  const alicePlace = b.make()
  const bobPlace = b.make()
  const aliceKey = crypto.randomBytes(32)
  const bobKey = crypto.randomBytes(32)
  const alice = b.create(alicePlace, aliceId, aliceKey)
  const bob = b.create(bobPlace, bobId, bobKey)
  return { aliceId, bobId, alicePlace, bobPlace, aliceKey, bobKey, alice, bob }
}

for (const b of backends) {
  describe(`scenarios over ${b.name}`, () => {
    test('offline round trip; a restart reopens the same store', () => {
      const { aliceId, bobId, bobPlace, bobKey, alice, bob } = pair(b)
      const published = bob.bundle()
      let saved = bob.counter
      bob.close() // offline
      assert.ok(bob.closed)
      assert.throws(() => bob.counter, code('ERR_SEALWIRE_STORAGE'))

      alice.connect(bobId.public, published)
      const wire = []
      for (let i = 0; i < 4; i++) {
        const out = alice.send(bobId.public, Buffer.from(`message ${i}`))
        assert.equal(typeof out.id, 'bigint')
        wire.push(out.ciphertext)
        alice.markSent(out.id)
      }
      assert.deepEqual(alice.pendingOutbox(), [])

      const bob2 = b.open(bobPlace, bobKey, saved)
      assert.ok(bob2.identity.equals(bobId.public))
      for (let i = 0; i < wire.length; i++) {
        const got = bob2.receive(wire[i])
        assert.equal(text(got.plaintext), `message ${i}`)
        assert.deepEqual(got.peer, peerId(aliceId.public))
        bob2.ack(got.id)
      }
      assert.deepEqual(bob2.pendingInbox(), [])
      assert.equal(bob2.oneTimePrekeyCount(), 2)
      bob2.replenishPrekeys()
      assert.equal(bob2.oneTimePrekeyCount(), 3)
      const reply = bob2.send(aliceId.public, Buffer.from('hello alice'))
      bob2.markSent(reply.id)
      saved = bob2.counter
      bob2.close()
      assert.equal(text(alice.receive(reply.ciphertext).plaintext), 'hello alice')

      const more = alice.send(bobId.public, Buffer.from('again'))
      const bob3 = b.open(bobPlace, bobKey, saved)
      assert.equal(bob3.counter, saved)
      assert.equal(text(bob3.receive(more.ciphertext).plaintext), 'again')
      assert.ok(bob3.counter > saved)
      assert.deepEqual(bob3.peers(), [peerId(aliceId.public)])
      bob3.close()
      alice.close()
    })

    test('duplicates → null, also after a restart; unacknowledged messages come back', () => {
      const { bobId, bobPlace, bobKey, alice, bob } = pair(b)
      alice.connect(bobId.public, bob.bundle())
      const out = alice.send(bobId.public, Buffer.from('once'))
      const got = bob.receive(out.ciphertext)
      assert.equal(text(got.plaintext), 'once')
      assert.equal(bob.receive(out.ciphertext), null)
      const c = bob.counter
      bob.close()
      const again = b.open(bobPlace, bobKey, c)
      assert.equal(again.receive(out.ciphertext), null)
      const pending = again.pendingInbox()
      assert.equal(pending.length, 1)
      assert.equal(pending[0].id, got.id)
      assert.equal(text(pending[0].plaintext), 'once')
      again.ack(pending[0].id)
      again.ack(pending[0].id) // idempotent
      assert.deepEqual(again.pendingInbox(), [])
      assert.equal(again.counter, c, 'ack does not commit')
      again.close()
      alice.close()
    })

    test('restart with a pending outbox: the same bytes are sent again', () => {
      const { bobId, alicePlace, aliceKey, alice, bob } = pair(b)
      alice.connect(bobId.public, bob.bundle())
      const first = alice.send(bobId.public, Buffer.from('one'))
      const second = alice.send(bobId.public, Buffer.from('two'))
      alice.markSent(first.id)
      const c = alice.counter
      alice.close()
      const alice2 = b.open(alicePlace, aliceKey, c)
      const pending = alice2.pendingOutbox()
      assert.equal(pending.length, 1)
      assert.equal(pending[0].id, second.id)
      assert.deepEqual(pending[0].ciphertext, second.ciphertext)
      assert.deepEqual(pending[0].messageId, second.messageId)
      assert.equal(text(bob.receive(first.ciphertext).plaintext), 'one')
      assert.equal(text(bob.receive(second.ciphertext).plaintext), 'two')
      assert.equal(bob.receive(pending[0].ciphertext), null)
      alice2.markSent(pending[0].id)
      assert.deepEqual(alice2.pendingOutbox(), [])
      assert.equal(text(bob.receive(alice2.send(bobId.public, Buffer.from('three')).ciphertext).plaintext), 'three')
      alice2.close()
      bob.close()
    })

    test('a rolled-back store is refused with ERR_SEALWIRE_STALE_STATE', () => {
      const { bobId, alicePlace, aliceKey, alice, bob } = pair(b)
      alice.connect(bobId.public, bob.bundle())
      alice.close()
      const snap = b.snapshot(alicePlace)
      const a2 = b.open(alicePlace, aliceKey, 0)
      a2.send(bobId.public, Buffer.from('after the snapshot'))
      const saved = a2.counter
      a2.close()
      const rolledBack = b.restore(alicePlace, snap)
      assert.throws(() => b.open(rolledBack, aliceKey, saved), code('ERR_SEALWIRE_STALE_STATE'))
      const stale = b.open(rolledBack, aliceKey, 0)
      assert.ok(stale.counter < saved)
      stale.close()
      assert.throws(() => b.open(alicePlace, crypto.randomBytes(32), 0), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
      assert.throws(() => b.open(alicePlace, aliceKey, -1), code('ERR_SEALWIRE_INVALID_PARAMETER'))
      bob.close()
    })

    test('Promise forms resolve, and reject with codes', async () => {
      const { aliceId, bobId, alice, bob } = pair(b)
      await alice.connectAsync(bobId.public, bob.bundle())
      const outs = []
      for (let i = 0; i < 3; i++) {
        const out = await alice.sendAsync(bobId.public, Buffer.from(`async ${i}`))
        outs.push(out)
        await alice.markSentAsync(out.id)
      }
      for (let i = 0; i < 3; i++) {
        const got = await bob.receiveAsync(outs[i].ciphertext)
        assert.equal(text(got.plaintext), `async ${i}`)
        await bob.ackAsync(got.id)
      }
      assert.equal(await bob.receiveAsync(outs[0].ciphertext), null)
      await assert.rejects(bob.sendAsync(Identity.generate().public, Buffer.from('x')), code('ERR_SEALWIRE_NO_SESSION'))
      await assert.rejects(bob.sendAsync(Buffer.alloc(3), Buffer.from('x')), code('ERR_SEALWIRE_INVALID_LENGTH'))
      await assert.rejects(bob.markSentAsync(-1), code('ERR_SEALWIRE_INVALID_PARAMETER'))
      await assert.rejects(alice.receiveAsync(outs[0].ciphertext), (e) => e.code.startsWith('ERR_SEALWIRE_'))
      const reply = await bob.sendAsync(peerId(aliceId.public), Buffer.from('pong'))
      assert.equal(text((await alice.receiveAsync(reply.ciphertext)).plaintext), 'pong')
      alice.close()
      await assert.rejects(alice.sendAsync(bobId.public, Buffer.from('x')), code('ERR_SEALWIRE_STORAGE'))
      bob.close()
    })
  })
}

// ---------------------------------------------------------------------------------------------
// JavaScript-store specifics
// ---------------------------------------------------------------------------------------------

/** A MemorySessionStore whose methods can be made to throw (`fail.set(method, error)`). */
class FailingStore extends MemorySessionStore {
  fail = new Map()
  calls = []
  #check(method) {
    this.calls.push(method)
    if (this.fail.has(method)) {
      const err = this.fail.get(method)
      this.fail.delete(method)
      throw err
    }
  }
  counter() { this.#check('counter'); return super.counter() }
  loadSession(peer) { this.#check('loadSession'); return super.loadSession(peer) }
  commitSession(...a) { this.#check('commitSession'); return super.commitSession(...a) }
  commitSend(...a) { this.#check('commitSend'); return super.commitSend(...a) }
  commitReceive(...a) { this.#check('commitReceive'); return super.commitReceive(...a) }
  commitPrekeys(...a) { this.#check('commitPrekeys'); return super.commitPrekeys(...a) }
}

function jsPair(StoreClass = FailingStore) {
  const aliceId = Identity.generate()
  const bobId = Identity.generate()
  const aliceStore = new StoreClass()
  const bobStore = new StoreClass()
  const key = crypto.randomBytes(32)
  const alice = Messenger.createWithStore(aliceStore, aliceId, key, OPTS)
  const bob = Messenger.createWithStore(bobStore, bobId, key, OPTS)
  return { aliceId, bobId, aliceStore, bobStore, key, alice, bob }
}

describe('JavaScript SessionStore', () => {
  test('the store sees the calls of the contract, with bigint counters and Buffers', () => {
    const seen = []
    class Recording extends MemorySessionStore {
      commitIdentity(counter, identity, prekeys) {
        seen.push(['commitIdentity', typeof counter, Buffer.isBuffer(identity), Buffer.isBuffer(prekeys)])
        return super.commitIdentity(counter, identity, prekeys)
      }
      commitSend(counter, peer, session, outbox) {
        seen.push(['commitSend', typeof counter, peer.length, outbox.id === counter, outbox.messageId.length])
        return super.commitSend(counter, peer, session, outbox)
      }
      commitReceive(c) {
        seen.push(['commitReceive', typeof c.counter, c.prekeys === null ? 'null' : 'prekeys', c.inbox.id === c.counter])
        return super.commitReceive(c)
      }
    }
    const { bobId, alice, bob } = jsPair(Recording)
    alice.connect(bobId.public, bob.bundle())
    const m1 = alice.send(bobId.public, Buffer.from('1'))
    const m2 = alice.send(bobId.public, Buffer.from('2'))
    bob.receive(m1.ciphertext)
    bob.receive(m2.ciphertext)
    assert.deepEqual(seen, [
      ['commitIdentity', 'bigint', true, true],
      ['commitIdentity', 'bigint', true, true],
      ['commitSend', 'bigint', 32, true, 32],
      ['commitSend', 'bigint', 32, true, 32],
      ['commitReceive', 'bigint', 'prekeys', true], // the initial message consumed a prekey
      ['commitReceive', 'bigint', 'null', true],
    ])
  })

  test('a store that throws in commitSend: ERR_SEALWIRE_STORAGE, nothing committed, the next send works', () => {
    const { bobId, aliceStore, alice, bob } = jsPair()
    alice.connect(bobId.public, bob.bundle())
    const first = alice.send(bobId.public, Buffer.from('first'))
    const before = { counter: alice.counter, store: aliceStore.counter(), outbox: aliceStore.pendingOutbox().length }
    const thrown = new Error('disk full')
    aliceStore.fail.set('commitSend', thrown)
    assert.throws(() => alice.send(bobId.public, Buffer.from('lost')), (e) => {
      assert.equal(e.code, 'ERR_SEALWIRE_STORAGE')
      assert.match(e.message, /commitSend threw: disk full/)
      assert.equal(e.cause, thrown, 'the thrown value is the cause')
      return true
    })
    assert.equal(alice.counter, before.counter)
    assert.equal(aliceStore.counter(), before.store)
    assert.equal(aliceStore.pendingOutbox().length, before.outbox)
    assert.equal(alice.pendingOutbox().length, 1)
    // The messenger is consistent: the next message goes out and decrypts in order.
    const second = alice.send(bobId.public, Buffer.from('second'))
    assert.equal(text(bob.receive(first.ciphertext).plaintext), 'first')
    assert.equal(text(bob.receive(second.ciphertext).plaintext), 'second')
  })

  test('a store that throws in commitReceive: nothing committed (not even the prekey); the retry succeeds', () => {
    const { bobId, bobStore, alice, bob } = jsPair()
    alice.connect(bobId.public, bob.bundle())
    const out = alice.send(bobId.public, Buffer.from('hello'))
    const prekeys = bob.oneTimePrekeyCount()
    const counter = bob.counter
    bobStore.fail.set('commitReceive', new Error('connection reset'))
    assert.throws(() => bob.receive(out.ciphertext), (e) => {
      assert.equal(e.code, 'ERR_SEALWIRE_STORAGE')
      assert.match(e.message, /commitReceive threw: connection reset/)
      return true
    })
    assert.equal(bob.counter, counter)
    assert.equal(bobStore.counter(), counter)
    assert.deepEqual(bob.pendingInbox(), [])
    assert.equal(bob.hasSession(alice.identity), false)
    assert.equal(bob.oneTimePrekeyCount(), prekeys, 'the prekey was not consumed')
    // Not taken for a duplicate: the retry delivers it.
    const got = bob.receive(out.ciphertext)
    assert.equal(text(got.plaintext), 'hello')
    assert.equal(bob.oneTimePrekeyCount(), prekeys - 1)
    assert.equal(bob.receive(out.ciphertext), null)
  })

  test('a failing read, thrown strings, a thrown conflict code, and the Promise forms', async () => {
    const { bobId, aliceStore, alice, bob } = jsPair()
    alice.connect(bobId.public, bob.bundle())
    aliceStore.fail.set('commitSend', 'plain string')
    assert.throws(() => alice.send(bobId.public, Buffer.from('x')), (e) => {
      assert.equal(e.code, 'ERR_SEALWIRE_STORAGE')
      assert.match(e.message, /commitSend threw: plain string/)
      assert.equal(e.cause, 'plain string')
      return true
    })
    aliceStore.fail.set('commitSend', Object.assign(new Error('someone else wrote'), { code: 'ERR_SEALWIRE_STORE_CONFLICT' }))
    assert.throws(() => alice.send(bobId.public, Buffer.from('x')), code('ERR_SEALWIRE_STORE_CONFLICT'))
    aliceStore.fail.set('commitSend', Object.assign(new Error('custom'), { code: 'EIO' }))
    assert.throws(() => alice.send(bobId.public, Buffer.from('x')), code('ERR_SEALWIRE_STORAGE'))
    const cause = new Error('async disk full')
    aliceStore.fail.set('commitSend', cause)
    await assert.rejects(alice.sendAsync(bobId.public, Buffer.from('x')), (e) => {
      assert.equal(e.code, 'ERR_SEALWIRE_STORAGE')
      assert.match(e.message, /commitSend threw: async disk full/)
      assert.equal(e.cause, cause)
      return true
    })
    // A failure of an earlier operation is not attached to a later, unrelated error.
    await assert.rejects(alice.sendAsync(Identity.generate().public, Buffer.from('x')), (e) => {
      assert.equal(e.code, 'ERR_SEALWIRE_NO_SESSION')
      assert.equal(e.cause, undefined)
      return true
    })
    // Reads: a throwing `counter` makes open fail.
    const store = new FailingStore()
    const key = crypto.randomBytes(32)
    Messenger.createWithStore(store, Identity.generate(), key).close()
    store.fail.set('counter', new TypeError('no database'))
    assert.throws(() => Messenger.openWithStore(store, key, { minCounter: 0 }), (e) => {
      assert.equal(e.code, 'ERR_SEALWIRE_STORAGE')
      assert.match(e.message, /counter threw: no database/)
      assert.ok(e.cause instanceof TypeError)
      return true
    })
    // Nothing was lost: all along, every failed send left the session as it was.
    const ok = alice.send(bobId.public, Buffer.from('finally'))
    assert.equal(text(bob.receive(ok.ciphertext).plaintext), 'finally')
  })

  test('wrong return values are storage failures naming the method', () => {
    const key = crypto.randomBytes(32)
    const cases = [
      ['counter', () => -1, /counter returned/],
      ['counter', () => 1.5, /counter returned/],
      ['counter', () => '3', /counter returned/],
      ['loadIdentity', () => 'not bytes', /loadIdentity returned/],
      ['loadIdentity', () => new Uint16Array(4), /loadIdentity returned/],
      ['loadPrekeys', () => Promise.resolve(null), /loadPrekeys returned a Promise/],
      ['pendingOutbox', () => [{ id: 1n, peer: Buffer.alloc(31), messageId: Buffer.alloc(32), ciphertext: Buffer.alloc(1) }], /pendingOutbox returned a record whose peer/],
      ['pendingInbox', () => 'nope', /pendingInbox returned something that is not an array/],
      ['peers', () => [Buffer.alloc(32), 7], /peers returned/],
    ]
    for (const [method, impl, message] of cases) {
      const store = new MemorySessionStore()
      const m = Messenger.createWithStore(store, Identity.generate(), key, OPTS)
      const c = m.counter
      m.close()
      store[method] = impl
      assert.throws(
        () => {
          const again = Messenger.openWithStore(store, key, { minCounter: c })
          again.pendingOutbox()
          again.pendingInbox()
          again.peers()
        },
        (e) => {
          assert.equal(e.code, 'ERR_SEALWIRE_STORAGE', `${method}: ${e.message}`)
          assert.match(e.message, message)
          return true
        },
        method,
      )
    }
    // Getters that throw (on the store, on a returned record) are failures like any other,
    // and leave no exception pending behind.
    {
      const store = new MemorySessionStore()
      const m = Messenger.createWithStore(store, Identity.generate(), key, OPTS)
      Object.defineProperty(store, 'pendingOutbox', { configurable: true, get() { throw new Error('getter boom') } })
      assert.throws(() => m.pendingOutbox(), (e) => e.code === 'ERR_SEALWIRE_STORAGE' && /getter boom/.test(e.message))
      Object.defineProperty(store, 'pendingOutbox', {
        configurable: true,
        value: () => [{ get id() { throw new Error('field boom') }, peer: Buffer.alloc(32), messageId: Buffer.alloc(32), ciphertext: Buffer.alloc(1) }],
      })
      assert.throws(() => m.pendingOutbox(), (e) => e.code === 'ERR_SEALWIRE_STORAGE' && /field boom/.test(e.message))
      assert.deepEqual(m.pendingInbox(), [])
      const trap = new Proxy(new MemorySessionStore(), { get(t, name) { if (name === 'ack') throw new Error('trap'); return Reflect.get(t, name) } })
      assert.throws(() => Messenger.createWithStore(trap, Identity.generate(), key), code('ERR_SEALWIRE_INVALID_PARAMETER'))
      assert.equal(m.counter, store.counter())
    }
    // `seen` must return a boolean.
    const { bobId, bobStore, alice, bob } = jsPair(MemorySessionStore)
    alice.connect(bobId.public, bob.bundle())
    const out = alice.send(bobId.public, Buffer.from('x'))
    bobStore.seen = () => 0
    assert.throws(() => bob.receive(out.ciphertext), (e) => e.code === 'ERR_SEALWIRE_STORAGE' && /seen returned/.test(e.message))
    delete bobStore.seen
    assert.equal(text(bob.receive(out.ciphertext).plaintext), 'x')
  })

  test('a store must implement every method; the store must be an object', () => {
    const key = crypto.randomBytes(32)
    const id = Identity.generate()
    const incomplete = new MemorySessionStore()
    incomplete.ack = undefined
    assert.throws(() => Messenger.createWithStore(incomplete, id, key), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => Messenger.openWithStore({}, key, { minCounter: 0 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => Messenger.createWithStore(null, id, key))
    assert.throws(() => Messenger.createWithStore('store', id, key))
    // A plain object works as well as a class instance.
    const inner = new MemorySessionStore()
    const plain = {}
    for (const name of ['counter', 'loadIdentity', 'loadPrekeys', 'loadSession', 'peers', 'seen', 'pendingOutbox', 'pendingInbox', 'commitIdentity', 'commitPrekeys', 'commitSession', 'commitSend', 'commitReceive', 'markSent', 'ack']) {
      plain[name] = (...args) => inner[name](...args)
    }
    const m = Messenger.createWithStore(plain, id, key, OPTS)
    assert.equal(m.counter, inner.counter())
    // An already set-up store, an empty store, a wrong key.
    assert.throws(() => Messenger.createWithStore(plain, id, key, OPTS), code('ERR_SEALWIRE_STORE_CONFLICT'))
    assert.throws(() => Messenger.openWithStore(new MemorySessionStore(), key, { minCounter: 0 }), code('ERR_SEALWIRE_STORAGE'))
    assert.throws(() => Messenger.openWithStore(plain, crypto.randomBytes(32), { minCounter: 0 }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.throws(() => Messenger.createWithStore(new MemorySessionStore(), id, Buffer.alloc(31)), code('ERR_SEALWIRE_INVALID_LENGTH'))
  })

  test('two messengers on one store: the second writer gets ERR_SEALWIRE_STORE_CONFLICT', () => {
    const { bobId, aliceStore, key, alice, bob } = jsPair(MemorySessionStore)
    alice.connect(bobId.public, bob.bundle())
    const twin = Messenger.openWithStore(aliceStore, key, { minCounter: alice.counter })
    const sent = twin.send(bobId.public, Buffer.from('from the twin'))
    const storeCounter = aliceStore.counter()
    assert.throws(() => alice.send(bobId.public, Buffer.from('from the first')), code('ERR_SEALWIRE_STORE_CONFLICT'))
    assert.equal(aliceStore.counter(), storeCounter)
    assert.equal(aliceStore.pendingOutbox().length, 1)
    // Only the twin's message exists; Bob reads it.
    assert.equal(text(bob.receive(sent.ciphertext).plaintext), 'from the twin')
  })

  test('the Promise forms over a JavaScript store run before returning, and settle', async () => {
    const { bobId, aliceStore, alice, bob } = jsPair(MemorySessionStore)
    await alice.connectAsync(bobId.public, bob.bundle())
    const p = alice.sendAsync(bobId.public, Buffer.from('now'))
    // Committed already, before the Promise is awaited.
    assert.equal(aliceStore.pendingOutbox().length, 1)
    assert.ok(p instanceof Promise)
    const out = await p
    assert.equal(text((await bob.receiveAsync(out.ciphertext)).plaintext), 'now')
  })

  test('a store callback cannot use its own messenger (no deadlock), other messengers are fine', () => {
    const other = jsPair(MemorySessionStore)
    let messenger = null
    const observed = []
    class Reentrant extends MemorySessionStore {
      commitSend(...args) {
        for (const f of [() => messenger.counter, () => messenger.pendingOutbox(), () => messenger.close()]) {
          try {
            f()
            observed.push('ok')
          } catch (e) {
            observed.push(e.code)
          }
        }
        observed.push(other.alice.counter > 0n ? 'other ok' : 'other?')
        if (this.throwAfter) throw new Error('after reentering')
        return super.commitSend(...args)
      }
    }
    const store = new Reentrant()
    const bobId = Identity.generate()
    const bob = Messenger.createWithStore(new MemorySessionStore(), bobId, Buffer.alloc(32, 1), OPTS)
    messenger = Messenger.createWithStore(store, Identity.generate(), Buffer.alloc(32, 2), OPTS)
    messenger.connect(bobId.public, bob.bundle())
    const out = messenger.send(bobId.public, Buffer.from('x'))
    assert.deepEqual(observed, ['ERR_SEALWIRE_INVALID_PARAMETER', 'ERR_SEALWIRE_INVALID_PARAMETER', 'ERR_SEALWIRE_INVALID_PARAMETER', 'other ok'])
    assert.equal(messenger.closed, false)
    assert.equal(text(bob.receive(out.ciphertext).plaintext), 'x')
    // The refused reentrant calls do not hide the failure of the operation around them.
    store.throwAfter = true
    assert.throws(() => messenger.send(bobId.public, Buffer.from('y')), (e) => {
      assert.equal(e.code, 'ERR_SEALWIRE_STORAGE')
      assert.match(e.message, /commitSend threw: after reentering/)
      return true
    })
    store.throwAfter = false
    assert.equal(text(bob.receive(messenger.send(bobId.public, Buffer.from('z')).ciphertext).plaintext), 'z')
  })

  test('JavaScript store and SQLite messengers talk to each other', () => {
    const key = crypto.randomBytes(32)
    const aliceId = Identity.generate()
    const bobId = Identity.generate()
    const alice = Messenger.createWithStore(new MemorySessionStore(), aliceId, key, OPTS)
    const bob = Messenger.create(join(tmp, `interop-${n++}.sqlite`), bobId, key, OPTS)
    alice.connect(bobId.public, bob.bundle())
    assert.equal(text(bob.receive(alice.send(bobId.public, Buffer.from('js → sqlite')).ciphertext).plaintext), 'js → sqlite')
    assert.equal(text(alice.receive(bob.send(aliceId.public, Buffer.from('sqlite → js')).ciphertext).plaintext), 'sqlite → js')
    bob.close()
  })

  test('nothing secret in the store or in inspect', () => {
    const key = crypto.randomBytes(32)
    const id = Identity.generate()
    const store = new MemorySessionStore()
    const m = Messenger.createWithStore(store, id, key, OPTS)
    assert.doesNotMatch(inspect(store, { showHidden: true, depth: 5 }), /[0-9a-f]{32}/)
    assert.deepEqual(Object.keys(store), [])
    assert.deepEqual(Object.keys(m), [])
    // What the store holds is sealed: neither the storage key nor the identity's secret
    // seed shows up in it.
    const blob = store.loadIdentity()
    assert.ok(blob.length > 64)
    assert.ok(!blob.includes(key))
    m.close()
  })

  test('the store object is let go of on close and when the messenger is collected', () => {
    // In a child process with --expose-gc: FinalizationRegistry observes the store objects.
    const here = fileURLToPath(new URL('.', import.meta.url))
    const script = `
      const { Identity, Messenger, MemorySessionStore } = require(${JSON.stringify(join(here, '..', 'sealwire.js'))})
      const collected = new Set()
      const registry = new FinalizationRegistry((name) => collected.add(name))
      let kept = null
      ;(() => {
        const closedStore = new MemorySessionStore()
        registry.register(closedStore, 'closed')
        kept = Messenger.createWithStore(closedStore, Identity.generate(), Buffer.alloc(32), { oneTimePrekeys: 1 })
        kept.close() // the messenger object stays alive; its store must not
        for (let i = 0; i < 20; i++) {
          const s = new MemorySessionStore()
          registry.register(s, 'dropped')
          Messenger.createWithStore(s, Identity.generate(), Buffer.alloc(32), { oneTimePrekeys: 1 })
        }
      })()
      ;(async () => {
        for (let i = 0; i < 100 && !(collected.has('closed') && collected.has('dropped')); i++) {
          globalThis.gc()
          await new Promise((r) => setTimeout(r, 10))
        }
        console.log(JSON.stringify({ closed: collected.has('closed'), dropped: collected.has('dropped'), alive: kept.closed }))
      })()
    `
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout.trim()), { closed: true, dropped: true, alive: true })
  })
})
