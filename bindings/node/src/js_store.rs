//! A core `SessionStore` implemented by a JavaScript object (`Messenger.createWithStore` /
//! `Messenger.openWithStore`).
//!
//! The object has one method per trait method, in camelCase (`counter`, `loadIdentity`,
//! `loadPrekeys`, `loadSession`, `peers`, `seen`, `pendingOutbox`, `pendingInbox`,
//! `commitIdentity`, `commitPrekeys`, `commitSession`, `commitSend`, `commitReceive`,
//! `markSent`, `ack`; the TypeScript interface `SessionStore` in `sealwire.d.ts`, the
//! reference implementation `MemorySessionStore` in `sealwire.js`). Each is called
//! synchronously, on the JavaScript thread, with `this` = the store object: byte strings are
//! passed as fresh `Buffer` copies, counters and record ids as `bigint`, records as plain
//! objects. Results are checked strictly (a wrong type is a storage failure, a returned
//! Promise too).
//!
//! Failures. A callback that throws becomes the core's `Error::Storage` — or
//! `Error::StoreConflict` if it threw an error whose `code` is `ERR_SEALWIRE_STORE_CONFLICT`
//! (how a store reports a counter mismatch). The binding records which method failed, the
//! thrown message and the thrown value in a [`FailureSlot`] shared with the `Messenger`
//! object, which adds them to the JS error it raises (message and `cause`).
//!
//! Threads. The object is held by a strong `napi_ref` created on the JavaScript thread. Every
//! use checks that it runs on that thread and otherwise fails with `Error::Storage` without
//! touching napi (the `Messenger` never sends a JavaScript-backed store to the thread pool,
//! so this is a safety net). The reference is released on that thread when the store is
//! dropped (close or garbage collection), and leaked rather than released anywhere else.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;

use napi::bindgen_prelude::{
    BigInt, BufferSlice, JsObjectValue, JsValue, Object, ToNapiValue, Unknown,
};
use napi::{sys, Env, ValueType};
use sealwire::store::{InboxRecord, MessageId, OutboxRecord, PeerId, ReceiveCommit, SessionStore};
use sealwire::{Error as CoreError, ErrorKind};

use crate::callback::{call_function, take_exception, thrown_code, thrown_message, Thrown};
use crate::error::{callback_error, to_js_error, ErrorCode};

type CoreResult<T> = std::result::Result<T, CoreError>;

/// The methods a JavaScript session store must have (checked when the messenger is made).
pub(crate) const METHODS: [&str; 15] = [
    "counter",
    "loadIdentity",
    "loadPrekeys",
    "loadSession",
    "peers",
    "seen",
    "pendingOutbox",
    "pendingInbox",
    "commitIdentity",
    "commitPrekeys",
    "commitSession",
    "commitSend",
    "commitReceive",
    "markSent",
    "ack",
];

/// The core error of a store callback that failed (its message is static; the details are
/// in the [`Failure`]).
const FAILED: CoreError = CoreError::Storage("a JavaScript SessionStore method failed");

/// What went wrong in a store callback: the core error it became, a description (method and
/// thrown message) and the thrown value.
pub(crate) struct Failure {
    pub(crate) kind: ErrorKind,
    pub(crate) detail: String,
    pub(crate) cause: Option<napi::Error>,
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failure")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The last store-callback failure of one messenger, shared between its store and its JS
/// object. Only touched on the JavaScript thread.
#[derive(Debug, Clone, Default)]
pub(crate) struct FailureSlot(Arc<Mutex<Option<Failure>>>);

impl FailureSlot {
    fn set(&self, failure: Failure) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(failure);
    }

    /// Take the recorded failure, if any (leaving none).
    pub(crate) fn take(&self) -> Option<Failure> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// A `SessionStore` that forwards every call to a JavaScript object.
pub(crate) struct JsSessionStore {
    env: sys::napi_env,
    object: sys::napi_ref,
    thread: ThreadId,
    failure: FailureSlot,
}

// SAFETY: the raw `napi_env` / `napi_ref` are only used through napi on the thread that
// created them (`thread`): every method and `Drop` check it first. Moving the struct to
// another thread only copies the pointers.
unsafe impl Send for JsSessionStore {}

impl std::fmt::Debug for JsSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsSessionStore(..)")
    }
}

