// Hand-written (not generated): types of the package entry point sealwire.js = everything in
// the generated index.d.ts plus the stream and file helpers of stream.js.
import type { Transform } from 'node:stream'
import type { OpenOptions, SealOptions } from './index'

export * from './index'

/**
 * A `stream.Transform`: plaintext in, one sealed envelope out (the same format `seal`
 * produces, with a fresh data key). The data key is wrapped for `options.to` when the stream
 * is created: bad options throw synchronously, with a sealwire `code`. Each chunk is sealed
 * on the libuv thread pool; memory stays bounded by one segment.
 */
export declare function createSealStream(options: SealOptions): Transform

/**
 * A `stream.Transform`: one sealed envelope in, verified plaintext out. The header is
 * authenticated as soon as it has arrived; only segments whose tag verified are pushed. The
 * stream fails (`'error'` event, error `code`) with `ERR_SEALWIRE_TRUNCATED` if the input ends
 * before the final segment, `ERR_SEALWIRE_DECRYPTION_FAILED` if it was modified, and the
 * header codes of `unseal`. Plaintext already pushed before a failure was authentic, but
 * the whole is not: discard it.
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
