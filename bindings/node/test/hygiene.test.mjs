// sealwire/hygiene: the core's scrubbing rules through the real OpenTelemetry SDK
// (@opentelemetry/sdk-trace-base 2.x, in-memory exporter), structured log records, and
// tests/vectors/config/scrub.json replayed byte for byte.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { SpanStatusCode } from '@opentelemetry/api'

import * as hygiene from 'sealwire/hygiene'
import { SecurityConfig, _tokenWithKey } from '../index.js'

const {
  Scrubber,
  ScrubSpanProcessor,
  scrubAttributes,
  scrubLogRecord,
  sizeBucket,
  fieldTokens,
  SCRUB_FIELDS,
  SECRET_FIELDS,
  SIZE_FIELDS,
} = hygiene

const vectors = JSON.parse(readFileSync(new URL('../../../tests/vectors/config/scrub.json', import.meta.url), 'utf8'))
const KEY = Buffer.from(vectors.key_hex, 'hex')
const DID = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
const PUBKEY_HEX = '8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f'
const TOKEN = /h:[0-9a-f]{16}/g
const isToken = (v) => typeof v === 'string' && /^h:[0-9a-f]{16}$/.test(v)

/**
 * Map every per-process token in `out` back to the fixed-key token of the same input (a
 * substring of `text`): the process key is random, the reference's is bytes 0..31. Each
 * process token must come from some substring, or the output is wrong.
 */
function normalize(out, text) {
  const probe = new Scrubber({ mode: 'hash' })
  const chars = Array.from(text)
  for (const tok of new Set(out.match(TOKEN) ?? [])) {
    let fixed = null
    for (let i = 0; i < chars.length && fixed === null; i++) {
      for (let j = i + 1; j <= chars.length; j++) {
        const sub = chars.slice(i, j).join('')
        if (probe.scrub('peer_id', sub) === tok) {
          fixed = _tokenWithKey(KEY, sub)
          break
        }
      }
    }
    assert.notEqual(fixed, null, `${tok} is the token of no part of ${JSON.stringify(text)}`)
    out = out.replaceAll(tok, fixed)
  }
  return out
}

describe('scrub.json', () => {
  test('lists, tokens, classes, hashes and size buckets', () => {
    assert.deepEqual([...SCRUB_FIELDS], vectors.scrub_fields)
    assert.deepEqual([...SECRET_FIELDS], vectors.secret_fields)
    assert.deepEqual([...SIZE_FIELDS], vectors.size_fields)
    for (const c of vectors.tokens) assert.deepEqual(fieldTokens(c.name), c.tokens, c.name)
    for (const c of vectors.classify) {
      assert.equal(new Scrubber({ extraFields: c.extra ?? [] }).classify(c.name), c.class, c.name)
    }
    assert.ok(vectors.hash.length >= 4)
    for (const c of vectors.hash) {
      assert.equal(_tokenWithKey(KEY, c.value), c.token)
      assert.equal(_tokenWithKey(KEY, Buffer.from(c.value, 'utf8')), c.token)
    }
    for (const c of vectors.size_buckets) {
      assert.equal(sizeBucket(c.len), c.bucket)
      assert.equal(sizeBucket(BigInt(c.len)), c.bucket)
    }
    assert.throws(() => _tokenWithKey(Buffer.alloc(5), 'x'), { code: 'ERR_SEALWIRE_INVALID_PARAMETER' })
    assert.throws(() => sizeBucket(-1), { code: 'ERR_SEALWIRE_INVALID_PARAMETER' })
    assert.throws(() => sizeBucket(1.5), { code: 'ERR_SEALWIRE_INVALID_PARAMETER' })
  })

  test('redaction and scrubbing, byte for byte', () => {
    let n = 0
    for (const c of vectors.redact) {
      const got = new Scrubber({ mode: c.mode }).redactText(c.text)
      assert.equal(normalize(got, c.text), c.out, JSON.stringify(c))
      n++
    }
    for (const c of vectors.scrub) {
      const out = new Scrubber({ mode: c.mode }).scrub(c.name, c.value)
      assert.equal(out === null ? null : normalize(out, c.value), c.out, JSON.stringify(c))
      n++
    }
    assert.ok(n >= 30)
  })
})

