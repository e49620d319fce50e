//! The envelope layer: `seal` / `unseal` (and their `…Async` forms), the incremental
//! `EnvelopeSealer` / `EnvelopeOpener` handles the JS stream helpers are built on, `rewrap`,
//! `EnvelopeHeader`, the local `Keyring` (with `KeyringKey` and `RootKey`), X-Wing recipients
//! (`XWingPublicKey`, `XWingKeyPair`) and key providers written in JavaScript.
//!
//! Key providers. Every `to` / `keys` array element is one of the built-in classes
//! (`Keyring`, `KeyringKey`, `PublicIdentity`, `Identity`, `XWingPublicKey`,
//! `XWingKeyPair`, `KmsKey`) or a JavaScript object
//! `{ providerId, keyId, keyVersion?, wrap?, unwrap? }` (see `CustomKeyProvider`).
//! JavaScript callbacks are always called synchronously on the JavaScript thread, never from
//! the thread pool, and KMS calls (`KmsKey`, `crate::kms`) never on the JavaScript thread:
//!
//! * sync calls run everything on the calling thread, so they refuse a `KmsKey`
//!   (`ERR_SEALWIRE_INVALID_PARAMETER`, naming the asynchronous form);
//! * `sealAsync` / `unsealAsync` / `rewrapAsync` / `EnvelopeSealer.createAsync` /
//!   `EnvelopeOpener.createAsync` with only built-in providers run entirely on the libuv
//!   pool; with a JavaScript provider, the header (wrap / unwrap) is done on the calling
//!   thread before the Promise is returned and only the payload (the bulk work) runs on the
//!   pool — so a `KmsKey` cannot be combined with a JavaScript provider in one call. A
//!   callback must return its result synchronously (a returned Promise is refused with
//!   `ERR_SEALWIRE_PROVIDER_FAILED`).
//!
//! Locks. A `Keyring` is shared (`Arc<RwLock>`) between its JS object, its `KeyringKey`s and
//! in-flight async work. Each operation takes one read lock per distinct keyring; mutations
//! take the write lock. From inside a JavaScript provider callback every lock is only tried
//! (never waited for), so a callback that touches a keyring in use fails with
//! `ERR_SEALWIRE_INVALID_PARAMETER` instead of deadlocking.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use napi::bindgen_prelude::{
    AsyncTask, Buffer, BufferSlice, ClassInstance, Either, Either8, FnArgs, FromNapiValue,
    Function, JavaScriptClassExt, JsObjectValue, JsValue, Object, ToNapiValue, Uint8Array, Unknown,
};
use napi::{Env, Task, ValueType};
use napi_derive::napi;
use sealwire::envelope::kms::RemoteKey;
use sealwire::envelope::{
    DataKey, EncryptionContext, EnvelopeReader, EnvelopeWriter, KeyProvider, Rewrap,
    SealOptions as CoreSealOptions, Suite, WrapContext, WrappedKey,
};
use sealwire::{Error as CoreError, ErrorKind};
use zeroize::{Zeroize, Zeroizing};

use crate::callback::{call_function, thrown_code, Thrown};
use crate::error::{to_js_error, ErrorCode, Result};
use crate::identity::{kdf_params, passphrase_bytes, Identity, KdfOptions, PublicIdentity};
use crate::kms::KmsKey;

type CoreResult<T> = std::result::Result<T, CoreError>;

// ---------------------------------------------------------------------------------------------
// Errors raised by JavaScript callbacks
// ---------------------------------------------------------------------------------------------

/// Exceptions thrown by JavaScript provider callbacks during one operation, with the core
/// error each was mapped to. The one matching the operation's final error becomes its `cause`.
#[derive(Default)]
pub(crate) struct Causes(Vec<(ErrorKind, napi::Error)>);

impl Causes {
    fn take_for(&mut self, kind: ErrorKind) -> Option<napi::Error> {
        let i = self.0.iter().position(|(k, _)| *k == kind)?;
        Some(self.0.swap_remove(i).1)
    }
}

/// A core error as a thrown JS error (`code` from the core), with the JavaScript exception
/// that caused it as `cause` when a provider callback threw.
fn js_error(err: CoreError, causes: &mut Causes) -> napi::Error<ErrorCode> {
    let kind = err.kind();
    let mut out = to_js_error(err);
    if let Some(cause) = causes.take_for(kind) {
        out.set_cause(cause);
    }
    out
}

/// The same error as a promise rejection value.
fn js_rejection(env: Env, err: CoreError, causes: &mut Causes) -> napi::Error {
    let e = js_error(err, causes);
    napi::Error::from(napi::JsError::from(e).into_unknown(env))
}

pub(crate) fn invalid(what: &'static str) -> CoreError {
    CoreError::InvalidParameter(what)
}

// ---------------------------------------------------------------------------------------------
// Keyring locking
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// How many JavaScript provider callbacks are running on this thread (nesting depth).
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

fn in_callback() -> bool {
    IN_CALLBACK.with(|c| c.get() > 0)
}

const BUSY: &str =
    "the keyring is in use by an operation in progress (a key provider callback cannot use it)";

type SharedKeyring = Arc<RwLock<sealwire::envelope::Keyring>>;

fn read_ring(ring: &SharedKeyring) -> CoreResult<RwLockReadGuard<'_, sealwire::envelope::Keyring>> {
    if in_callback() {
        match ring.try_read() {
            Ok(g) => Ok(g),
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(invalid(BUSY)),
        }
    } else {
        Ok(ring.read().unwrap_or_else(PoisonError::into_inner))
    }
}

fn write_ring(
    ring: &SharedKeyring,
) -> CoreResult<RwLockWriteGuard<'_, sealwire::envelope::Keyring>> {
    if in_callback() {
        match ring.try_write() {
            Ok(g) => Ok(g),
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(invalid(BUSY)),
        }
    } else {
        Ok(ring.write().unwrap_or_else(PoisonError::into_inner))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Argument conversion
// ---------------------------------------------------------------------------------------------

pub(crate) fn context_from(map: Option<BTreeMap<String, String>>) -> CoreResult<EncryptionContext> {
    match map {
        None => Ok(EncryptionContext::new()),
        Some(m) => EncryptionContext::from_pairs(m),
    }
}

fn context_to_map(ctx: &EncryptionContext) -> BTreeMap<String, String> {
    ctx.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn parse_suite(name: Option<&str>) -> CoreResult<Suite> {
    match name {
        None => Ok(Suite::ChaCha20Poly1305),
        Some("chacha20poly1305" | "chacha20-poly1305") => Ok(Suite::ChaCha20Poly1305),
        Some("aes256gcm" | "aes-256-gcm") => Ok(Suite::Aes256Gcm),
        Some(_) => Err(CoreError::UnsupportedAlgorithm(
            "envelope suite (use 'chacha20poly1305' or 'aes256gcm')",
        )),
    }
}

/// A JS number that must be an integer in `0 ..= u32::MAX`.
fn to_u32(v: f64, what: &'static str) -> CoreResult<u32> {
    if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
        Ok(v as u32)
    } else {
        Err(invalid(what))
    }
}

/// A JS number of Unix seconds: a positive safe integer.
fn to_unix_seconds(v: f64, what: &'static str) -> CoreResult<u64> {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    if v.fract() == 0.0 && (1.0..=MAX_SAFE_INTEGER).contains(&v) {
        Ok(v as u64)
    } else {
        Err(invalid(what))
    }
}

fn seal_options(suite: Option<&str>, segment_size: Option<f64>) -> CoreResult<CoreSealOptions> {
    let suite = parse_suite(suite)?;
    let size = match segment_size {
        None => sealwire::envelope::DEFAULT_SEGMENT_SIZE,
        Some(v) => to_u32(v, "segmentSize must be an integer from 64 to 16777216")?,
    };
    CoreSealOptions::new(suite, size)
}

// ---------------------------------------------------------------------------------------------
// Key providers
// ---------------------------------------------------------------------------------------------

/// A built-in provider, detached from its JS object: `Send`, so async work can carry it.
#[derive(Clone)]
pub(crate) enum Builtin {
    Keyring(SharedKeyring),
    KeyringKey(SharedKeyring, String),
    PublicIdentity(Box<sealwire::PublicIdentity>),
    Identity(Arc<sealwire::Identity>),
    XWingPublicKey(sealwire::envelope::XWingPublicKey),
    XWingKeyPair(Arc<sealwire::envelope::XWingKeyPair>),
    /// A remote KMS key: makes network calls, so only the asynchronous forms accept it.
    Kms(Arc<RemoteKey>),
}

type ProviderFn<'a> = Function<'a, FnArgs<(Unknown<'a>, Unknown<'a>)>, Unknown<'a>>;

/// A key provider implemented in JavaScript (only usable on the JavaScript thread).
pub(crate) struct JsProviderSpec<'a> {
    env: Env,
    this: Object<'a>,
    provider_id: String,
    key_id: String,
    key_version: u32,
    wrap: Option<ProviderFn<'a>>,
    unwrap: Option<ProviderFn<'a>>,
}

pub(crate) enum Provider<'a> {
    Builtin(Builtin),
    Js(JsProviderSpec<'a>),
}

const NOT_A_PROVIDER: &str =
    "a key provider must be a Keyring, KeyringKey, PublicIdentity, Identity, \
     XWingPublicKey, XWingKeyPair, KmsKey, or an object { providerId, keyId, keyVersion?, wrap?, unwrap? }";

fn instance<'a, T: JavaScriptClassExt + 'a>(
    env: &Env,
    value: &Unknown<'a>,
) -> napi::Result<Option<ClassInstance<'a, T>>>
where
    ClassInstance<'a, T>: FromNapiValue,
{
    if T::instance_of(env, value)? {
        Ok(Some(unsafe {
            ClassInstance::<T>::from_napi_value(env.raw(), value.raw())
        }?))
    } else {
        Ok(None)
    }
}

