'use strict'
// Hand-written (not generated): Node stream and file helpers for sealwire envelopes, built on
// the native incremental handles `EnvelopeSealer` / `EnvelopeOpener` (index.js). Types:
// sealwire.d.ts. Memory stays bounded by one segment plus one input chunk whatever the size
// of the data; the crypto of every chunk runs on the libuv thread pool (`updateAsync` /
// `finalAsync`), so the event loop stays free. With a `KmsKey` among the providers the
// handles are made with `createAsync` (the KMS calls run on the pool too).

const { Transform } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const fs = require('node:fs')
const path = require('node:path')
const { randomBytes } = require('node:crypto')

const { EnvelopeSealer, EnvelopeOpener, EnvelopeHeader, KmsKey } = require('./index.js')

/** Whether a provider list holds a `KmsKey` (whose handles must be made asynchronously). */
const usesKms = (providers) => Array.isArray(providers) && providers.some((p) => p instanceof KmsKey)

// magic (4) + version (1) + header length (4): enough to learn the header length.
const HEADER_PREFIX_LEN = 9

const nonEmpty = (buf) => (buf.length > 0 ? buf : undefined)

/**
 * A `stream.Transform`: plaintext in, one sealed envelope out (the same bytes `seal` would
 * produce for the whole input, with a fresh data key). The data key is wrapped for
 * `options.to` when the stream is created, so bad options throw here, synchronously — except
 * with a `KmsKey` in `options.to`: then the wrap starts on the thread pool at once and its
 * failure is the stream's first error.
 */
function createSealStream(options) {
  if (usesKms(options?.to)) {
    return createKmsSealStream(options)
  }
  const sealer = EnvelopeSealer.create(options)
  return new Transform({
    transform(chunk, _encoding, callback) {
      sealer.updateAsync(chunk).then((out) => callback(null, nonEmpty(out)), callback)
    },
    flush(callback) {
      sealer.finalAsync().then((out) => callback(null, nonEmpty(out)), callback)
    },
  })
}

/** `createSealStream` for KMS providers: the sealer is made on the thread pool. */
function createKmsSealStream(options) {
  const sealer = EnvelopeSealer.createAsync(options)
  // Reported by the first transform or flush; not an unhandled rejection before that.
  sealer.catch(() => {})
  return new Transform({
    transform(chunk, _encoding, callback) {
      sealer.then((s) => s.updateAsync(chunk)).then((out) => callback(null, nonEmpty(out)), callback)
    },
    flush(callback) {
      sealer.then((s) => s.finalAsync()).then((out) => callback(null, nonEmpty(out)), callback)
    },
  })
}

/**
 * A `stream.Transform`: one sealed envelope in, verified plaintext out. The header is
 * authenticated (context, unwrap, key commitment, header tag) as soon as it has arrived;
 * after that only segments whose tag verified are pushed. A stream that ends early fails with
 * `code` `ERR_SEALWIRE_TRUNCATED`, a modified one with `ERR_SEALWIRE_DECRYPTION_FAILED`
 * (plaintext pushed before the failure was authentic, but the whole is not: discard it).
 */
function createUnsealStream(options) {
  const kms = usesKms(options?.keys)
  let opener = null
  let pending = []
  let pendingLen = 0
  let headerLen = -1
  return new Transform({
    transform(chunk, _encoding, callback) {
      if (opener !== null) {
        opener.updateAsync(chunk).then((out) => callback(null, nonEmpty(out)), callback)
        return
      }
      pending.push(chunk)
      pendingLen += chunk.length
      let rest
      let opening = null
      try {
        if (headerLen < 0 && pendingLen >= HEADER_PREFIX_LEN) {
          headerLen = EnvelopeHeader.headerLength(Buffer.concat(pending, pendingLen))
        }
        if (headerLen < 0 || pendingLen < headerLen) {
          callback()
          return
        }
        const initial = Buffer.concat(pending, pendingLen)
        pending = []
        if (kms) {
          opening = EnvelopeOpener.createAsync(initial.subarray(0, headerLen), options)
        } else {
          opener = EnvelopeOpener.create(initial.subarray(0, headerLen), options)
        }
        rest = initial.subarray(headerLen)
      } catch (err) {
        callback(err)
        return
      }
      if (opening !== null) {
        // The Transform waits for this callback before the next chunk: `opener` is set then.
        opening
          .then((o) => {
            opener = o
            return rest.length === 0 ? Buffer.alloc(0) : o.updateAsync(rest)
          })
          .then((out) => callback(null, nonEmpty(out)), callback)
        return
      }
      if (rest.length === 0) {
        callback()
        return
      }
      opener.updateAsync(rest).then((out) => callback(null, nonEmpty(out)), callback)
    },
    flush(callback) {
      if (opener !== null) {
        opener.finalAsync().then((out) => callback(null, nonEmpty(out)), callback)
        return
      }
      // The input ended inside the header: let the native side name the error (always
      // ERR_SEALWIRE_TRUNCATED unless the bytes it has are already malformed).
      try {
        EnvelopeOpener.create(Buffer.concat(pending, pendingLen), options)
      } catch (err) {
        callback(err)
        return
      }
      const err = new Error('truncated input: envelope header is incomplete')
      err.code = 'ERR_SEALWIRE_TRUNCATED'
      callback(err)
    },
  })
}

/** Stream `src` through `transform` into `dst`, atomically: a temporary file in the same
 * directory (created exclusively, mode 0600, flushed to disk) is renamed over `dst` only once
 * the transform has succeeded; on failure it is removed and `dst` is untouched. */
async function streamFileAtomically(src, dst, makeTransform) {
  const target = path.resolve(dst)
  const dir = path.dirname(target)
  const tmp = path.join(dir, `.${path.basename(target)}.tmp-${randomBytes(8).toString('hex')}`)
  try {
    const transform = makeTransform()
    await pipeline(
      fs.createReadStream(src),
      transform,
      fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600, flush: true }),
    )
    await fs.promises.rename(tmp, target)
  } catch (err) {
    await fs.promises.rm(tmp, { force: true }).catch(() => {})
    throw err
  }
  // Make the rename durable (not possible on every platform; best effort).
  let handle
  try {
    handle = await fs.promises.open(dir, 'r')
    await handle.sync()
  } catch {
    // Directories cannot be opened or synced on some platforms.
  } finally {
    await handle?.close().catch(() => {})
  }
}

/** Seal the file `src` into `dst` (constant memory; `dst` replaced atomically). */
async function sealFile(src, dst, options) {
  await streamFileAtomically(src, dst, () => createSealStream(options))
}

/** Open the sealed file `src` into `dst` (constant memory). `dst` is written only if the
 * whole envelope verified: a truncated or modified file leaves no partial plaintext behind. */
async function unsealFile(src, dst, options) {
  await streamFileAtomically(src, dst, () => createUnsealStream(options))
}

module.exports = { createSealStream, createUnsealStream, sealFile, unsealFile }