describe('Scrubber', () => {
  test('follows the core rules', () => {
    const h = new Scrubber()
    const t = h.scrub('peer_id', DID)
    assert.ok(isToken(t), t)
    assert.equal(h.scrub('remotePeerId', DID), t)
    assert.equal(new Scrubber().scrub('sender', DID), t)
    assert.notEqual(t, _tokenWithKey(KEY, DID))
    assert.equal(new Scrubber({ mode: 'drop' }).scrub('peer_id', DID), null)
    assert.equal(h.scrub('api_key', 'sk-1'), null)
    assert.equal(h.scrub('password', 5), null)
    assert.equal(h.scrub('payload_size', 1234), '<=4KiB')
    assert.equal(h.scrub('payload_size', 1234n), '<=4KiB')
    assert.equal(h.scrub('contentLength', '70000'), '<=256KiB')
    assert.equal(h.scrub('size', 'large'), null)
    assert.equal(h.scrub('prekey_id', 7), h.scrub('prekey_id', '7'))
    assert.equal(h.scrub('flag', true), 'true')
    assert.equal(h.scrub('count', -3), '-3')
    assert.equal(h.scrub('count', 0.5), '0.5')
    assert.equal(h.scrub('user_id', -5n), h.scrub('user_id', '-5'))
    assert.equal(h.scrub('user_id', 2n ** 70n), h.scrub('user_id', (2n ** 70n).toString()))
    assert.equal(h.scrub('user_id', 2n ** 64n - 1n), h.scrub('user_id', '18446744073709551615'))
    assert.throws(() => h.scrub('count', {}))
    assert.equal(new Scrubber({ redactValues: false }).scrub('message', `to ${DID}`), `to ${DID}`)
  })

  test('options and configuration errors carry the sealwire code', () => {
    assert.throws(() => new Scrubber({ mode: 'sha1' }), { code: 'ERR_SEALWIRE_INVALID_PARAMETER' })
    for (const sampleRate of [1.5, -0.1, NaN]) {
      assert.throws(() => new Scrubber({ sampleRate }), { code: 'ERR_SEALWIRE_INVALID_PARAMETER' })
    }
    assert.throws(() => Scrubber.fromConfig('version = 1\n[metadata]\nmode = "rot13"\n'), (e) => {
      assert.equal(e.code, 'ERR_SEALWIRE_INVALID_PARAMETER')
      assert.ok(e.findings.some((f) => f.path === 'metadata.mode'), JSON.stringify(e.findings))
      return true
    })
    assert.throws(() => Scrubber.fromConfig('version = 1\n[metadata]\nscrub = false\n'), { code: 'ERR_SEALWIRE_INVALID_PARAMETER' })
  })

  test('fromConfig: text, SecurityConfig, JSON, and scrubbing off', () => {
    const toml = 'version = 1\n[metadata]\nmode = "drop"\nextra_fields = ["tenant"]\n[metadata.sampling]\nrate = 0.5\nevents = ["app.hot"]\n'
    const json = JSON.stringify({ version: 1, metadata: { mode: 'drop', extra_fields: ['tenant'], sampling: { rate: 0.5, events: ['app.hot'] } } })
    for (const s of [Scrubber.fromConfig(toml), Scrubber.fromConfig(SecurityConfig.load(toml)), Scrubber.fromConfig(json, 'json')]) {
      assert.ok(s instanceof Scrubber)
      assert.deepEqual([s.mode, s.sampleRate, s.samplePrefixes], ['drop', 0.5, ['app.hot']])
      assert.equal(s.classify('orgTenant'), 'identifying')
      assert.equal(s.scrub('tenant', 'acme'), null)
    }
    const d = Scrubber.fromConfig('version = 1\n')
    assert.deepEqual([d.mode, d.sampleRate, d.classify('tenant')], ['hash', 1, 'other'])
    assert.equal(Scrubber.fromConfig('version = 1\n[metadata]\nscrub = false\n[overrides]\nallow_no_scrubbing = true\n'), null)
  })

  test('scrubAttributes keeps types and walks nested values', () => {
    const s = new Scrubber({ extraFields: ['tenant'] })
    const err = new Error(`failed for ${DID}`)
    const date = new Date(0)
    const out = scrubAttributes(s, {
      peer_id: DID,
      tenant: 'acme',
      api_key: 'sk-1',
      payload_size: 1234,
      count: 3,
      ratio: 0.5,
      ok: true,
      big: 12n,
      note: null,
      recipient: [DID, 'bob'],
      chunk_len: [10, 100],
      tags: ['a', `x ${DID}`],
      ctx: { sender_id: 'bob', depth: 2 },
      err,
      date,
      peer: { id: 'x' },
    })
    const tok = s.scrub('peer_id', DID)
    assert.equal(out.peer_id, tok)
    assert.ok(isToken(out.tenant))
    assert.ok(!('api_key' in out))
    assert.equal(out.payload_size, '<=4KiB')
    assert.deepEqual([out.count, out.ratio, out.ok, out.big, out.note], [3, 0.5, true, 12n, null])
    assert.deepEqual(out.recipient, [tok, s.scrub('recipient', 'bob')])
    assert.deepEqual(out.chunk_len, ['<=64', '<=256'])
    assert.deepEqual(out.tags, ['a', `x ${tok}`])
    assert.deepEqual(out.ctx, { sender_id: s.scrub('sender_id', 'bob'), depth: 2 })
    assert.equal(out.err, `Error: failed for ${tok}`)
    assert.equal(out.date, date)
    assert.equal(out.peer, s.scrub('peer', JSON.stringify({ id: 'x' })))
    const d = scrubAttributes(new Scrubber({ mode: 'drop' }), { sender: ['bob', DID], peer: null, n: 1 })
    assert.deepEqual(d, { n: 1 })
    assert.throws(() => scrubAttributes({}, {}), TypeError)
  })
})