fn parse_provider<'a>(env: &Env, value: Unknown<'a>) -> CoreResult<Provider<'a>> {
    let napi_err = |_| invalid(NOT_A_PROVIDER);
    if value.get_type().map_err(napi_err)? != ValueType::Object {
        return Err(invalid(NOT_A_PROVIDER));
    }
    if let Some(k) = instance::<Keyring>(env, &value).map_err(napi_err)? {
        return Ok(Provider::Builtin(Builtin::Keyring(Arc::clone(&k.inner))));
    }
    if let Some(k) = instance::<KeyringKey>(env, &value).map_err(napi_err)? {
        return Ok(Provider::Builtin(Builtin::KeyringKey(
            Arc::clone(&k.ring),
            k.id.clone(),
        )));
    }
    if let Some(p) = instance::<PublicIdentity>(env, &value).map_err(napi_err)? {
        return Ok(Provider::Builtin(Builtin::PublicIdentity(Box::new(
            p.inner.clone(),
        ))));
    }
    if let Some(i) = instance::<Identity>(env, &value).map_err(napi_err)? {
        return Ok(Provider::Builtin(Builtin::Identity(Arc::clone(&i.inner))));
    }
    if let Some(x) = instance::<XWingPublicKey>(env, &value).map_err(napi_err)? {
        return Ok(Provider::Builtin(Builtin::XWingPublicKey(x.inner.clone())));
    }
    if let Some(x) = instance::<XWingKeyPair>(env, &value).map_err(napi_err)? {
        return Ok(Provider::Builtin(Builtin::XWingKeyPair(Arc::clone(
            &x.inner,
        ))));
    }
    if let Some(k) = instance::<KmsKey>(env, &value).map_err(napi_err)? {
        return Ok(Provider::Builtin(Builtin::Kms(k.shared())));
    }
    // A provider written in JavaScript.
    let this: Object<'a> =
        unsafe { Object::from_napi_value(env.raw(), value.raw()) }.map_err(napi_err)?;
    let string = |name: &str, what: &'static str| -> CoreResult<String> {
        let v: Unknown<'_> = this.get_named_property(name).map_err(|_| invalid(what))?;
        if v.get_type().map_err(|_| invalid(what))? != ValueType::String {
            return Err(invalid(what));
        }
        unsafe { String::from_napi_value(env.raw(), v.raw()) }.map_err(|_| invalid(what))
    };
    let provider_id = string(
        "providerId",
        "a JavaScript key provider needs a string providerId",
    )?;
    let key_id = string("keyId", "a JavaScript key provider needs a string keyId")?;
    let version: Unknown<'_> = this.get_named_property("keyVersion").map_err(napi_err)?;
    let key_version = match version.get_type().map_err(napi_err)? {
        ValueType::Undefined | ValueType::Null => 0,
        ValueType::Number => {
            let v = unsafe { f64::from_napi_value(env.raw(), version.raw()) }.map_err(napi_err)?;
            to_u32(v, "keyVersion must be an integer from 0 to 4294967295")?
        }
        _ => {
            return Err(invalid(
                "keyVersion must be an integer from 0 to 4294967295",
            ))
        }
    };
    let function = |name: &str| -> CoreResult<Option<ProviderFn<'a>>> {
        let v: Unknown<'a> = this.get_named_property(name).map_err(napi_err)?;
        match v.get_type().map_err(napi_err)? {
            ValueType::Undefined | ValueType::Null => Ok(None),
            ValueType::Function => Ok(Some(
                unsafe { ProviderFn::from_napi_value(env.raw(), v.raw()) }.map_err(napi_err)?,
            )),
            _ => Err(invalid(
                "a key provider's wrap and unwrap must be functions",
            )),
        }
    };
    let wrap = function("wrap")?;
    let unwrap = function("unwrap")?;
    if wrap.is_none() && unwrap.is_none() {
        return Err(invalid(
            "a JavaScript key provider needs a wrap or an unwrap function",
        ));
    }
    // Check the names now (the same rules as for the entries they will produce).
    WrappedKey::new(&provider_id, &key_id, key_version, vec![0])?;
    Ok(Provider::Js(JsProviderSpec {
        env: *env,
        this,
        provider_id,
        key_id,
        key_version,
        wrap,
        unwrap,
    }))
}

pub(crate) fn parse_providers<'a>(
    env: &Env,
    values: Vec<Unknown<'a>>,
) -> CoreResult<Vec<Provider<'a>>> {
    values.into_iter().map(|v| parse_provider(env, v)).collect()
}

fn is_kms(p: &Provider<'_>) -> bool {
    matches!(p, Provider::Builtin(Builtin::Kms(_)))
}

/// The synchronous forms refuse a `KmsKey` (`refusal` names the asynchronous form to use):
/// a KMS call must never block the event loop.
pub(crate) fn refuse_kms(providers: &[Provider<'_>], refusal: &'static str) -> CoreResult<()> {
    match providers.iter().any(is_kms) {
        true => Err(invalid(refusal)),
        false => Ok(()),
    }
}

const KMS_WITH_JS: &str = "a KmsKey cannot be combined with a JavaScript key provider in one \
     call (KMS calls run on the thread pool, JavaScript providers on the JavaScript thread)";

/// The asynchronous forms run JavaScript providers on the JavaScript thread and KMS keys on
/// the thread pool: one call cannot have both.
pub(crate) fn refuse_kms_with_js(providers: &[Provider<'_>]) -> CoreResult<()> {
    let js = providers.iter().any(|p| matches!(p, Provider::Js(_)));
    match js && providers.iter().any(is_kms) {
        true => Err(invalid(KMS_WITH_JS)),
        false => Ok(()),
    }
}

const SEAL_KMS: &str = "a KmsKey calls its KMS over the network: use sealAsync \
     (synchronous calls never block the event loop on the network)";
const UNSEAL_KMS: &str = "a KmsKey calls its KMS over the network: use unsealAsync \
     (synchronous calls never block the event loop on the network)";
const REWRAP_KMS: &str = "a KmsKey calls its KMS over the network: use rewrapAsync \
     (synchronous calls never block the event loop on the network)";
const SEALER_KMS: &str = "a KmsKey calls its KMS over the network: use \
     EnvelopeSealer.createAsync, createSealStream or sealFile (synchronous calls never block \
     the event loop on the network)";
pub(crate) const CACHE_KMS: &str = "a KmsKey calls its KMS over the network: use \
     DataKeyCache.sealAsync (synchronous calls never block the event loop on the network)";
const OPENER_KMS: &str = "a KmsKey calls its KMS over the network: use \
     EnvelopeOpener.createAsync, createUnsealStream or unsealFile (synchronous calls never \
     block the event loop on the network)";

/// The providers as `Send` values if none is written in JavaScript.
pub(crate) fn all_builtin(providers: &[Provider<'_>]) -> Option<Vec<Builtin>> {
    providers
        .iter()
        .map(|p| match p {
            Provider::Builtin(b) => Some(b.clone()),
            Provider::Js(_) => None,
        })
        .collect()
}

/// Forwards every `KeyProvider` method (including `owns` and `rewrap`, which the keyring
/// overrides) to a borrowed provider.
struct Forward<'p>(&'p dyn KeyProvider);

impl KeyProvider for Forward<'_> {
    fn provider_id(&self) -> &str {
        self.0.provider_id()
    }
    fn key_id(&self) -> String {
        self.0.key_id()
    }
    fn key_version(&self) -> u32 {
        self.0.key_version()
    }
    fn owns(&self, entry: &WrappedKey) -> bool {
        self.0.owns(entry)
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> CoreResult<WrappedKey> {
        self.0.wrap(dek, ctx)
    }
    fn generate_data_key(
        &self,
        ctx: &WrapContext<'_>,
    ) -> CoreResult<Option<(DataKey, WrappedKey)>> {
        self.0.generate_data_key(ctx)
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> CoreResult<DataKey> {
        self.0.unwrap(entry, ctx)
    }
    fn rewrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> CoreResult<WrappedKey> {
        self.0.rewrap(entry, ctx)
    }
}

/// What a JavaScript key provider's `wrap` / `unwrap` receives as its second argument.
#[napi(object, object_from_js = false)]
pub struct KeyProviderContext {
    /// The provider name (`providerId`) of the entry.
    pub provider_id: String,
    /// For `wrap`: the provider's `keyId`; for `unwrap`: the entry's key id.
    pub key_id: String,
    /// For `wrap`: the provider's `keyVersion`; for `unwrap`: the entry's key version.
    pub key_version: u32,
    /// The envelope's 32-byte message id.
    pub message_id: Buffer,
    /// The envelope's encryption context (authenticated, stored in clear).
    pub context: BTreeMap<String, String>,
    /// The payload suite (`'chacha20-poly1305'` or `'aes-256-gcm'`).
    pub suite: String,
    /// The bytes the wrapped key MUST be bound to (AEAD associated data, or e.g. an AWS KMS
    /// encryption-context entry): `"SEALWIRE\0envelope-v1\0wrap\0" ‖ D`.
    pub aad: Buffer,
}

/// A JavaScript provider as a core `KeyProvider`: calls the callbacks synchronously.
struct JsProvider<'s, 'a> {
    spec: &'s JsProviderSpec<'a>,
    causes: &'s RefCell<Causes>,
}

/// Error codes a JavaScript callback may throw to report one of the core's provider errors;
/// anything else becomes `ERR_SEALWIRE_PROVIDER_FAILED`.
fn mapped_callback_error(code: &str) -> CoreError {
    match code {
        "ERR_SEALWIRE_HEADER_AUTH_FAILED" => CoreError::HeaderAuthFailed,
        "ERR_SEALWIRE_KEY_NOT_FOUND" => {
            CoreError::KeyNotFound("reported by a JavaScript key provider")
        }
        "ERR_SEALWIRE_KEY_RETIRED" => CoreError::KeyRetired,
        "ERR_SEALWIRE_NO_MATCHING_KEY" => CoreError::NoMatchingKey,
        _ => CoreError::ProviderFailed("a JavaScript key provider callback threw (see `cause`)"),
    }
}

impl JsProvider<'_, '_> {
    fn context(&self, key_id: &str, key_version: u32, ctx: &WrapContext<'_>) -> KeyProviderContext {
        KeyProviderContext {
            provider_id: self.spec.provider_id.clone(),
            key_id: key_id.to_owned(),
            key_version,
            message_id: Buffer::from(ctx.message_id().to_vec()),
            context: context_to_map(ctx.encryption_context()),
            suite: ctx.suite().name().to_owned(),
            aad: Buffer::from(ctx.aad().to_vec()),
        }
    }

    /// Call `f(bytes, context)` with `this` = the provider object; return the bytes it
    /// returned. `bytes` is wiped when the callback returns if `wipe`.
    fn call(
        &self,
        f: &ProviderFn<'_>,
        bytes: &[u8],
        wipe: bool,
        ctx: KeyProviderContext,
    ) -> CoreResult<Zeroizing<Vec<u8>>> {
        let env = self.spec.env;
        let failed = |_| CoreError::ProviderFailed("calling a JavaScript key provider failed");
        let mut arg = BufferSlice::copy_from(&env, bytes).map_err(failed)?;
        let ctx_value =
            unsafe { KeyProviderContext::to_napi_value(env.raw(), ctx) }.map_err(failed)?;
        IN_CALLBACK.with(|c| c.set(c.get() + 1));
        let result = call_function(env, f.raw(), self.spec.this.raw(), &[arg.raw(), ctx_value]);
        IN_CALLBACK.with(|c| c.set(c.get().saturating_sub(1)));
        if wipe {
            arg.zeroize();
        }
        let value = match result {
            Ok(v) => v,
            Err(Thrown::Value(thrown)) => {
                let err = mapped_callback_error(thrown_code(&thrown).as_deref().unwrap_or(""));
                self.causes.borrow_mut().0.push((
                    err.kind(),
                    napi::Error::from_unknown_without_coercion(thrown),
                ));
                return Err(err);
            }
            Err(Thrown::Status) => {
                return Err(CoreError::ProviderFailed(
                    "calling a JavaScript key provider failed",
                ))
            }
        };
        if value.is_typedarray().unwrap_or(false) || value.is_buffer().unwrap_or(false) {
            let slice =
                unsafe { BufferSlice::from_napi_value(env.raw(), value.raw()) }.map_err(|_| {
                    CoreError::ProviderFailed(
                        "a key provider callback must return a Buffer or Uint8Array",
                    )
                })?;
            return Ok(Zeroizing::new(slice.to_vec()));
        }
        if value.is_promise().unwrap_or(false) {
            return Err(CoreError::ProviderFailed(
                "a key provider callback must return a Buffer synchronously, not a Promise",
            ));
        }
        Err(CoreError::ProviderFailed(
            "a key provider callback must return a Buffer or Uint8Array",
        ))
    }
}

impl KeyProvider for JsProvider<'_, '_> {
    fn provider_id(&self) -> &str {
        &self.spec.provider_id
    }
    fn key_id(&self) -> String {
        self.spec.key_id.clone()
    }
    fn key_version(&self) -> u32 {
        self.spec.key_version
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> CoreResult<WrappedKey> {
        let f = self.spec.wrap.as_ref().ok_or(CoreError::ProviderFailed(
            "this key provider has no wrap function",
        ))?;
        let c = self.context(&self.spec.key_id, self.spec.key_version, ctx);
        let wrapped = self.call(f, dek.as_bytes(), true, c)?;
        WrappedKey::new(
            &self.spec.provider_id,
            &self.spec.key_id,
            self.spec.key_version,
            wrapped.to_vec(),
        )
        .map_err(|_| {
            CoreError::ProviderFailed("a key provider's wrap must return 1 to 65535 bytes")
        })
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> CoreResult<DataKey> {
        let f = self.spec.unwrap.as_ref().ok_or(CoreError::NoMatchingKey)?;
        let c = self.context(entry.key_id(), entry.key_version(), ctx);
        let dek = self.call(f, entry.wrapped(), false, c)?;
        DataKey::from_bytes(&dek).map_err(|_| {
            CoreError::ProviderFailed("a key provider's unwrap must return the 32-byte data key")
        })
    }
}

/// A provider reference for [`with_providers`].
#[derive(Clone, Copy)]
pub(crate) enum ProviderRef<'x, 'a> {
    Builtin(&'x Builtin),
    Js(&'x JsProviderSpec<'a>),
}

pub(crate) fn refs<'x, 'a>(providers: &'x [Provider<'a>]) -> Vec<ProviderRef<'x, 'a>> {
    providers
        .iter()
        .map(|p| match p {
            Provider::Builtin(b) => ProviderRef::Builtin(b),
            Provider::Js(j) => ProviderRef::Js(j),
        })
        .collect()
}

pub(crate) fn builtin_refs(providers: &[Builtin]) -> Vec<ProviderRef<'_, 'static>> {
    providers.iter().map(ProviderRef::Builtin).collect()
}

/// Run `f` with the providers as `&dyn KeyProvider`s: one read lock per distinct keyring is
/// held for the duration; JavaScript providers record their exceptions in `causes`.
pub(crate) fn with_providers<T>(
    providers: &[ProviderRef<'_, '_>],
    causes: &RefCell<Causes>,
    f: impl FnOnce(&[&dyn KeyProvider]) -> CoreResult<T>,
) -> CoreResult<T> {
    let mut rings: Vec<&SharedKeyring> = Vec::new();
    for p in providers {
        if let ProviderRef::Builtin(Builtin::Keyring(r) | Builtin::KeyringKey(r, _)) = p {
            if !rings.iter().any(|x| Arc::ptr_eq(x, r)) {
                rings.push(r);
            }
        }
    }
    let guards = rings
        .iter()
        .map(|r| read_ring(r))
        .collect::<CoreResult<Vec<_>>>()?;
    let ring_of = |r: &SharedKeyring| -> CoreResult<&sealwire::envelope::Keyring> {
        let i = rings
            .iter()
            .position(|x| Arc::ptr_eq(x, r))
            .ok_or(invalid("keyring lock"))?;
        Ok(&*guards[i])
    };
    let mut owned: Vec<Box<dyn KeyProvider + '_>> = Vec::with_capacity(providers.len());
    for p in providers {
        match *p {
            ProviderRef::Builtin(Builtin::Keyring(ref r)) => {
                owned.push(Box::new(Forward(ring_of(r)?)))
            }
            ProviderRef::Builtin(Builtin::KeyringKey(ref r, ref id)) => {
                owned.push(Box::new(ring_of(r)?.key(id)?))
            }
            ProviderRef::Builtin(Builtin::PublicIdentity(p)) => owned.push(Box::new(Forward(&**p))),
            ProviderRef::Builtin(Builtin::Identity(i)) => owned.push(Box::new(Forward(&**i))),
            ProviderRef::Builtin(Builtin::XWingPublicKey(x)) => owned.push(Box::new(Forward(x))),
            ProviderRef::Builtin(Builtin::XWingKeyPair(x)) => owned.push(Box::new(Forward(&**x))),
            ProviderRef::Builtin(Builtin::Kms(k)) => owned.push(Box::new(Forward(&**k))),
            ProviderRef::Js(spec) => owned.push(Box::new(JsProvider { spec, causes })),
        }
    }
    let dyns: Vec<&dyn KeyProvider> = owned
        .iter()
        .map(|b| b.as_ref() as &dyn KeyProvider)
        .collect();
    f(&dyns)
}

/// [`with_providers`] on the JavaScript thread, returning a thrown-error-ready result.
pub(crate) fn with_js_providers<T>(
    providers: &[Provider<'_>],
    f: impl FnOnce(&[&dyn KeyProvider]) -> CoreResult<T>,
) -> std::result::Result<T, (CoreError, Causes)> {
    let causes = RefCell::new(Causes::default());
    with_providers(&refs(providers), &causes, f).map_err(|e| (e, causes.into_inner()))
}

pub(crate) fn throw<T>(r: std::result::Result<T, (CoreError, Causes)>) -> Result<T> {
    r.map_err(|(e, mut causes)| js_error(e, &mut causes))
}

// ---------------------------------------------------------------------------------------------
// Async work (libuv thread pool)
// ---------------------------------------------------------------------------------------------

pub(crate) type Work<T> = Box<dyn FnOnce() -> CoreResult<T> + Send>;

/// One unit of work on the libuv pool: a closure, or an error to reject with (so argument
/// errors of a `…Async` call reject its Promise instead of throwing). `busy` (if any) is the
/// flag of the handle the work belongs to, cleared when the Promise settles.
pub struct Job<T: Send + 'static> {
    work: Option<Work<T>>,
    early: Option<(CoreError, Causes)>,
    busy: Option<Arc<AtomicBool>>,
}

impl<T: Send + 'static> std::fmt::Debug for Job<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job(..)")
    }
}

impl<T: Send + 'static> Job<T>
where
    Self: Task,
{
    pub(crate) fn new(work: impl FnOnce() -> CoreResult<T> + Send + 'static) -> AsyncTask<Self> {
        AsyncTask::new(Self {
            work: Some(Box::new(work)),
            early: None,
            busy: None,
        })
    }
    pub(crate) fn failed(err: CoreError, causes: Causes) -> AsyncTask<Self> {
        AsyncTask::new(Self {
            work: None,
            early: Some((err, causes)),
            busy: None,
        })
    }
    pub(crate) fn from_result(
        r: std::result::Result<Work<T>, (CoreError, Causes)>,
    ) -> AsyncTask<Self> {
        match r {
            Ok(work) => AsyncTask::new(Self {
                work: Some(work),
                early: None,
                busy: None,
            }),
            Err((e, causes)) => Self::failed(e, causes),
        }
    }
    fn run(&mut self) -> CoreResult<T> {
        match self.work.take() {
            Some(w) => w(),
            None => Err(invalid("no work")),
        }
    }
    fn settle(&mut self, env: Env, output: CoreResult<T>) -> napi::Result<T> {
        if let Some((e, mut causes)) = self.early.take() {
            return Err(js_rejection(env, e, &mut causes));
        }
        output.map_err(|e| js_rejection(env, e, &mut Causes::default()))
    }
    fn clear_busy(&self) {
        if let Some(b) = &self.busy {
            b.store(false, Ordering::Release);
        }
    }
}

impl Task for Job<Vec<u8>> {
    type Output = CoreResult<Vec<u8>>;
    type JsValue = Buffer;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(if self.early.is_some() {
            Ok(Vec::new())
        } else {
            self.run()
        })
    }
    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Buffer> {
        self.settle(env, output).map(Buffer::from)
    }
    fn finally(self, _env: Env) -> napi::Result<()> {
        self.clear_busy();
        Ok(())
    }
}

impl Task for Job<()> {
    type Output = CoreResult<()>;
    type JsValue = ();
    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(if self.early.is_some() {
            Ok(())
        } else {
            self.run()
        })
    }
    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<()> {
        self.settle(env, output)
    }
    fn finally(self, _env: Env) -> napi::Result<()> {
        self.clear_busy();
        Ok(())
    }
}

impl Task for Job<SealerState> {
    type Output = CoreResult<SealerState>;
    type JsValue = EnvelopeSealer;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        // With an early error there is no work: `settle` rejects with the early error.
        Ok(self.run())
    }
    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<EnvelopeSealer> {
        self.settle(env, output).map(EnvelopeSealer::wrap)
    }
}