impl Drop for JsSessionStore {
    fn drop(&mut self) {
        if std::thread::current().id() == self.thread {
            // SAFETY: the reference was created in `env`, on this thread, and is deleted
            // once. (Deleting a reference is allowed in finalizers, where this may run.)
            unsafe {
                sys::napi_delete_reference(self.env, self.object);
            }
        }
        // Elsewhere: leak the reference rather than touch V8 from a foreign thread.
    }
}

/// Is `value` a function?
fn is_function(value: &Unknown<'_>) -> bool {
    matches!(value.get_type(), Ok(ValueType::Function))
}

impl JsSessionStore {
    /// Wrap `object`: every method in [`METHODS`] must be a function (own or inherited).
    pub(crate) fn new(env: &Env, object: &Object<'_>, failure: FailureSlot) -> CoreResult<Self> {
        for name in METHODS {
            let method: Unknown<'_> = object.get_named_property(name).map_err(|_| {
                take_exception(*env); // a getter or Proxy trap threw
                CoreError::InvalidParameter("the session store could not be read")
            })?;
            if !is_function(&method) {
                return Err(CoreError::InvalidParameter(
                    "a session store must implement every SessionStore method (counter, \
                     loadIdentity, loadPrekeys, loadSession, peers, seen, pendingOutbox, \
                     pendingInbox, commitIdentity, commitPrekeys, commitSession, commitSend, \
                     commitReceive, markSent, ack)",
                ));
            }
        }
        let mut raw = std::ptr::null_mut();
        // SAFETY: `object` is a live handle of `env`; `raw` is a valid out-pointer.
        let status = unsafe { sys::napi_create_reference(env.raw(), object.raw(), 1, &mut raw) };
        if status != sys::Status::napi_ok || raw.is_null() {
            return Err(CoreError::InvalidParameter(
                "the session store could not be referenced",
            ));
        }
        Ok(Self {
            env: env.raw(),
            object: raw,
            thread: std::thread::current().id(),
            failure,
        })
    }

    /// Record a failure and return the core error it maps to.
    fn fail(&self, err: CoreError, detail: String, cause: Option<napi::Error>) -> CoreError {
        self.failure.set(Failure {
            kind: err.kind(),
            detail,
            cause,
        });
        err
    }

    /// Call `method(...args)` on the store object and convert its result, inside a handle
    /// scope of its own (so that a long operation does not pile up handles).
    fn call<R>(
        &self,
        method: &'static str,
        args: impl FnOnce(&Env) -> napi::Result<Vec<sys::napi_value>>,
        convert: impl FnOnce(&Env, &Unknown<'_>) -> std::result::Result<R, &'static str>,
    ) -> CoreResult<R> {
        if std::thread::current().id() != self.thread {
            return Err(CoreError::Storage(
                "a session store written in JavaScript can only be used on its JavaScript thread",
            ));
        }
        let env = Env::from_raw(self.env);
        let mut scope = std::ptr::null_mut();
        // SAFETY: on the environment's own thread; `scope` is a valid out-pointer.
        if unsafe { sys::napi_open_handle_scope(self.env, &mut scope) } != sys::Status::napi_ok {
            return Err(self.fail(FAILED, format!("{method}: napi failed"), None));
        }
        let mut result = self.call_in_scope(&env, method, args, convert);
        // Reading a property of the store or of a returned record can run JavaScript (getters,
        // Proxy traps): an exception it left pending must not escape as the binding's error.
        if let Some(thrown) = take_exception(env) {
            let detail = format!(
                "{method}: reading its result threw: {}",
                thrown_message(&thrown)
            );
            let cause = Some(napi::Error::from_unknown_without_coercion(thrown));
            let err = match result {
                Err(e) => e,
                Ok(_) => FAILED,
            };
            result = Err(self.fail(err, detail, cause));
        }
        // SAFETY: closes the scope opened above; nothing created in it is used afterwards
        // (results were converted to Rust values, the thrown value is held by a reference).
        unsafe {
            sys::napi_close_handle_scope(self.env, scope);
        }
        result
    }

    fn call_in_scope<R>(
        &self,
        env: &Env,
        method: &'static str,
        args: impl FnOnce(&Env) -> napi::Result<Vec<sys::napi_value>>,
        convert: impl FnOnce(&Env, &Unknown<'_>) -> std::result::Result<R, &'static str>,
    ) -> CoreResult<R> {
        let napi_failed = |_| self.fail(FAILED, format!("{method}: napi failed"), None);
        let mut object = std::ptr::null_mut();
        // SAFETY: the reference belongs to this environment and is alive until `drop`.
        let status = unsafe { sys::napi_get_reference_value(self.env, self.object, &mut object) };
        if status != sys::Status::napi_ok || object.is_null() {
            return Err(self.fail(FAILED, format!("{method}: the store object is gone"), None));
        }
        let object = Object::from_raw(self.env, object);
        let f: Unknown<'_> = object.get_named_property(method).map_err(napi_failed)?;
        if !is_function(&f) {
            return Err(self.fail(FAILED, format!("{method} is not a function"), None));
        }
        let argv = args(env).map_err(napi_failed)?;
        match call_function(*env, f.raw(), object.raw(), &argv) {
            Ok(value) => {
                if value.is_promise().unwrap_or(false) {
                    return Err(self.fail(
                        FAILED,
                        format!(
                            "{method} returned a Promise: SessionStore methods must be synchronous"
                        ),
                        None,
                    ));
                }
                convert(env, &value)
                    .map_err(|what| self.fail(FAILED, format!("{method} returned {what}"), None))
            }
            Err(Thrown::Value(thrown)) => {
                let err = match thrown_code(&thrown).as_deref() {
                    Some("ERR_SEALWIRE_STORE_CONFLICT") => CoreError::StoreConflict,
                    _ => FAILED,
                };
                let detail = format!("{method} threw: {}", thrown_message(&thrown));
                Err(self.fail(
                    err,
                    detail,
                    Some(napi::Error::from_unknown_without_coercion(thrown)),
                ))
            }
            Err(Thrown::Status) => Err(self.fail(FAILED, format!("calling {method} failed"), None)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions (inside `call`, on the JavaScript thread)
// ---------------------------------------------------------------------------------------------

fn big(env: &Env, v: u64) -> napi::Result<sys::napi_value> {
    // SAFETY: `env` is the current environment.
    unsafe { BigInt::to_napi_value(env.raw(), BigInt::from(v)) }
}

fn buffer(env: &Env, bytes: &[u8]) -> napi::Result<sys::napi_value> {
    Ok(BufferSlice::copy_from(env, bytes)?.raw())
}

fn null(env: &Env) -> napi::Result<sys::napi_value> {
    let mut v = std::ptr::null_mut();
    // SAFETY: `env` is the current environment; `v` is a valid out-pointer.
    napi::check_status!(unsafe { sys::napi_get_null(env.raw(), &mut v) })?;
    Ok(v)
}

/// `{ id, peer, messageId, <payload_name>: payload }`.
fn record(
    env: &Env,
    id: u64,
    peer: &PeerId,
    message_id: &MessageId,
    payload_name: &str,
    payload: &[u8],
) -> napi::Result<sys::napi_value> {
    let mut o = Object::new(env)?;
    o.set_named_property("id", BigInt::from(id))?;
    o.set_named_property("peer", BufferSlice::copy_from(env, peer)?)?;
    o.set_named_property("messageId", BufferSlice::copy_from(env, message_id)?)?;
    o.set_named_property(payload_name, BufferSlice::copy_from(env, payload)?)?;
    Ok(o.raw())
}

const NOT_BYTES: &str = "something that is not a Uint8Array";
const NOT_COUNTER: &str = "something that is not a non-negative integer (number or bigint)";

/// The bytes of a `Uint8Array` (or `Buffer`), copied.
fn bytes(env: &Env, value: &Unknown<'_>) -> std::result::Result<Vec<u8>, &'static str> {
    if !value.is_typedarray().unwrap_or(false) {
        return Err(NOT_BYTES);
    }
    let mut kind = 0;
    let mut len = 0usize;
    let mut data = std::ptr::null_mut();
    let mut array_buffer = std::ptr::null_mut();
    let mut offset = 0usize;
    // SAFETY: `value` is a live typed array of `env`; every out-pointer is valid.
    let status = unsafe {
        sys::napi_get_typedarray_info(
            env.raw(),
            value.raw(),
            &mut kind,
            &mut len,
            &mut data,
            &mut array_buffer,
            &mut offset,
        )
    };
    if status != sys::Status::napi_ok || kind != sys::TypedarrayType::uint8_array {
        return Err(NOT_BYTES);
    }
    if len == 0 || data.is_null() {
        return Ok(Vec::new());
    }
    // SAFETY: napi reports `len` bytes at `data` for a uint8 array; they are copied at once,
    // before any JavaScript runs.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec())
}

fn is_nullish(value: &Unknown<'_>) -> bool {
    matches!(value.get_type(), Ok(ValueType::Null | ValueType::Undefined))
}

fn opt_bytes(env: &Env, value: &Unknown<'_>) -> std::result::Result<Option<Vec<u8>>, &'static str> {
    if is_nullish(value) {
        Ok(None)
    } else {
        bytes(env, value)
            .map(Some)
            .map_err(|_| "something that is not a Uint8Array or null")
    }
}

fn array32(env: &Env, value: &Unknown<'_>) -> std::result::Result<[u8; 32], &'static str> {
    bytes(env, value)?
        .try_into()
        .map_err(|_| "an id that is not 32 bytes long")
}

/// A non-negative integer: a safe-integer `number` or a `bigint` that fits in u64.
fn counter(env: &Env, value: &Unknown<'_>) -> std::result::Result<u64, &'static str> {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    match value.get_type() {
        Ok(ValueType::Number) => {
            let mut n = 0f64;
            // SAFETY: `value` is a live number of `env`.
            let status = unsafe { sys::napi_get_value_double(env.raw(), value.raw(), &mut n) };
            if status == sys::Status::napi_ok
                && n.fract() == 0.0
                && (0.0..=MAX_SAFE_INTEGER).contains(&n)
            {
                Ok(n as u64)
            } else {
                Err(NOT_COUNTER)
            }
        }
        Ok(ValueType::BigInt) => {
            let mut n = 0u64;
            let mut lossless = false;
            // SAFETY: `value` is a live bigint of `env`.
            let status = unsafe {
                sys::napi_get_value_bigint_uint64(env.raw(), value.raw(), &mut n, &mut lossless)
            };
            if status == sys::Status::napi_ok && lossless {
                Ok(n)
            } else {
                Err(NOT_COUNTER)
            }
        }
        _ => Err(NOT_COUNTER),
    }
}

fn boolean(env: &Env, value: &Unknown<'_>) -> std::result::Result<bool, &'static str> {
    if !matches!(value.get_type(), Ok(ValueType::Boolean)) {
        return Err("something that is not a boolean");
    }
    let mut b = false;
    // SAFETY: `value` is a live boolean of `env`.
    if unsafe { sys::napi_get_value_bool(env.raw(), value.raw(), &mut b) } != sys::Status::napi_ok {
        return Err("something that is not a boolean");
    }
    Ok(b)
}

/// The elements of a JS array.
fn elements<'a>(
    env: &Env,
    value: &Unknown<'a>,
) -> std::result::Result<Vec<Unknown<'a>>, &'static str> {
    const NOT_ARRAY: &str = "something that is not an array";
    let mut is_array = false;
    // SAFETY: `value` is a live handle of `env`.
    if unsafe { sys::napi_is_array(env.raw(), value.raw(), &mut is_array) } != sys::Status::napi_ok
        || !is_array
    {
        return Err(NOT_ARRAY);
    }
    let mut len = 0u32;
    // SAFETY: `value` is a live array of `env`.
    if unsafe { sys::napi_get_array_length(env.raw(), value.raw(), &mut len) }
        != sys::Status::napi_ok
    {
        return Err(NOT_ARRAY);
    }
    (0..len)
        .map(|i| {
            let mut e = std::ptr::null_mut();
            // SAFETY: `value` is a live array of `env`; `i` is below its length.
            if unsafe { sys::napi_get_element(env.raw(), value.raw(), i, &mut e) }
                != sys::Status::napi_ok
            {
                return Err(NOT_ARRAY);
            }
            // SAFETY: napi returned a value handle of this environment.
            Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), e) })
        })
        .collect()
}

/// `value[name]` of a record object.
fn field<'a>(value: &Unknown<'a>, name: &str) -> std::result::Result<Unknown<'a>, &'static str> {
    const NOT_RECORD: &str = "a record that is not an object { id, peer, messageId, ... }";
    if !matches!(value.get_type(), Ok(ValueType::Object)) {
        return Err(NOT_RECORD);
    }
    let o = Object::from_raw(value.value().env, value.raw());
    o.get_named_property(name).map_err(|_| NOT_RECORD)
}

/// `(id, peer, messageId, <payload_name>)` of a record object.
fn record_fields(
    env: &Env,
    value: &Unknown<'_>,
    payload_name: &str,
) -> std::result::Result<(u64, PeerId, MessageId, Vec<u8>), &'static str> {
    let id = counter(env, &field(value, "id")?)
        .map_err(|_| "a record whose id is not a non-negative integer")?;
    let peer =
        array32(env, &field(value, "peer")?).map_err(|_| "a record whose peer is not 32 bytes")?;
    let message_id = array32(env, &field(value, "messageId")?)
        .map_err(|_| "a record whose messageId is not 32 bytes")?;
    let payload = bytes(env, &field(value, payload_name)?)
        .map_err(|_| "a record whose payload (ciphertext / sealed) is not a Uint8Array")?;
    Ok((id, peer, message_id, payload))
}

fn no_args(_: &Env) -> napi::Result<Vec<sys::napi_value>> {
    Ok(Vec::new())
}

fn ignore(_: &Env, _: &Unknown<'_>) -> std::result::Result<(), &'static str> {
    Ok(())
}

impl SessionStore for JsSessionStore {
    fn counter(&self) -> CoreResult<u64> {
        self.call("counter", no_args, counter)
    }

    fn load_identity(&self) -> CoreResult<Option<Vec<u8>>> {
        self.call("loadIdentity", no_args, opt_bytes)
    }

    fn load_prekeys(&self) -> CoreResult<Option<Vec<u8>>> {
        self.call("loadPrekeys", no_args, opt_bytes)
    }

    fn load_session(&self, peer: &PeerId) -> CoreResult<Option<Vec<u8>>> {
        self.call("loadSession", |env| Ok(vec![buffer(env, peer)?]), opt_bytes)
    }

    fn peers(&self) -> CoreResult<Vec<PeerId>> {
        self.call("peers", no_args, |env, v| {
            elements(env, v)?.iter().map(|e| array32(env, e)).collect()
        })
    }

    fn seen(&self, message_id: &MessageId) -> CoreResult<bool> {
        self.call("seen", |env| Ok(vec![buffer(env, message_id)?]), boolean)
    }

    fn pending_outbox(&self) -> CoreResult<Vec<OutboxRecord>> {
        self.call("pendingOutbox", no_args, |env, v| {
            elements(env, v)?
                .iter()
                .map(|e| {
                    let (id, peer, message_id, ciphertext) = record_fields(env, e, "ciphertext")?;
                    Ok(OutboxRecord {
                        id,
                        peer,
                        message_id,
                        ciphertext,
                    })
                })
                .collect()
        })
    }

    fn pending_inbox(&self) -> CoreResult<Vec<InboxRecord>> {
        self.call("pendingInbox", no_args, |env, v| {
            elements(env, v)?
                .iter()
                .map(|e| {
                    let (id, peer, message_id, sealed) = record_fields(env, e, "sealed")?;
                    Ok(InboxRecord {
                        id,
                        peer,
                        message_id,
                        sealed,
                    })
                })
                .collect()
        })
    }

    fn commit_identity(&mut self, counter: u64, identity: &[u8], prekeys: &[u8]) -> CoreResult<()> {
        self.call(
            "commitIdentity",
            |env| {
                Ok(vec![
                    big(env, counter)?,
                    buffer(env, identity)?,
                    buffer(env, prekeys)?,
                ])
            },
            ignore,
        )
    }

    fn commit_prekeys(&mut self, counter: u64, prekeys: &[u8]) -> CoreResult<()> {
        self.call(
            "commitPrekeys",
            |env| Ok(vec![big(env, counter)?, buffer(env, prekeys)?]),
            ignore,
        )
    }

    fn commit_session(&mut self, counter: u64, peer: &PeerId, session: &[u8]) -> CoreResult<()> {
        self.call(
            "commitSession",
            |env| {
                Ok(vec![
                    big(env, counter)?,
                    buffer(env, peer)?,
                    buffer(env, session)?,
                ])
            },
            ignore,
        )
    }

    fn commit_send(
        &mut self,
        counter: u64,
        peer: &PeerId,
        session: &[u8],
        outbox: &OutboxRecord,
    ) -> CoreResult<()> {
        self.call(
            "commitSend",
            |env| {
                Ok(vec![
                    big(env, counter)?,
                    buffer(env, peer)?,
                    buffer(env, session)?,
                    record(
                        env,
                        outbox.id,
                        &outbox.peer,
                        &outbox.message_id,
                        "ciphertext",
                        &outbox.ciphertext,
                    )?,
                ])
            },
            ignore,
        )
    }

    fn commit_receive(&mut self, c: &ReceiveCommit<'_>) -> CoreResult<()> {
        self.call(
            "commitReceive",
            |env| {
                let mut o = Object::new(env)?;
                o.set_named_property("counter", BigInt::from(c.counter))?;
                o.set_named_property("peer", BufferSlice::copy_from(env, c.peer)?)?;
                o.set_named_property("session", BufferSlice::copy_from(env, c.session)?)?;
                let prekeys = match c.prekeys {
                    Some(p) => buffer(env, p)?,
                    None => null(env)?,
                };
                // SAFETY: `prekeys` is a live handle of `env`.
                let prekeys = unsafe { Unknown::from_raw_unchecked(env.raw(), prekeys) };
                o.set_named_property("prekeys", prekeys)?;
                o.set_named_property("messageId", BufferSlice::copy_from(env, c.message_id)?)?;
                let inbox = record(
                    env,
                    c.inbox.id,
                    &c.inbox.peer,
                    &c.inbox.message_id,
                    "sealed",
                    &c.inbox.sealed,
                )?;
                // SAFETY: `inbox` is a live handle of `env`.
                let inbox = unsafe { Unknown::from_raw_unchecked(env.raw(), inbox) };
                o.set_named_property("inbox", inbox)?;
                Ok(vec![o.raw()])
            },
            ignore,
        )
    }

    fn mark_sent(&mut self, outbox_id: u64) -> CoreResult<()> {
        self.call("markSent", |env| Ok(vec![big(env, outbox_id)?]), ignore)
    }

    fn ack(&mut self, inbox_id: u64) -> CoreResult<()> {
        self.call("ack", |env| Ok(vec![big(env, inbox_id)?]), ignore)
    }
}

/// The JS error for a core error of a messenger over a JavaScript store: with the failure of
/// the store callback that caused it (same kind), if any, else the plain mapping.
pub(crate) fn with_failure(err: CoreError, failure: Option<Failure>) -> napi::Error<ErrorCode> {
    match failure {
        Some(f) if f.kind == err.kind() => callback_error(err, &f.detail, f.cause),
        _ => to_js_error(err),
    }
}