function pipeline(scrubber) {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    spanProcessors: [new ScrubSpanProcessor(scrubber, new SimpleSpanProcessor(exporter))],
  })
  return { provider, exporter }
}

describe('ScrubSpanProcessor with @opentelemetry/sdk-trace-base', () => {
  for (const mode of ['hash', 'drop']) {
    test(`spans are exported scrubbed (${mode})`, async () => {
      const s = new Scrubber({ mode, extraFields: ['tenant'] })
      const { provider, exporter } = pipeline(s)
      const tracer = provider.getTracer('app.messaging')
      const span = tracer.startSpan(`deliver to ${DID}`, { attributes: { peer_id: DID } })
      span.setAttributes({
        routing_hint: 'rh-7f3a9',
        message_type: 'invoice',
        tenant: 'acme-corp',
        payload_size: 123456,
        api_key: 'sk-live-1',
        'http.method': 'GET',
        retry_count: 3,
        cached: true,
        note: `key ${PUBKEY_HEX}`,
      })
      span.addEvent('sent', { 'sealwire.peer_id': DID, bytes: 70000, attempt: 2 })
      span.setStatus({ code: SpanStatusCode.ERROR, message: `peer ${DID} unreachable` })
      span.end()
      await provider.forceFlush()
      const spans = exporter.getFinishedSpans()
      assert.equal(spans.length, 1)
      const got = spans[0]
      const text = JSON.stringify({ name: got.name, attributes: got.attributes, events: got.events, status: got.status })
      for (const secret of [DID, 'z6Mk', 'rh-7f3a9', 'invoice', 'acme-corp', '123456', 'sk-live-1', PUBKEY_HEX, '70000']) {
        assert.ok(!text.includes(secret), `${secret} in ${text}`)
      }
      const a = got.attributes
      assert.deepEqual([a['http.method'], a.retry_count, a.cached], ['GET', 3, true])
      assert.equal(a.payload_size, '<=256KiB')
      assert.ok(!('api_key' in a))
      assert.equal(got.events.length, 1)
      const ea = got.events[0].attributes
      assert.deepEqual([ea.bytes, ea.attempt], ['<=256KiB', 2])
      if (mode === 'hash') {
        const tok = s.scrub('peer_id', DID)
        assert.equal(a.peer_id, tok)
        assert.equal(ea['sealwire.peer_id'], tok)
        assert.equal(a.routing_hint, s.scrub('routing_hint', 'rh-7f3a9'))
        assert.ok(isToken(a.message_type) && isToken(a.tenant))
        assert.equal(got.name, `deliver to ${tok}`)
        assert.equal(got.status.message, `peer ${tok} unreachable`)
        assert.ok(isToken(s.redactText(PUBKEY_HEX)))
        assert.equal(a.note, `key ${s.redactText(PUBKEY_HEX)}`)
      } else {
        for (const k of ['peer_id', 'routing_hint', 'message_type', 'tenant']) assert.ok(!(k in a), k)
        assert.ok(!('sealwire.peer_id' in ea))
        assert.equal(got.name, 'deliver to [redacted]')
        assert.equal(a.note, 'key [redacted]')
      }
      // The trace context and scope survive the copy; the live span kept its own values.
      assert.deepEqual(got.spanContext(), span.spanContext())
      assert.equal(got.instrumentationScope.name, 'app.messaging')
      assert.equal(span.attributes.peer_id, DID)
      await provider.shutdown()
    })
  }

  test('sampling keeps the configured fraction of high-frequency spans and all others', async () => {
    const n = 20000
    const rate = 0.25
    const { provider, exporter } = pipeline(new Scrubber({ sampleRate: rate, samplePrefixes: ['app.hot'] }))
    const tracer = provider.getTracer('app')
    for (let i = 0; i < n; i++) tracer.startSpan('app.hot.tick').end()
    for (let i = 0; i < 500; i++) tracer.startSpan('app.cold').end()
    await provider.forceFlush()
    const names = exporter.getFinishedSpans().map((sp) => sp.name)
    const hot = names.filter((x) => x === 'app.hot.tick').length
    // Binomial(20000, 0.25): mean 5000, sd ~61; +-400 is 6.5 sd.
    assert.ok(Math.abs(hot - n * rate) <= 400, String(hot))
    assert.equal(names.filter((x) => x === 'app.cold').length, 500)
    await provider.shutdown()
  })

  test('rate 1 keeps all; rate 0 drops by name, scope and event name', async () => {
    {
      const { provider, exporter } = pipeline(new Scrubber({ sampleRate: 1, samplePrefixes: ['app.hot'] }))
      const tracer = provider.getTracer('app')
      for (let i = 0; i < 2000; i++) tracer.startSpan('app.hot.tick').end()
      await provider.forceFlush()
      assert.equal(exporter.getFinishedSpans().length, 2000)
    }
    const { provider, exporter } = pipeline(new Scrubber({ sampleRate: 0, samplePrefixes: ['app.hot'] }))
    for (let i = 0; i < 50; i++) provider.getTracer('app.hot.module').startSpan('work').end()
    const span = provider.getTracer('app').startSpan('request')
    for (let i = 0; i < 20; i++) span.addEvent('app.hot.retry')
    span.addEvent('done')
    span.end()
    await provider.forceFlush()
    const spans = exporter.getFinishedSpans()
    assert.deepEqual(spans.map((sp) => sp.name), ['request'])
    assert.deepEqual(spans[0].events.map((e) => e.name), ['done'])
  })

  test('forwards forceFlush and shutdown; refuses a bad next processor', async () => {
    const calls = []
    const next = {
      onStart: () => calls.push('start'),
      onEnd: () => calls.push('end'),
      forceFlush: async () => calls.push('flush'),
      shutdown: async () => calls.push('shutdown'),
    }
    const p = new ScrubSpanProcessor(new Scrubber(), next)
    await p.forceFlush()
    await p.shutdown()
    assert.deepEqual(calls, ['flush', 'shutdown'])
    assert.throws(() => new ScrubSpanProcessor(new Scrubber(), {}), TypeError)
    assert.throws(() => new ScrubSpanProcessor({}, next), TypeError)
  })
})