impl Task for Job<OpenerState> {
    type Output = CoreResult<OpenerState>;
    type JsValue = EnvelopeOpener;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        // With an early error there is no work: `settle` rejects with the early error.
        Ok(self.run())
    }
    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<EnvelopeOpener> {
        self.settle(env, output).map(EnvelopeOpener::wrap)
    }
}

impl Task for Job<sealwire::envelope::Keyring> {
    type Output = CoreResult<sealwire::envelope::Keyring>;
    type JsValue = Keyring;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(if self.early.is_some() {
            Ok(sealwire::envelope::Keyring::new())
        } else {
            self.run()
        })
    }
    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Keyring> {
        self.settle(env, output).map(Keyring::wrap)
    }
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// Options of `seal`, `sealAsync`, `EnvelopeSealer.create`, `createSealStream` and
/// `sealFile`.
#[napi(object, object_to_js = false)]
pub struct SealOptions<'a> {
    /// The encryption context: a string → string map bound to the envelope (stored in clear,
    /// authenticated; never put secrets in it). Openers must pass exactly the same map.
    /// Default: empty.
    pub context: Option<BTreeMap<String, String>>,
    /// The key providers the fresh data key is wrapped for (at least one): keyring keys,
    /// recipients (`PublicIdentity` / `XWingPublicKey`, or their private halves), or
    /// JavaScript providers.
    #[napi(ts_type = "Array<KeyProvider>")]
    pub to: Vec<Unknown<'a>>,
    /// The payload AEAD: `'chacha20poly1305'` (default) or `'aes256gcm'` (the core's names
    /// `'chacha20-poly1305'` / `'aes-256-gcm'` are accepted too).
    #[napi(ts_type = "'chacha20poly1305' | 'aes256gcm' | 'chacha20-poly1305' | 'aes-256-gcm'")]
    pub suite: Option<String>,
    /// Plaintext bytes per segment, 64 ..= 16777216 (default 65536).
    pub segment_size: Option<f64>,
}

/// Options of `unseal`, `unsealAsync`, `EnvelopeOpener.create`, `createUnsealStream`
/// and `unsealFile`.
#[napi(object, object_to_js = false)]
pub struct OpenOptions<'a> {
    /// The expected encryption context; must equal the stored one exactly
    /// (`ERR_SEALWIRE_CONTEXT_MISMATCH` otherwise). Default: empty.
    pub context: Option<BTreeMap<String, String>>,
    /// The key providers to try against the envelope's wrapped keys: `Keyring`,
    /// `KeyringKey`, `Identity`, `XWingKeyPair`, or JavaScript providers with `unwrap`.
    #[napi(ts_type = "Array<KeyProvider>")]
    pub keys: Vec<Unknown<'a>>,
}

/// One wrapped-key entry to remove in `rewrap`.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct WrappedKeySelector {
    /// Provider name (`'keyring'`, `'hpke-x25519'`, `'hpke-xwing'`, or a custom `providerId`).
    pub provider: String,
    /// Key id (every version of it is removed).
    pub key_id: String,
}

/// Options of `rewrap`.
#[napi(object, object_to_js = false)]
pub struct RewrapOptions<'a> {
    /// The expected encryption context (as for `unseal`).
    pub context: Option<BTreeMap<String, String>>,
    /// Providers that can unwrap the data key (as for `unseal`).
    #[napi(ts_type = "Array<KeyProvider>")]
    pub keys: Vec<Unknown<'a>>,
    /// First step: re-wrap every entry one of these providers owns under its current key
    /// version (e.g. a `Keyring` after `rotate`).
    #[napi(ts_type = "Array<KeyProvider>")]
    pub rewrap_with: Option<Vec<Unknown<'a>>>,
    /// Second step: remove every entry of these (provider, key id) pairs, all versions.
    pub remove: Option<Vec<WrappedKeySelector>>,
    /// Last step: add an entry for each of these providers (an existing entry of the same
    /// provider, key id and version is replaced).
    #[napi(ts_type = "Array<KeyProvider>")]
    pub add: Option<Vec<Unknown<'a>>>,
}

/// A key provider written in JavaScript (documentation type: pass such an object in `to` /
/// `keys`). `wrap` receives the PLAINTEXT 32-byte data key, which decrypts the object: a
/// provider can read everything it wraps, so only use code you trust with the data (the
/// buffer is zero-filled when `wrap` returns: copy it if you must keep it, which you should
/// not); `unwrap` must return it. Both are called synchronously on the JavaScript thread with `this` = the provider
/// object and must return a `Buffer`/`Uint8Array` (not a Promise). They must bind the wrapped
/// key to `context.aad`. To report a specific failure, throw an error whose `code` is
/// `ERR_SEALWIRE_HEADER_AUTH_FAILED`, `ERR_SEALWIRE_KEY_NOT_FOUND`,
/// `ERR_SEALWIRE_KEY_RETIRED` or `ERR_SEALWIRE_NO_MATCHING_KEY`; anything else thrown becomes
/// `ERR_SEALWIRE_PROVIDER_FAILED`. The thrown value is the `cause` of the resulting error.
#[napi(object, object_from_js = false)]
pub struct CustomKeyProvider {
    /// Provider name written in the entries (1–64 printable ASCII bytes), e.g. `'aws-kms'`.
    pub provider_id: String,
    /// Key id written in the entries (1–2048 bytes, no control characters).
    pub key_id: String,
    /// Key version written by `wrap` (default 0).
    pub key_version: Option<u32>,
    /// Wrap the data key; returns the wrapped bytes (1–65535 bytes).
    #[napi(ts_type = "(dataKey: Buffer, context: KeyProviderContext) => Uint8Array")]
    pub wrap: Option<Unknown<'static>>,
    /// Unwrap an entry whose `providerId` and `keyId` match this provider; returns the
    /// 32-byte data key.
    #[napi(ts_type = "(wrapped: Buffer, context: KeyProviderContext) => Uint8Array")]
    pub unwrap: Option<Unknown<'static>>,
}

// Manual `Debug`: these hold JS values, key material bound data or callbacks.
impl std::fmt::Debug for SealOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealOptions(..)")
    }
}

impl std::fmt::Debug for OpenOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenOptions(..)")
    }
}

impl std::fmt::Debug for RewrapOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RewrapOptions(..)")
    }
}

impl std::fmt::Debug for KeyProviderContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyProviderContext(..)")
    }
}

impl std::fmt::Debug for CustomKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomKeyProvider(..)")
    }
}

/// Anything `seal` / `unseal` / `rewrap` accept as a key provider.
#[napi(js_name = "KeyProvider")]
#[allow(dead_code)]
pub type KeyProviderArg = Either8<
    Keyring,
    KeyringKey,
    PublicIdentity,
    Identity,
    XWingPublicKey,
    XWingKeyPair,
    KmsKey,
    CustomKeyProvider,
>;

// ---------------------------------------------------------------------------------------------
// One-shot seal / open / rewrap
// ---------------------------------------------------------------------------------------------

pub(crate) struct SealArgs<'a> {
    pub(crate) context: EncryptionContext,
    pub(crate) options: CoreSealOptions,
    pub(crate) providers: Vec<Provider<'a>>,
}

pub(crate) fn seal_args<'a>(env: &Env, o: SealOptions<'a>) -> CoreResult<SealArgs<'a>> {
    let context = context_from(o.context)?;
    let options = seal_options(o.suite.as_deref(), o.segment_size)?;
    let providers = parse_providers(env, o.to)?;
    if providers.is_empty() {
        return Err(invalid("at least one key provider is needed"));
    }
    Ok(SealArgs {
        context,
        options,
        providers,
    })
}

struct OpenArgs<'a> {
    context: EncryptionContext,
    providers: Vec<Provider<'a>>,
}

fn open_args<'a>(env: &Env, o: OpenOptions<'a>) -> CoreResult<OpenArgs<'a>> {
    Ok(OpenArgs {
        context: context_from(o.context)?,
        providers: parse_providers(env, o.keys)?,
    })
}

/// Seal `plaintext` into a new envelope (`docs/ENVELOPE_FORMATS.md`): a fresh data key, the
/// payload in authenticated segments, the data key wrapped for every provider in `to`.
///
/// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` (no provider, bad segment size or
/// context), `ERR_SEALWIRE_UNSUPPORTED_ALGORITHM` (unknown suite), `ERR_SEALWIRE_KEY_NOT_FOUND`
/// (a keyring without a default key), `ERR_SEALWIRE_PROVIDER_FAILED` (a JavaScript provider
/// threw; its exception is the `cause`); `ERR_SEALWIRE_INVALID_PARAMETER` for a `KmsKey` (a
/// network call: use `sealAsync`).
#[napi(strict)]
pub fn seal(env: Env, plaintext: &[u8], options: SealOptions<'_>) -> Result<Buffer> {
    let a = seal_args(&env, options).map_err(to_js_error)?;
    refuse_kms(&a.providers, SEAL_KMS).map_err(to_js_error)?;
    throw(with_js_providers(&a.providers, |ps| {
        sealwire::envelope::seal_with(plaintext, &a.context, ps, &a.options)
    }))
    .map(Buffer::from)
}

/// Like `seal`, as a Promise: the payload is sealed on the libuv thread pool. With only
/// built-in providers everything runs on the pool (including the calls of a `KmsKey` to its
/// KMS); JavaScript providers' `wrap` runs on this thread before the call returns (so a
/// `KmsKey` cannot be combined with one: `ERR_SEALWIRE_INVALID_PARAMETER`). `plaintext` is
/// copied, so it may be reused at once. Rejections carry the same `code`s as `seal`, plus
/// the KMS codes (`ERR_SEALWIRE_KMS_AUTH_FAILED`, `ERR_SEALWIRE_KMS_KEY_NOT_FOUND`,
/// `ERR_SEALWIRE_KMS_KEY_DISABLED`, `ERR_SEALWIRE_KMS_UNAVAILABLE`, `ERR_SEALWIRE_KMS_TIMEOUT`,
/// `ERR_SEALWIRE_KMS_THROTTLED`).
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn seal_async(
    env: Env,
    plaintext: Uint8Array,
    options: SealOptions<'_>,
) -> AsyncTask<Job<Vec<u8>>> {
    let plaintext = Zeroizing::new(plaintext.to_vec());
    let a = match seal_args(&env, options) {
        Ok(a) => a,
        Err(e) => return Job::failed(e, Causes::default()),
    };
    if let Some(builtins) = all_builtin(&a.providers) {
        let (context, options) = (a.context, a.options);
        return Job::new(move || {
            with_providers(&builtin_refs(&builtins), &RefCell::default(), |ps| {
                sealwire::envelope::seal_with(&plaintext, &context, ps, &options)
            })
        });
    }
    if let Err(e) = refuse_kms_with_js(&a.providers) {
        return Job::failed(e, Causes::default());
    }
    // Payload plus tags, and room for the header.
    let capacity =
        sealwire::envelope::sealed_payload_len(plaintext.len() as u64, a.options.segment_size())
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(plaintext.len())
            .saturating_add(4096);
    Job::from_result(
        with_js_providers(&a.providers, |ps| {
            EnvelopeWriter::new(Vec::with_capacity(capacity), &a.context, ps, &a.options)
        })
        .map(|mut w| -> Work<Vec<u8>> {
            Box::new(move || {
                w.write_plaintext(&plaintext)?;
                w.finish()
            })
        }),
    )
}

/// Open an envelope made by `seal` (or any sealwire binding, streams included). Nothing is
/// returned unless the context, the key commitment, the header tag and every segment verify.
///
/// @throws {Error} `code` decode codes for a malformed header (`ERR_SEALWIRE_TRUNCATED`,
/// `ERR_SEALWIRE_BAD_MAGIC`, `ERR_SEALWIRE_UNSUPPORTED_VERSION`,
/// `ERR_SEALWIRE_UNSUPPORTED_ALGORITHM`, `ERR_SEALWIRE_MALFORMED`, …);
/// `ERR_SEALWIRE_CONTEXT_MISMATCH`; `ERR_SEALWIRE_NO_MATCHING_KEY` (no entry for `keys`);
/// `ERR_SEALWIRE_HEADER_AUTH_FAILED`; `ERR_SEALWIRE_KEY_RETIRED`; `ERR_SEALWIRE_KEY_NOT_FOUND`;
/// `ERR_SEALWIRE_COMMITMENT_MISMATCH`; `ERR_SEALWIRE_TRUNCATED` (payload ends before its final
/// segment); `ERR_SEALWIRE_DECRYPTION_FAILED` (payload modified, reordered or extended);
/// `ERR_SEALWIRE_PROVIDER_FAILED`; `ERR_SEALWIRE_INVALID_PARAMETER` for a `KmsKey` (a
/// network call: use `unsealAsync`).
#[napi(strict)]
pub fn unseal(env: Env, sealed: &[u8], options: OpenOptions<'_>) -> Result<Buffer> {
    let a = open_args(&env, options).map_err(to_js_error)?;
    refuse_kms(&a.providers, UNSEAL_KMS).map_err(to_js_error)?;
    throw(with_js_providers(&a.providers, |ps| {
        sealwire::envelope::open(sealed, &a.context, ps)
    }))
    .map(Buffer::from)
}

/// `io::Read` over an owned byte vector.
struct OwnedSource {
    data: Vec<u8>,
    pos: usize,
}