describe('scrubLogRecord', () => {
  test('a record with a peer id and a hex public key in its message', () => {
    for (const mode of ['hash', 'drop']) {
      const s = new Scrubber({ mode, extraFields: ['tenant'] })
      const LEVEL = Symbol.for('level')
      const record = {
        level: 30,
        name: 'app',
        msg: `handshake with ${DID}, static key ${PUBKEY_HEX}`,
        peer_id: 'alice',
        size: 1234,
        tenant: 'acme-corp',
        requestId: 42,
        err: { message: `no session with ${DID}` },
        [LEVEL]: 'info',
      }
      const out = scrubLogRecord(s, record)
      const line = JSON.stringify(out)
      for (const secret of [DID, 'z6Mk', PUBKEY_HEX, 'alice', 'acme-corp', '1234']) {
        assert.ok(!line.includes(secret), `${secret} in ${line}`)
      }
      assert.equal(out[LEVEL], 'info')
      assert.deepEqual([out.level, out.name, out.requestId, out.size], [30, 'app', 42, '<=4KiB'])
      assert.equal(record.peer_id, 'alice') // the input is not modified
      if (mode === 'hash') {
        assert.equal(out.msg, `handshake with ${s.redactText(DID)}, static key ${s.redactText(PUBKEY_HEX)}`)
        assert.equal(out.peer_id, s.scrub('peer_id', 'alice'))
        assert.equal(out.err.message, `no session with ${s.redactText(DID)}`)
      } else {
        assert.equal(out.msg, 'handshake with [redacted], static key [redacted]')
        assert.ok(!('peer_id' in out) && !('tenant' in out))
      }
    }
  })

  test('sampling by event or logger name', () => {
    const s = new Scrubber({ sampleRate: 0.25, samplePrefixes: ['app.hot'] })
    const n = 20000
    let kept = 0
    for (let i = 0; i < n; i++) if (scrubLogRecord(s, { name: 'app.hot', msg: 'tick' }) !== null) kept++
    assert.ok(Math.abs(kept - n * 0.25) <= 400, String(kept))
    for (let i = 0; i < 500; i++) assert.notEqual(scrubLogRecord(s, { name: 'app.cold', msg: 'x' }), null)
    const none = new Scrubber({ sampleRate: 0, samplePrefixes: ['app.hot'] })
    assert.equal(scrubLogRecord(none, { event: 'app.hot.tick', name: 'app' }), null)
    assert.notEqual(scrubLogRecord(none, { event: 'app.cold', name: 'app.hot' }), null)
    assert.ok(!none.keepEvent('x', 'app.hot.y') && none.keepEvent('x', 'app.cold'))
  })

  test('the package subpath and the main entry export the same Scrubber', () => {
    const require = createRequire(import.meta.url)
    assert.equal(require('sealwire').Scrubber, Scrubber)
    assert.equal(require('sealwire/hygiene').scrubLogRecord, scrubLogRecord)
  })
})