impl Read for OwnedSource {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.data[self.pos..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Read every remaining segment of an authenticated reader (the payload after the header).
fn read_to_end<R: Read>(reader: &mut EnvelopeReader<R>, size_hint: usize) -> CoreResult<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(size_hint));
    let mut buf = Zeroizing::new(vec![0u8; reader.header().segment_size() as usize]);
    loop {
        let n = reader.read_plaintext(&mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    if !reader.is_finished() {
        return Err(CoreError::Truncated(
            "envelope payload (ends before its final segment)",
        ));
    }
    Ok(std::mem::take(&mut *out))
}

/// Like `unseal`, as a Promise: the payload is verified and decrypted on the libuv thread
/// pool, and so are the calls of a `KmsKey` to its KMS (with JavaScript providers, their
/// `unwrap` runs on this thread before the call returns, and a `KmsKey` cannot be combined
/// with them). An object wrapped for several providers opens through the first owned entry
/// that unwraps: an unreachable KMS fails fast and the next one is tried. `sealed` is copied.
/// Rejections carry the same `code`s as `unseal`, plus the KMS codes of `sealAsync`.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn unseal_async(
    env: Env,
    sealed: Uint8Array,
    options: OpenOptions<'_>,
) -> AsyncTask<Job<Vec<u8>>> {
    let sealed = sealed.to_vec();
    let a = match open_args(&env, options) {
        Ok(a) => a,
        Err(e) => return Job::failed(e, Causes::default()),
    };
    if let Some(builtins) = all_builtin(&a.providers) {
        let context = a.context;
        return Job::new(move || {
            with_providers(&builtin_refs(&builtins), &RefCell::default(), |ps| {
                sealwire::envelope::open(&sealed, &context, ps)
            })
        });
    }
    if let Err(e) = refuse_kms_with_js(&a.providers) {
        return Job::failed(e, Causes::default());
    }
    let hint = sealed.len();
    let source = OwnedSource {
        data: sealed,
        pos: 0,
    };
    Job::from_result(
        with_js_providers(&a.providers, |ps| {
            EnvelopeReader::new(source, &a.context, ps)
        })
        .map(|mut r| -> Work<Vec<u8>> { Box::new(move || read_to_end(&mut r, hint)) }),
    )
}

/// Change an envelope's wrapped-key entries without touching its payload: authenticate it
/// like `unseal` (with `keys`), then re-wrap the entries `rewrapWith` providers own under
/// their current key version, remove the `remove` entries, add entries for `add`, and return
/// the new header followed by the unchanged payload bytes. The payload is not decrypted (a
/// damaged payload is copied as it is).
///
/// @throws {Error} as `unseal` for the header, plus `ERR_SEALWIRE_INVALID_PARAMETER` if
/// no entry would remain, or for a `KmsKey` (a network call: use `rewrapAsync`).
#[napi(strict)]
pub fn rewrap(env: Env, sealed: &[u8], options: RewrapOptions<'_>) -> Result<Buffer> {
    let a = rewrap_args(&env, options).map_err(to_js_error)?;
    for list in [&a.keys, &a.rewrap_with, &a.add] {
        refuse_kms(list, REWRAP_KMS).map_err(to_js_error)?;
    }
    let causes = RefCell::new(Causes::default());
    apply_rewrap(
        sealed,
        &a.context,
        &refs(&a.keys),
        &refs(&a.rewrap_with),
        &a.remove,
        &refs(&a.add),
        &causes,
    )
    .map(Buffer::from)
    .map_err(|e| js_error(e, &mut causes.into_inner()))
}

/// Like `rewrap`, as a Promise. With only built-in providers (a `KmsKey` included: its
/// unwrap, server-side re-encryption and wraps are KMS calls) everything runs on the libuv
/// thread pool; with a JavaScript provider the whole rewrap runs on this thread (it decrypts
/// no payload) and the Promise is already settled (a `KmsKey` cannot be combined with a
/// JavaScript provider). `sealed` is copied. Rejections carry the `code`s of `rewrap` and
/// the KMS codes of `sealAsync`.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn rewrap_async(
    env: Env,
    sealed: Uint8Array,
    options: RewrapOptions<'_>,
) -> AsyncTask<Job<Vec<u8>>> {
    let sealed = sealed.to_vec();
    let a = match rewrap_args(&env, options) {
        Ok(a) => a,
        Err(e) => return Job::failed(e, Causes::default()),
    };
    if let (Some(keys), Some(rewrap_with), Some(add)) = (
        all_builtin(&a.keys),
        all_builtin(&a.rewrap_with),
        all_builtin(&a.add),
    ) {
        let (context, remove) = (a.context, a.remove);
        return Job::new(move || {
            apply_rewrap(
                &sealed,
                &context,
                &builtin_refs(&keys),
                &builtin_refs(&rewrap_with),
                &remove,
                &builtin_refs(&add),
                &RefCell::default(),
            )
        });
    }
    let all: Vec<&Provider<'_>> = a.keys.iter().chain(&a.rewrap_with).chain(&a.add).collect();
    if all.iter().any(|p| is_kms(p)) {
        return Job::failed(invalid(KMS_WITH_JS), Causes::default());
    }
    let causes = RefCell::new(Causes::default());
    let done = apply_rewrap(
        &sealed,
        &a.context,
        &refs(&a.keys),
        &refs(&a.rewrap_with),
        &a.remove,
        &refs(&a.add),
        &causes,
    );
    Job::from_result(
        done.map(|out| -> Work<Vec<u8>> { Box::new(move || Ok(out)) })
            .map_err(|e| (e, causes.into_inner())),
    )
}

struct RewrapArgs<'a> {
    context: EncryptionContext,
    keys: Vec<Provider<'a>>,
    rewrap_with: Vec<Provider<'a>>,
    remove: Vec<WrappedKeySelector>,
    add: Vec<Provider<'a>>,
}

fn rewrap_args<'a>(env: &Env, o: RewrapOptions<'a>) -> CoreResult<RewrapArgs<'a>> {
    Ok(RewrapArgs {
        context: context_from(o.context)?,
        keys: parse_providers(env, o.keys)?,
        rewrap_with: parse_providers(env, o.rewrap_with.unwrap_or_default())?,
        remove: o.remove.unwrap_or_default(),
        add: parse_providers(env, o.add.unwrap_or_default())?,
    })
}

/// The three steps of `rewrap`, on whichever thread may call the providers.
fn apply_rewrap(
    sealed: &[u8],
    context: &EncryptionContext,
    keys: &[ProviderRef<'_, '_>],
    rewrap_with: &[ProviderRef<'_, '_>],
    remove: &[WrappedKeySelector],
    add: &[ProviderRef<'_, '_>],
    causes: &RefCell<Causes>,
) -> CoreResult<Vec<u8>> {
    let mut rw = with_providers(keys, causes, |ps| Rewrap::open(sealed, context, ps))?;
    with_providers(rewrap_with, causes, |ps| {
        for p in ps {
            rw.rewrap_with(*p)?;
        }
        Ok(())
    })?;
    for r in remove {
        rw.remove(&r.provider, &r.key_id);
    }
    with_providers(add, causes, |ps| {
        for p in ps {
            rw.add(*p)?;
        }
        Ok(())
    })?;
    rw.apply(sealed)
}

/// What a key provider writes into the entries it creates.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone)]
pub struct KeyProviderInfo {
    /// Provider name (`'keyring'`, `'hpke-x25519'`, `'hpke-xwing'`, or a custom one).
    pub provider_id: String,
    /// Key id: the keyring key id (a `Keyring`'s default key), the recipient key id (lowercase
    /// hex, 32 digits) of a public key, or a custom provider's `keyId`.
    pub key_id: String,
    /// The key version new wraps use (0 for recipients).
    pub key_version: u32,
}

/// The provider name, key id and key version `provider` writes into envelope entries (e.g.
/// to name an entry in `rewrap`'s `remove`, or to find it in `EnvelopeHeader.wrappedKeys`).
#[napi(strict, ts_args_type = "provider: KeyProvider")]
pub fn key_provider_info(env: Env, provider: Unknown<'_>) -> Result<KeyProviderInfo> {
    let p = parse_provider(&env, provider).map_err(to_js_error)?;
    throw(with_js_providers(std::slice::from_ref(&p), |ps| {
        let p = ps.first().ok_or(invalid("no provider"))?;
        Ok(KeyProviderInfo {
            provider_id: p.provider_id().to_owned(),
            key_id: p.key_id(),
            key_version: p.key_version(),
        })
    }))
}

// ---------------------------------------------------------------------------------------------
// EnvelopeHeader
// ---------------------------------------------------------------------------------------------

/// One wrapped-data-key entry of an envelope header.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone)]
pub struct WrappedKeyInfo {
    /// Provider name (`'keyring'`, `'hpke-x25519'`, `'hpke-xwing'`, …).
    pub provider: String,
    /// Key id as the provider names it.
    pub key_id: String,
    /// Key version (0 where the provider has none).
    pub version: u32,
}

/// A decoded envelope header (structure only: nothing is authenticated without a key). Shows
/// which keys and key versions an object is wrapped for, e.g. to find objects to rewrap
/// after a rotation.
#[napi]
pub struct EnvelopeHeader {
    inner: sealwire::envelope::EnvelopeHeader,
}

impl std::fmt::Debug for EnvelopeHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvelopeHeader(..)")
    }
}

#[napi]
impl EnvelopeHeader {
    /// Decode the header at the start of `bytes` (payload bytes may follow).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_TRUNCATED`, `ERR_SEALWIRE_BAD_MAGIC`,
    /// `ERR_SEALWIRE_UNSUPPORTED_VERSION`, `ERR_SEALWIRE_UNSUPPORTED_ALGORITHM`,
    /// `ERR_SEALWIRE_MALFORMED`, `ERR_SEALWIRE_TRAILING_BYTES`.
    #[napi(factory, strict)]
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        sealwire::envelope::EnvelopeHeader::parse(bytes)
            .map(|inner| Self { inner })
            .map_err(to_js_error)
    }

    /// The header length announced by the first 9 bytes of an envelope (after checking the
    /// magic, version and bounds): how many bytes to collect before the header is complete.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_TRUNCATED` (fewer than 9 bytes),
    /// `ERR_SEALWIRE_BAD_MAGIC`, `ERR_SEALWIRE_UNSUPPORTED_VERSION`, `ERR_SEALWIRE_MALFORMED`.
    #[napi(strict)]
    pub fn header_length(prefix: &[u8]) -> Result<u32> {
        let len = sealwire::envelope::header_len(prefix).map_err(to_js_error)?;
        Ok(u32::try_from(len).unwrap_or(u32::MAX))
    }

    /// The payload suite: `'chacha20-poly1305'` or `'aes-256-gcm'` (the core's stable names).
    #[napi(getter, ts_return_type = "'chacha20-poly1305' | 'aes-256-gcm'")]
    pub fn suite(&self) -> String {
        self.inner.suite().name().to_owned()
    }

    /// Plaintext bytes per segment.
    #[napi(getter)]
    pub fn segment_size(&self) -> u32 {
        self.inner.segment_size()
    }

    /// The encryption context (stored in clear).
    #[napi(getter)]
    pub fn context(&self) -> BTreeMap<String, String> {
        context_to_map(self.inner.context())
    }

    /// The 32-byte random message id.
    #[napi(getter)]
    pub fn message_id(&self) -> Buffer {
        Buffer::from(self.inner.message_id().to_vec())
    }

    /// The wrapped-key entries, in header order.
    #[napi(getter)]
    pub fn wrapped_keys(&self) -> Vec<WrappedKeyInfo> {
        self.inner
            .wrapped_keys()
            .iter()
            .map(|w| WrappedKeyInfo {
                provider: w.provider().to_owned(),
                key_id: w.key_id().to_owned(),
                version: w.key_version(),
            })
            .collect()
    }

    /// Header length in bytes: the payload starts at this offset.
    #[napi(getter)]
    pub fn header_len(&self) -> u32 {
        u32::try_from(self.inner.len()).unwrap_or(u32::MAX)
    }
}

// ---------------------------------------------------------------------------------------------
// Incremental handles (the JS stream helpers are built on these)
// ---------------------------------------------------------------------------------------------

/// An `io::Write` whose bytes the owner takes out after each call.
#[derive(Clone, Default)]
struct SharedSink(Arc<Mutex<Vec<u8>>>);

impl SharedSink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *lock(&self.0))
    }
}

impl Write for SharedSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const HANDLE_BUSY: &str =
    "an asynchronous operation on this handle is still running: await it first";
const SEALER_DONE: &str =
    "this EnvelopeSealer is finished (final() was called or an operation failed)";
const OPENER_DONE: &str =
    "this EnvelopeOpener is finished (final() was called or an operation failed)";

/// Claim a handle for one operation (sync or async); `ERR_SEALWIRE_INVALID_PARAMETER` if an
/// async one is still running (handles process data strictly in call order).
fn claim(busy: &AtomicBool) -> CoreResult<()> {
    busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .map(|_| ())
        .map_err(|_| invalid(HANDLE_BUSY))
}

/// The state of an `EnvelopeSealer` (`Send`: made on the thread pool by `createAsync`).
pub struct SealerState {
    writer: Option<EnvelopeWriter<SharedSink>>,
    sink: SharedSink,
}

impl std::fmt::Debug for SealerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealerState(..)")
    }
}

impl SealerState {
    fn new(
        context: &EncryptionContext,
        providers: &[&dyn KeyProvider],
        options: &CoreSealOptions,
    ) -> CoreResult<Self> {
        let sink = SharedSink::default();
        let writer = EnvelopeWriter::new(sink.clone(), context, providers, options)?;
        Ok(Self {
            writer: Some(writer),
            sink,
        })
    }

    fn update(&mut self, chunk: &[u8]) -> CoreResult<Vec<u8>> {
        let w = self.writer.as_mut().ok_or(invalid(SEALER_DONE))?;
        if let Err(e) = w.write_plaintext(chunk) {
            self.writer = None;
            return Err(e);
        }
        Ok(self.sink.take())
    }
    fn finish(&mut self) -> CoreResult<Vec<u8>> {
        let w = self.writer.take().ok_or(invalid(SEALER_DONE))?;
        w.finish()?;
        Ok(self.sink.take())
    }
}

/// Incremental sealing (constant memory: one segment): `update(plaintext)` returns the sealed
/// bytes ready so far (the header first), `final()` the last segment. The concatenation of
/// every output is one envelope, byte-compatible with `seal`. Without `final()` the output is
/// refused by every opener as truncated. `createSealStream` wraps this in a
/// `stream.Transform`.
#[napi]
pub struct EnvelopeSealer {
    state: Arc<Mutex<SealerState>>,
    busy: Arc<AtomicBool>,
}

impl std::fmt::Debug for EnvelopeSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvelopeSealer(..)")
    }
}

#[napi]
impl EnvelopeSealer {
    /// Start an envelope: a fresh data key is wrapped for every provider now (JavaScript
    /// providers are called before this returns).
    ///
    /// @throws {Error} as `seal` (a `KmsKey` is refused: use `createAsync`).
    #[napi(factory)]
    pub fn create(env: Env, options: SealOptions<'_>) -> Result<Self> {
        let a = seal_args(&env, options).map_err(to_js_error)?;
        refuse_kms(&a.providers, SEALER_KMS).map_err(to_js_error)?;
        throw(with_js_providers(&a.providers, |ps| {
            SealerState::new(&a.context, ps, &a.options)
        }))
        .map(Self::wrap)
    }

    /// Like `create`, as a Promise: the data key is made and wrapped on the libuv thread pool
    /// (the way to seal incrementally for a `KmsKey`; `createSealStream` and `sealFile` use
    /// it). With a JavaScript provider the wrap runs on this thread and the Promise is
    /// already settled. Rejections carry the `code`s of `sealAsync`.
    #[napi(ts_return_type = "Promise<EnvelopeSealer>")]
    pub fn create_async(env: Env, options: SealOptions<'_>) -> AsyncTask<Job<SealerState>> {
        let a = match seal_args(&env, options) {
            Ok(a) => a,
            Err(e) => return Job::failed(e, Causes::default()),
        };
        if let Some(builtins) = all_builtin(&a.providers) {
            let (context, options) = (a.context, a.options);
            return Job::new(move || {
                with_providers(&builtin_refs(&builtins), &RefCell::default(), |ps| {
                    SealerState::new(&context, ps, &options)
                })
            });
        }
        if let Err(e) = refuse_kms_with_js(&a.providers) {
            return Job::failed(e, Causes::default());
        }
        Job::from_result(
            with_js_providers(&a.providers, |ps| {
                SealerState::new(&a.context, ps, &a.options)
            })
            .map(|state| -> Work<SealerState> { Box::new(move || Ok(state)) }),
        )
    }

    /// Seal more plaintext; returns the sealed bytes completed so far (possibly empty).
    #[napi(strict)]
    pub fn update(&self, plaintext: &[u8]) -> Result<Buffer> {
        claim(&self.busy).map_err(to_js_error)?;
        let r = lock(&self.state).update(plaintext);
        self.busy.store(false, Ordering::Release);
        r.map(Buffer::from).map_err(to_js_error)
    }

    /// Like `update`, on the libuv thread pool (`plaintext` is copied). Calls must not
    /// overlap: await each before the next (`ERR_SEALWIRE_INVALID_PARAMETER` otherwise).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn update_async(&self, plaintext: Uint8Array) -> AsyncTask<Job<Vec<u8>>> {
        let data = Zeroizing::new(plaintext.to_vec());
        let state = Arc::clone(&self.state);
        self.start(move || lock(&state).update(&data))
    }

    /// Seal the final segment; returns the remaining sealed bytes. The sealer is then spent.
    #[napi(js_name = "final")]
    pub fn finish(&self) -> Result<Buffer> {
        claim(&self.busy).map_err(to_js_error)?;
        let r = lock(&self.state).finish();
        self.busy.store(false, Ordering::Release);
        r.map(Buffer::from).map_err(to_js_error)
    }

    /// Like `final`, on the libuv thread pool.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn final_async(&self) -> AsyncTask<Job<Vec<u8>>> {
        let state = Arc::clone(&self.state);
        self.start(move || lock(&state).finish())
    }
}

impl EnvelopeSealer {
    fn wrap(state: SealerState) -> Self {
        Self {
            state: Arc::new(Mutex::new(state)),
            busy: Arc::new(AtomicBool::new(false)),
        }
    }

    fn start(
        &self,
        work: impl FnOnce() -> CoreResult<Vec<u8>> + Send + 'static,
    ) -> AsyncTask<Job<Vec<u8>>> {
        if let Err(e) = claim(&self.busy) {
            return Job::failed(e, Causes::default());
        }
        AsyncTask::new(Job {
            work: Some(Box::new(work)),
            early: None,
            busy: Some(Arc::clone(&self.busy)),
        })
    }
}

/// Input not yet consumed by the envelope reader.
#[derive(Default)]
struct Inbox {
    data: Vec<u8>,
    pos: usize,
}

impl Inbox {
    fn available(&self) -> usize {
        self.data.len() - self.pos
    }
    fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos >= self.data.len() / 2 {
            self.data.drain(..self.pos);
            self.pos = 0;
        }
        self.data.extend_from_slice(bytes);
    }
}

#[derive(Clone, Default)]
struct SharedSource(Arc<Mutex<Inbox>>);

impl Read for SharedSource {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut inbox = lock(&self.0);
        let start = inbox.pos;
        let n = inbox.available().min(out.len());
        out[..n].copy_from_slice(&inbox.data[start..start + n]);
        inbox.pos += n;
        Ok(n)
    }
}

/// The state of an `EnvelopeOpener` (`Send`: made on the thread pool by `createAsync`).
pub struct OpenerState {
    reader: Option<EnvelopeReader<SharedSource>>,
    source: SharedSource,
    header: sealwire::envelope::EnvelopeHeader,
}

impl std::fmt::Debug for OpenerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenerState(..)")
    }
}

/// `initial` must hold the whole header (checked before any provider is called).
fn check_initial(initial: &[u8]) -> CoreResult<usize> {
    let len = sealwire::envelope::header_len(initial)?;
    if initial.len() < len {
        return Err(CoreError::Truncated("envelope header"));
    }
    Ok(len)
}

impl OpenerState {
    /// Authenticate the header at the start of `initial` (`len` bytes, from
    /// [`check_initial`]) and buffer the payload bytes after it.
    fn new(
        initial: &[u8],
        len: usize,
        context: &EncryptionContext,
        providers: &[&dyn KeyProvider],
    ) -> CoreResult<Self> {
        let source = SharedSource::default();
        lock(&source.0).push(&initial[..len]);
        let reader = EnvelopeReader::new(source.clone(), context, providers)?;
        lock(&source.0).push(&initial[len..]);
        let header = reader.header().clone();
        Ok(Self {
            reader: Some(reader),
            source,
            header,
        })
    }

    fn fail<T>(&mut self, e: CoreError) -> CoreResult<T> {
        self.reader = None;
        Err(e)
    }

    /// Decrypt every complete non-final segment buffered so far. A segment is read only once
    /// `segment_size + 16` bytes are buffered, so the reader never mistakes a pause in the
    /// input for its end.
    fn drain(&mut self, out: &mut Vec<u8>) -> CoreResult<()> {
        let seg = self.header.segment_size() as usize;
        let full = seg + 16;
        let Some(reader) = self.reader.as_mut() else {
            return Err(invalid(OPENER_DONE));
        };
        while lock(&self.source.0).available() >= full {
            let start = out.len();
            out.resize(start + seg, 0);
            match reader.read_plaintext(&mut out[start..]) {
                Ok(n) => out.truncate(start + n),
                Err(e) => {
                    out.zeroize();
                    return self.fail(e);
                }
            }
        }
        Ok(())
    }

    fn update(&mut self, chunk: &[u8]) -> CoreResult<Vec<u8>> {
        if self.reader.is_none() {
            return Err(invalid(OPENER_DONE));
        }
        lock(&self.source.0).push(chunk);
        let mut out = Vec::new();
        self.drain(&mut out)?;
        Ok(out)
    }

    fn finish(&mut self) -> CoreResult<Vec<u8>> {
        let mut out = Vec::new();
        self.drain(&mut out)?;
        let Some(mut reader) = self.reader.take() else {
            return Err(invalid(OPENER_DONE));
        };
        // Everything left is the final segment (shorter than a full one), or a truncation.
        match read_to_end(&mut reader, 0) {
            Ok(last) => {
                out.extend_from_slice(&last);
                Ok(out)
            }
            Err(e) => {
                out.zeroize();
                Err(e)
            }
        }
    }
}

/// Incremental opening (constant memory: one segment): created from the complete header,
/// which is authenticated at once (context, unwrap, key commitment, header tag); then
/// `update(sealed)` returns the plaintext of every segment that verified so far and `final()`
/// verifies the final segment. Only verified plaintext is ever returned; a stream that ends
/// early fails in `final()` with `ERR_SEALWIRE_TRUNCATED`; errors are final.
/// `createUnsealStream` wraps this in a `stream.Transform`.
#[napi]
pub struct EnvelopeOpener {
    state: Arc<Mutex<OpenerState>>,
    busy: Arc<AtomicBool>,
}

impl std::fmt::Debug for EnvelopeOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvelopeOpener(..)")
    }
}

#[napi]
impl EnvelopeOpener {
    /// Authenticate the header at the start of `initial` (its length is given by
    /// `EnvelopeHeader.headerLength`). Bytes after the header are the start of the payload:
    /// they are buffered, and their plaintext comes out of the next `update` or `final`.
    ///
    /// @throws {Error} as `unseal` for the header (`ERR_SEALWIRE_TRUNCATED` if `initial`
    /// does not hold the whole header); a `KmsKey` is refused (use `createAsync`).
    #[napi(factory, strict)]
    pub fn create(env: Env, initial: &[u8], options: OpenOptions<'_>) -> Result<Self> {
        let a = open_args(&env, options).map_err(to_js_error)?;
        let len = check_initial(initial).map_err(to_js_error)?;
        refuse_kms(&a.providers, OPENER_KMS).map_err(to_js_error)?;
        throw(with_js_providers(&a.providers, |ps| {
            OpenerState::new(initial, len, &a.context, ps)
        }))
        .map(Self::wrap)
    }

    /// Like `create`, as a Promise: the header is authenticated on the libuv thread pool (the
    /// way to open incrementally with a `KmsKey`; `createUnsealStream` and `unsealFile` use
    /// it). `initial` is copied. With a JavaScript provider the unwrap runs on this thread and
    /// the Promise is already settled. Rejections carry the `code`s of `unsealAsync`.
    #[napi(ts_return_type = "Promise<EnvelopeOpener>")]
    pub fn create_async(
        env: Env,
        initial: Uint8Array,
        options: OpenOptions<'_>,
    ) -> AsyncTask<Job<OpenerState>> {
        let initial = initial.to_vec();
        let a = match open_args(&env, options) {
            Ok(a) => a,
            Err(e) => return Job::failed(e, Causes::default()),
        };
        let len = match check_initial(&initial) {
            Ok(len) => len,
            Err(e) => return Job::failed(e, Causes::default()),
        };
        if let Some(builtins) = all_builtin(&a.providers) {
            let context = a.context;
            return Job::new(move || {
                with_providers(&builtin_refs(&builtins), &RefCell::default(), |ps| {
                    OpenerState::new(&initial, len, &context, ps)
                })
            });
        }
        if let Err(e) = refuse_kms_with_js(&a.providers) {
            return Job::failed(e, Causes::default());
        }
        Job::from_result(
            with_js_providers(&a.providers, |ps| {
                OpenerState::new(&initial, len, &a.context, ps)
            })
            .map(|state| -> Work<OpenerState> { Box::new(move || Ok(state)) }),
        )
    }

    /// The authenticated header.
    #[napi(getter)]
    pub fn header(&self) -> EnvelopeHeader {
        EnvelopeHeader {
            inner: lock(&self.state).header.clone(),
        }
    }

    /// Feed sealed bytes; returns the plaintext of the segments that completed and verified
    /// (possibly empty).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_DECRYPTION_FAILED` for a modified, reordered or
    /// duplicated segment.
    #[napi(strict)]
    pub fn update(&self, sealed: &[u8]) -> Result<Buffer> {
        claim(&self.busy).map_err(to_js_error)?;
        let r = lock(&self.state).update(sealed);
        self.busy.store(false, Ordering::Release);
        r.map(Buffer::from).map_err(to_js_error)
    }

    /// Like `update`, on the libuv thread pool (`sealed` is copied). Calls must not overlap.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn update_async(&self, sealed: Uint8Array) -> AsyncTask<Job<Vec<u8>>> {
        let data = sealed.to_vec();
        let state = Arc::clone(&self.state);
        self.start(move || lock(&state).update(&data))
    }

    /// Verify the final segment at the end of the input; returns its plaintext.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_TRUNCATED` if the input ended before the final
    /// segment, `ERR_SEALWIRE_DECRYPTION_FAILED` if it was modified or data was appended.
    #[napi(js_name = "final")]
    pub fn finish(&self) -> Result<Buffer> {
        claim(&self.busy).map_err(to_js_error)?;
        let r = lock(&self.state).finish();
        self.busy.store(false, Ordering::Release);
        r.map(Buffer::from).map_err(to_js_error)
    }

    /// Like `final`, on the libuv thread pool.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn final_async(&self) -> AsyncTask<Job<Vec<u8>>> {
        let state = Arc::clone(&self.state);
        self.start(move || lock(&state).finish())
    }
}

impl EnvelopeOpener {
    fn wrap(state: OpenerState) -> Self {
        Self {
            state: Arc::new(Mutex::new(state)),
            busy: Arc::new(AtomicBool::new(false)),
        }
    }

    fn start(
        &self,
        work: impl FnOnce() -> CoreResult<Vec<u8>> + Send + 'static,
    ) -> AsyncTask<Job<Vec<u8>>> {
        if let Err(e) = claim(&self.busy) {
            return Job::failed(e, Causes::default());
        }
        AsyncTask::new(Job {
            work: Some(Box::new(work)),
            early: None,
            busy: Some(Arc::clone(&self.busy)),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Keyring
// ---------------------------------------------------------------------------------------------

/// How a keyring file is protected: exactly one of `passphrase` (Argon2id, cost `kdf`) or
/// `rootKey`.
#[napi(object, object_to_js = false)]
pub struct KeyringProtection<'a> {
    /// A passphrase (a string is encoded as UTF-8).
    pub passphrase: Option<Either<String, Uint8Array>>,
    /// A 32-byte root key (e.g. `RootKey.fromEnv()`).
    pub root_key: Option<ClassInstance<'a, RootKey>>,
    /// Argon2id cost for `save` with a passphrase (default 64 MiB, 3 passes, 4 lanes). Ignored
    /// when loading (the file names its parameters).
    pub kdf: Option<KdfOptions>,
}

impl std::fmt::Debug for KeyringProtection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyringProtection(..)")
    }
}

/// `KeyringProtection` detached from JS (`Send`).
enum Protection {
    Passphrase(Zeroizing<Vec<u8>>, Option<KdfOptions>),
    RootKey(Arc<sealwire::envelope::RootKey>),
}

fn protection(p: KeyringProtection<'_>) -> CoreResult<Protection> {
    match (p.passphrase, p.root_key) {
        (Some(Either::A(text)), None) => Ok(Protection::Passphrase(
            passphrase_bytes(Either::A(text)),
            p.kdf,
        )),
        (Some(Either::B(bytes)), None) => Ok(Protection::Passphrase(
            passphrase_bytes(Either::B(&bytes)),
            p.kdf,
        )),
        (None, Some(root)) => Ok(Protection::RootKey(Arc::clone(&root.inner))),
        _ => Err(invalid("give exactly one of passphrase and rootKey")),
    }
}

fn save_keyring(ring: &SharedKeyring, path: &std::path::Path, p: &Protection) -> CoreResult<()> {
    let mut k = write_ring(ring)?;
    match p {
        Protection::Passphrase(pass, kdf) => k.save_with_passphrase(path, pass, kdf_params(*kdf)?),
        Protection::RootKey(root) => k.save_with_root_key(path, root),
    }
}

fn load_keyring(path: &std::path::Path, p: &Protection) -> CoreResult<sealwire::envelope::Keyring> {
    match p {
        Protection::Passphrase(pass, _) => {
            sealwire::envelope::Keyring::load_with_passphrase(path, pass)
        }
        Protection::RootKey(root) => sealwire::envelope::Keyring::load_with_root_key(path, root),
    }
}

/// Options of `Keyring.rotate`.
#[napi(object)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RotateOptions {
    /// Unix time (seconds) after which the retired version refuses to unwrap
    /// (`ERR_SEALWIRE_KEY_RETIRED`). Default: no cutoff.
    pub old_decrypt_until: Option<f64>,
}

/// One version of a keyring key (never the key material).
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone)]
pub struct KeyVersionInfo {
    /// Version number (≥ 1).
    pub version: u32,
    /// Whether this version wraps new data keys.
    pub primary: bool,
    /// Creation time, Unix seconds.
    pub created_at: f64,
    /// When it stopped being primary, Unix seconds (absent while primary).
    pub retired_at: Option<f64>,
    /// Unix time after which it refuses to unwrap (absent: no cutoff).
    pub decrypt_until: Option<f64>,
}

/// A local keyring: named, versioned key-encryption keys (KEKs) that wrap envelope data keys.
/// As a key provider it wraps under its default key (the first key created, or
/// `setDefaultKey`) and unwraps entries of any of its keys; `keyring.key(id)` is a provider
/// for one key. Rotation adds a version and retires the previous one (optionally with a
/// decryption cutoff); `rewrap` with `rewrapWith: [keyring]` moves objects to the primary
/// version. Saved to a file sealed under a passphrase (Argon2id) or a 32-byte root key, with
/// atomic writes (mode 0600).
///
/// Key material never leaves the native object. The keyring is shared with its `KeyringKey`s
/// and with in-flight async work: a change (rotate, …) waits for the operations in progress
/// that use it, and every use waits while a `save` / `saveAsync` seals it (Argon2id with a
/// passphrase: tens to hundreds of milliseconds).
#[napi]
pub struct Keyring {
    inner: SharedKeyring,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

impl Keyring {
    fn wrap(inner: sealwire::envelope::Keyring) -> Self {
        Self {
            inner: Arc::new(RwLock::new(inner)),
        }
    }
    fn read<T>(&self, f: impl FnOnce(&sealwire::envelope::Keyring) -> CoreResult<T>) -> Result<T> {
        read_ring(&self.inner)
            .and_then(|k| f(&k))
            .map_err(to_js_error)
    }
    fn write<T>(
        &self,
        f: impl FnOnce(&mut sealwire::envelope::Keyring) -> CoreResult<T>,
    ) -> Result<T> {
        write_ring(&self.inner)
            .and_then(|mut k| f(&mut k))
            .map_err(to_js_error)
    }
}

#[napi]
impl Keyring {
    /// An empty keyring (same as `Keyring.create()`).
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::wrap(sealwire::envelope::Keyring::new())
    }

    /// An empty keyring.
    #[napi(factory)]
    pub fn create() -> Self {
        Self::new()
    }

    /// Create key `id` with a random version 1 as primary; returns 1. The first key created
    /// becomes the default key. Ids: 1–255 bytes of `A-Z a-z 0-9 . _ - : /`.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for a bad or existing id.
    #[napi(strict)]
    pub fn create_key(&self, id: String) -> Result<u32> {
        self.write(|k| {
            if k.key_ids().contains(&id) {
                return Err(invalid(
                    "this key id already exists (use rotate to add a version)",
                ));
            }
            k.create_key(&id)
        })
    }

    /// Rotate key `id`: add a random new version (highest + 1) as primary and retire the
    /// previous primary, which keeps unwrapping until `oldDecryptUntil` (Unix seconds; default
    /// no cutoff). Returns the new version.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_KEY_NOT_FOUND` for an unknown id.
    #[napi(strict)]
    pub fn rotate(&self, id: String, options: Option<RotateOptions>) -> Result<u32> {
        let until = match options.and_then(|o| o.old_decrypt_until) {
            Some(v) => Some(
                to_unix_seconds(
                    v,
                    "oldDecryptUntil must be Unix seconds (a positive integer)",
                )
                .map_err(to_js_error)?,
            ),
            None => None,
        };
        self.write(|k| k.rotate(&id, until))
    }

    /// Set (Unix seconds) or clear (`null`) the cutoff after which a retired version refuses
    /// to unwrap. The primary version cannot have one.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_KEY_NOT_FOUND`, `ERR_SEALWIRE_INVALID_PARAMETER`.
    #[napi(ts_args_type = "id: string, version: number, until: number | null")]
    pub fn set_decrypt_until(&self, id: String, version: f64, until: Option<f64>) -> Result<()> {
        let version = to_u32(version, "version must be an integer").map_err(to_js_error)?;
        let until = match until {
            Some(v) => Some(
                to_unix_seconds(v, "until must be Unix seconds (a positive integer)")
                    .map_err(to_js_error)?,
            ),
            None => None,
        };
        self.write(|k| k.set_decrypt_until(&id, version, until))
    }

    /// Delete a retired version for good (crypto-shredding the objects only it wrapped).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_KEY_NOT_FOUND`, `ERR_SEALWIRE_INVALID_PARAMETER`
    /// (the primary version).
    #[napi(strict)]
    pub fn remove_version(&self, id: String, version: f64) -> Result<()> {
        let version = to_u32(version, "version must be an integer").map_err(to_js_error)?;
        self.write(|k| k.remove_version(&id, version))
    }

    /// The versions of key `id`, ascending.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_KEY_NOT_FOUND`.
    #[napi(strict)]
    pub fn versions(&self, id: String) -> Result<Vec<KeyVersionInfo>> {
        self.read(|k| {
            Ok(k.versions(&id)?
                .into_iter()
                .map(|v| KeyVersionInfo {
                    version: v.version,
                    primary: v.primary,
                    created_at: v.created_at as f64,
                    retired_at: v.retired_at.map(|t| t as f64),
                    decrypt_until: v.decrypt_until.map(|t| t as f64),
                })
                .collect())
        })
    }

    /// The key ids, sorted.
    #[napi(getter)]
    pub fn key_ids(&self) -> Result<Vec<String>> {
        self.read(|k| Ok(k.key_ids()))
    }

    /// The primary version of key `id`.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_KEY_NOT_FOUND`.
    #[napi(strict)]
    pub fn primary_version(&self, id: String) -> Result<u32> {
        self.read(|k| k.primary_version(&id))
    }

    /// The key the keyring wraps under when used as a provider itself (`null` when empty).
    #[napi(getter)]
    pub fn default_key(&self) -> Result<Option<String>> {
        self.read(|k| Ok(k.default_key().map(str::to_owned)))
    }

    /// Choose the default key.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_KEY_NOT_FOUND`.
    #[napi(strict)]
    pub fn set_default_key(&self, id: String) -> Result<()> {
        self.write(|k| k.set_default_key(&id))
    }

    /// How many times the keyring was saved (stored in the file and authenticated: remember
    /// it to detect a rolled-back file).
    #[napi(getter)]
    pub fn generation(&self) -> Result<f64> {
        self.read(|k| Ok(k.generation() as f64))
    }

    /// A key provider for key `id` only: wraps under its primary version, unwraps its
    /// entries (any version still allowed).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_KEY_NOT_FOUND`.
    #[napi(strict)]
    pub fn key(&self, id: String) -> Result<KeyringKey> {
        self.read(|k| k.key(&id).map(|_| ()))?;
        Ok(KeyringKey {
            ring: Arc::clone(&self.inner),
            id,
        })
    }

    /// Seal the keyring under a passphrase or root key and write it atomically to `path`
    /// (mode 0600); bumps `generation`. With a passphrase, Argon2id makes this slow by design:
    /// prefer `saveAsync`.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_IO`, `ERR_SEALWIRE_INVALID_PARAMETER`.
    #[napi]
    pub fn save(&self, path: String, protection: KeyringProtection<'_>) -> Result<()> {
        let p = self::protection(protection).map_err(to_js_error)?;
        save_keyring(&self.inner, std::path::Path::new(&path), &p).map_err(to_js_error)
    }

    /// Like `save`, on the libuv thread pool.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn save_async(
        &self,
        path: String,
        protection: KeyringProtection<'_>,
    ) -> AsyncTask<Job<()>> {
        let p = match self::protection(protection) {
            Ok(p) => p,
            Err(e) => return Job::failed(e, Causes::default()),
        };
        let ring = Arc::clone(&self.inner);
        let path = PathBuf::from(path);
        Job::new(move || save_keyring(&ring, &path, &p))
    }

    /// Read and open a keyring file written by `save` (by any sealwire binding or the CLI).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_IO` (cannot read), `ERR_SEALWIRE_DECRYPTION_FAILED`
    /// (wrong passphrase or root key, or a modified file), `ERR_SEALWIRE_INVALID_PARAMETER`
    /// (passphrase given for a root-key file or the reverse), decode codes for a malformed file.
    #[napi(factory)]
    pub fn load(path: String, protection: KeyringProtection<'_>) -> Result<Self> {
        let p = self::protection(protection).map_err(to_js_error)?;
        load_keyring(std::path::Path::new(&path), &p)
            .map(Self::wrap)
            .map_err(to_js_error)
    }

    /// Like `load`, on the libuv thread pool.
    #[napi(ts_return_type = "Promise<Keyring>")]
    pub fn load_async(
        path: String,
        protection: KeyringProtection<'_>,
    ) -> AsyncTask<Job<sealwire::envelope::Keyring>> {
        let p = match self::protection(protection) {
            Ok(p) => p,
            Err(e) => return Job::failed(e, Causes::default()),
        };
        let path = PathBuf::from(path);
        Job::new(move || load_keyring(&path, &p))
    }

    /// FOR TESTS: use a fixed clock (Unix seconds) for creation and retirement times and for
    /// cutoff checks; `null` returns to the system clock.
    #[napi(js_name = "_setTime", ts_args_type = "now: number | null")]
    pub fn set_time(&self, now: Option<f64>) -> Result<()> {
        let now = match now {
            Some(v) => Some(
                to_unix_seconds(v, "now must be Unix seconds (a positive integer)")
                    .map_err(to_js_error)?,
            ),
            None => None,
        };
        self.write(|k| {
            k.set_time(now);
            Ok(())
        })
    }
}

/// One key of a `Keyring` as a key provider (from `keyring.key(id)`): wraps under the key's
/// current primary version (rotation is seen at once), unwraps that key's entries.
#[napi]
pub struct KeyringKey {
    ring: SharedKeyring,
    id: String,
}

impl std::fmt::Debug for KeyringKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyringKey(..)")
    }
}

#[napi]
impl KeyringKey {
    /// The key id.
    #[napi(getter)]
    pub fn key_id(&self) -> String {
        self.id.clone()
    }

    /// The primary version (the one new wraps use).
    #[napi(getter)]
    pub fn key_version(&self) -> Result<u32> {
        read_ring(&self.ring)
            .and_then(|k| k.primary_version(&self.id))
            .map_err(to_js_error)
    }
}

/// A 32-byte key that protects a keyring file instead of a passphrase (for servers: keep it
/// in a secret store and pass it through `SEALWIRE_KEYRING_ROOT_KEY`). Zeroized when
/// garbage-collected.
#[napi]
pub struct RootKey {
    pub(crate) inner: Arc<sealwire::envelope::RootKey>,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(..)")
    }
}

#[napi]
impl RootKey {
    /// A fresh random root key.
    #[napi(factory)]
    pub fn generate() -> Result<Self> {
        sealwire::envelope::RootKey::generate()
            .map(|k| Self { inner: Arc::new(k) })
            .map_err(to_js_error)
    }

    /// From an environment variable holding 64 hex digits (default
    /// `SEALWIRE_KEYRING_ROOT_KEY`).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_KEY_NOT_FOUND` (unset),
    /// `ERR_SEALWIRE_INVALID_ENCODING`.
    #[napi(factory, strict)]
    pub fn from_env(name: Option<String>) -> Result<Self> {
        let name = name.as_deref().unwrap_or(sealwire::envelope::ROOT_KEY_ENV);
        sealwire::envelope::RootKey::from_env_var(name)
            .map(|k| Self { inner: Arc::new(k) })
            .map_err(to_js_error)
    }

    /// From 64 hex digits.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_ENCODING`.
    #[napi(factory, strict)]
    pub fn from_hex(hex: String) -> Result<Self> {
        let hex = Zeroizing::new(hex);
        sealwire::envelope::RootKey::from_hex(&hex)
            .map(|k| Self { inner: Arc::new(k) })
            .map_err(to_js_error)
    }

    /// From 32 raw bytes.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_LENGTH`.
    #[napi(factory, strict)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        sealwire::envelope::RootKey::from_bytes(bytes)
            .map(|k| Self { inner: Arc::new(k) })
            .map_err(to_js_error)
    }

    /// The key as 64 lowercase hex digits: an explicit export of the secret (JS strings
    /// cannot be wiped).
    #[napi]
    pub fn to_hex(&self) -> String {
        self.inner.to_hex().to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// X-Wing recipients
// ---------------------------------------------------------------------------------------------

/// An X-Wing (ML-KEM-768 + X25519) public key: a post-quantum hybrid envelope recipient
/// (HPKE KEM 0x647A). Encoded form: `"SWXP" ‖ 0x01 ‖ 1216-byte raw key`.
#[napi]
pub struct XWingPublicKey {
    inner: sealwire::envelope::XWingPublicKey,
}

impl std::fmt::Debug for XWingPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XWingPublicKey(..)")
    }
}

#[napi]
impl XWingPublicKey {
    /// Decode the `SWXP` encoding (strict; the ML-KEM key is checked as FIPS 203 requires).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_BAD_MAGIC`, `ERR_SEALWIRE_UNSUPPORTED_VERSION`,
    /// `ERR_SEALWIRE_TRUNCATED`, `ERR_SEALWIRE_TRAILING_BYTES`, `ERR_SEALWIRE_INVALID_PUBLIC_KEY`.
    #[napi(factory, strict)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        sealwire::envelope::XWingPublicKey::from_bytes(bytes)
            .map(|inner| Self { inner })
            .map_err(to_js_error)
    }

    /// From the raw 1216-byte key (ML-KEM-768 encapsulation key ‖ X25519 key).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_LENGTH`, `ERR_SEALWIRE_INVALID_PUBLIC_KEY`.
    #[napi(factory, strict)]
    pub fn from_raw_bytes(raw: &[u8]) -> Result<Self> {
        sealwire::envelope::XWingPublicKey::from_raw_bytes(raw)
            .map(|inner| Self { inner })
            .map_err(to_js_error)
    }

    /// The `SWXP` encoding.
    #[napi]
    pub fn to_bytes(&self) -> Buffer {
        Buffer::from(self.inner.to_bytes())
    }

    /// The raw 1216-byte key.
    #[napi]
    pub fn raw_bytes(&self) -> Buffer {
        Buffer::from(self.inner.raw_bytes().to_vec())
    }

    /// The recipient key id naming this key in envelope entries (32 lowercase hex digits).
    #[napi(getter)]
    pub fn key_id(&self) -> String {
        self.inner.key_id()
    }

    /// Whether `other` is the same key.
    #[napi(strict)]
    pub fn equals(&self, other: &XWingPublicKey) -> bool {
        self.inner == other.inner
    }
}

/// An agent's X-Wing key pair: opens envelopes wrapped to its `publicKey`. The private key is
/// a 32-byte seed kept inside the native object (zeroized when garbage-collected).
#[napi]
pub struct XWingKeyPair {
    inner: Arc<sealwire::envelope::XWingKeyPair>,
}

impl std::fmt::Debug for XWingKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XWingKeyPair(..)")
    }
}

#[napi]
impl XWingKeyPair {
    /// A new key pair from the OS CSPRNG.
    #[napi(factory)]
    pub fn generate() -> Result<Self> {
        sealwire::envelope::XWingKeyPair::generate()
            .map(|k| Self { inner: Arc::new(k) })
            .map_err(to_js_error)
    }

    /// The key pair of a 32-byte X-Wing seed (the X-Wing private key format).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_LENGTH`.
    #[napi(factory, strict)]
    pub fn from_seed(seed: &[u8]) -> Result<Self> {
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(seed.try_into().map_err(|_| {
            to_js_error(CoreError::InvalidLength {
                what: "X-Wing seed",
                expected: 32,
                actual: seed.len(),
            })
        })?);
        sealwire::envelope::XWingKeyPair::from_seed(&seed)
            .map(|k| Self { inner: Arc::new(k) })
            .map_err(to_js_error)
    }

    /// The 32-byte private seed: an explicit export of the secret key. Keep it encrypted.
    #[napi]
    pub fn export_seed(&self) -> Buffer {
        Buffer::from(self.inner.seed().to_vec())
    }

    /// The public key to hand to senders.
    #[napi(getter)]
    pub fn public_key(&self) -> XWingPublicKey {
        XWingPublicKey {
            inner: self.inner.public_key().clone(),
        }
    }

    /// The recipient key id of the public key (32 lowercase hex digits).
    #[napi(getter)]
    pub fn key_id(&self) -> String {
        self.inner.key_id()
    }
}
