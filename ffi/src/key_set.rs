//! `sealwire_key_set`: the key providers an envelope is sealed to or opened with (keyring,
//! keyring key, X25519 and X-Wing recipients and their private halves, remote KMS keys, C
//! callbacks).

use core::ffi::{c_char, c_void};
use std::sync::Arc;

use sealwire_core::envelope::kms::RemoteKey;
use sealwire_core::envelope::{
    DataKey, KeyProvider, Keyring, WrapContext, WrappedKey, XWingKeyPair, XWingPublicKey, DATA_KEY_LEN, KEYRING_PROVIDER,
};
use sealwire_core::{Error, Identity, PublicIdentity};
use zeroize::Zeroizing;

use crate::envelope::{sealwire_envelope_suite, SEALWIRE_ENVELOPE_MAX_WRAPPED_KEY_LEN};
use crate::envelope_context::sealwire_context;
use crate::identity::sealwire_identity;
use crate::keyring::{sealwire_keyring, SharedKeyring};
use crate::kms::sealwire_kms_key;
use crate::panic::{guard, guard_result};
use crate::ptr::{char_buf, free_handle, try_mut, try_ref, try_str, write_handle, Out, OutBuf};
use crate::public::sealwire_public_identity;
use crate::result::{sealwire_result, FfiResult};
use crate::xwing::{sealwire_xwing_keypair, sealwire_xwing_public_key};

/// What a key-provider callback learns about the envelope a data key is (un)wrapped for.
/// Every pointer is valid only during the callback.
#[repr(C)]
#[derive(Debug)]
pub struct sealwire_wrap_info {
    /// The bytes the wrapped key must be bound to (as AEAD associated data, or as an extra
    /// KMS encryption-context entry), so that a wrapped key copied into another envelope no
    /// longer unwraps. Always non-NULL.
    pub aad: *const u8,
    /// Length of `aad`.
    pub aad_len: usize,
    /// The envelope's message id, SEALWIRE_ENVELOPE_MESSAGE_ID_LEN bytes.
    pub message_id: *const u8,
    /// The envelope's payload suite (SEALWIRE_ENVELOPE_SUITE_*).
    pub suite: sealwire_envelope_suite,
    /// The envelope's encryption context (borrowed: read it with the `sealwire_context_*`
    /// getters, never free it or keep it).
    pub context: *const sealwire_context,
}

/// Wrap callback: wrap the `dek_len`-byte data key `dek` (SEALWIRE_ENVELOPE_DATA_KEY_LEN)
/// under the provider's key, binding it to `info->aad`; write the wrapped bytes (1 ..=
/// `out_len` = SEALWIRE_ENVELOPE_MAX_WRAPPED_KEY_LEN) to `out` and their number to
/// `*written`. Return SEALWIRE_OK, or an error code (see `sealwire_kek_callbacks`).
pub type sealwire_kek_wrap_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        info: *const sealwire_wrap_info,
        dek: *const u8,
        dek_len: usize,
        out: *mut u8,
        out_len: usize,
        written: *mut usize,
    ) -> u32,
>;

/// Unwrap callback: unwrap the `wrapped_len` bytes `wrapped` (made by the wrap callback under
/// key version `key_version`) checking `info->aad`, and write the data key to `dek_out`
/// (exactly `dek_len` = SEALWIRE_ENVELOPE_DATA_KEY_LEN bytes). Return SEALWIRE_OK, or an error
/// code (see `sealwire_kek_callbacks`).
pub type sealwire_kek_unwrap_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        info: *const sealwire_wrap_info,
        key_version: u32,
        wrapped: *const u8,
        wrapped_len: usize,
        dek_out: *mut u8,
        dek_len: usize,
    ) -> u32,
>;

/// Release callback: called once with `user_data` when the provider is no longer referenced
/// (the key set and every reader made from it are freed).
pub type sealwire_kek_release_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A key-encryption key implemented in C (an HSM, a KMS client, a test double), added to a
/// key set with `sealwire_key_set_add_callbacks()`.
///
/// `wrap` and `unwrap` are required; `release` and `user_data` may be NULL. The callbacks
/// return SEALWIRE_OK (0) or one of: SEALWIRE_HEADER_AUTH_FAILED (the wrapped key does not
/// authenticate: modified, or bound to another envelope; SEALWIRE_DECRYPTION_FAILED means the
/// same), SEALWIRE_CONTEXT_MISMATCH (a KMS refused the wrapped key under this envelope's
/// binding), SEALWIRE_KEY_NOT_FOUND, SEALWIRE_KEY_RETIRED, SEALWIRE_NO_MATCHING_KEY,
/// SEALWIRE_IO, SEALWIRE_RANDOMNESS, SEALWIRE_PROVIDER_FAILED, or a KMS outcome
/// (SEALWIRE_KMS_AUTH_FAILED, _KEY_NOT_FOUND, _KEY_DISABLED, _UNAVAILABLE, _TIMEOUT,
/// _THROTTLED); any other value is reported as SEALWIRE_PROVIDER_FAILED. Outputs are read only
/// after SEALWIRE_OK.
///
/// Rules: callbacks must return normally (no C++ exception, no longjmp out of them); they
/// must not free or modify the key set, reader or rewrap they are called from; they run on
/// the thread that made the sealwire call, and if a key set (or readers made from it) is used
/// from several threads at once they may run concurrently, so `user_data` must then be
/// thread-safe. `user_data` is kept (the one caller pointer this library keeps) until
/// `release` is called.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealwire_kek_callbacks {
    /// Passed unchanged to every callback.
    pub user_data: *mut c_void,
    /// Wraps a data key (required).
    pub wrap: sealwire_kek_wrap_fn,
    /// Unwraps a data key (required).
    pub unwrap: sealwire_kek_unwrap_fn,
    /// Releases `user_data` (optional, may be NULL).
    pub release: sealwire_kek_release_fn,
}

type WrapFn = unsafe extern "C" fn(*mut c_void, *const sealwire_wrap_info, *const u8, usize, *mut u8, usize, *mut usize) -> u32;
type UnwrapFn = unsafe extern "C" fn(*mut c_void, *const sealwire_wrap_info, u32, *const u8, usize, *mut u8, usize) -> u32;

/// A provider implemented by C callbacks.
pub(crate) struct CallbackProvider {
    provider_id: String,
    key_id: String,
    key_version: u32,
    user_data: *mut c_void,
    wrap: WrapFn,
    unwrap: UnwrapFn,
    release: sealwire_kek_release_fn,
}

impl core::fmt::Debug for CallbackProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CallbackProvider")
            .field("provider_id", &self.provider_id)
            .field("key_id", &self.key_id)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

// SAFETY: the provider holds C function pointers and an opaque `user_data` pointer that this
// library never dereferences. The C caller promises (documented on `sealwire_kek_callbacks`)
// that the callbacks and `user_data` may be used from whichever thread calls into the
// library, concurrently if it shares the key set between threads.
unsafe impl Send for CallbackProvider {}
// SAFETY: as above; `&CallbackProvider` only reads immutable fields and calls the callbacks.
unsafe impl Sync for CallbackProvider {}

impl Drop for CallbackProvider {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: `release` and `user_data` come from the caller, who asked for exactly
            // this call once the provider is no longer referenced (this drop).
            unsafe { release(self.user_data) }
        }
    }
}

/// What a callback's result code means to core.
fn callback_error(rc: u32) -> Option<Error> {
    use sealwire_result as R;
    if rc == R::OK as u32 {
        return None;
    }
    Some(match rc {
        x if x == R::HEADER_AUTH_FAILED as u32 || x == R::DECRYPTION_FAILED as u32 => Error::HeaderAuthFailed,
        x if x == R::KEY_NOT_FOUND as u32 => Error::KeyNotFound("the key provider callback does not know the key"),
        x if x == R::KEY_RETIRED as u32 => Error::KeyRetired,
        x if x == R::NO_MATCHING_KEY as u32 => Error::NoMatchingKey,
        x if x == R::IO as u32 => Error::Io(std::io::ErrorKind::Other),
        x if x == R::RANDOMNESS as u32 => Error::Randomness,
        // A KMS client written in C reports KMS outcomes with the same codes as the built-in
        // providers.
        x if x == R::KMS_AUTH_FAILED as u32 => Error::KmsAuthFailed("the key provider callback's KMS refused the credentials"),
        x if x == R::KMS_KEY_NOT_FOUND as u32 => Error::KmsKeyNotFound,
        x if x == R::KMS_KEY_DISABLED as u32 => Error::KmsKeyDisabled,
        x if x == R::KMS_UNAVAILABLE as u32 => Error::KmsUnavailable("the key provider callback's KMS is unavailable"),
        x if x == R::KMS_TIMEOUT as u32 => Error::KmsTimeout,
        x if x == R::KMS_THROTTLED as u32 => Error::KmsThrottled,
        x if x == R::CONTEXT_MISMATCH as u32 => Error::ContextMismatch,
        _ => Error::ProviderFailed("key provider callback failed"),
    })
}

impl CallbackProvider {
    /// Run `f` with a `sealwire_wrap_info` describing `ctx` (valid only inside `f`).
    fn with_info<R>(ctx: &WrapContext<'_>, f: impl FnOnce(&sealwire_wrap_info) -> R) -> R {
        let context = sealwire_context { inner: ctx.encryption_context().clone() };
        let info = sealwire_wrap_info {
            aad: ctx.aad().as_ptr(),
            aad_len: ctx.aad().len(),
            message_id: ctx.message_id().as_ptr(),
            suite: sealwire_envelope_suite::from(ctx.suite().id()),
            context: &context,
        };
        f(&info)
    }

    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> sealwire_core::Result<WrappedKey> {
        let mut out = vec![0u8; SEALWIRE_ENVELOPE_MAX_WRAPPED_KEY_LEN];
        let mut written = 0usize;
        let rc = Self::with_info(ctx, |info| {
            // SAFETY: a caller-supplied callback (contract on `sealwire_kek_callbacks`); every
            // pointer passed is valid for the call: `info` and what it points to live until
            // `with_info` returns, `dek` is DATA_KEY_LEN bytes, `out` is writable for
            // `out.len()` bytes, `written` is a local.
            unsafe {
                (self.wrap)(
                    self.user_data,
                    info,
                    dek.as_bytes().as_ptr(),
                    DATA_KEY_LEN,
                    out.as_mut_ptr(),
                    out.len(),
                    &mut written,
                )
            }
        });
        if let Some(e) = callback_error(rc) {
            return Err(e);
        }
        if written == 0 || written > out.len() {
            return Err(Error::ProviderFailed("key provider callback wrote an invalid wrapped-key length"));
        }
        out.truncate(written);
        WrappedKey::new(&self.provider_id, &self.key_id, self.key_version, out)
    }

    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> sealwire_core::Result<DataKey> {
        let mut dek = Zeroizing::new([0u8; DATA_KEY_LEN]);
        let wrapped = entry.wrapped();
        let rc = Self::with_info(ctx, |info| {
            // SAFETY: a caller-supplied callback (contract on `sealwire_kek_callbacks`); `info`
            // is valid for the call, `wrapped` readable for its length, `dek` writable for
            // DATA_KEY_LEN bytes.
            unsafe {
                (self.unwrap)(
                    self.user_data,
                    info,
                    entry.key_version(),
                    wrapped.as_ptr(),
                    wrapped.len(),
                    dek.as_mut_ptr(),
                    DATA_KEY_LEN,
                )
            }
        });
        if let Some(e) = callback_error(rc) {
            return Err(e);
        }
        DataKey::from_bytes(dek.as_ref())
    }
}

/// One provider of a key set. Cloning shares the underlying keys (`Arc`), never copies them.
#[derive(Debug, Clone)]
pub(crate) enum Provider {
    /// The whole keyring: wraps under its default key, unwraps any of its keys.
    Keyring(SharedKeyring),
    /// One key of a keyring.
    KeyringKey(SharedKeyring, String),
    /// X25519 recipient (wrap only).
    Recipient(Arc<PublicIdentity>),
    /// X25519 identity (unwraps its entries; wraps to itself).
    Identity(Arc<Identity>),
    /// X-Wing recipient (wrap only).
    XWingRecipient(XWingPublicKey),
    /// X-Wing key pair (unwraps its entries; wraps to itself).
    XWingKeyPair(Arc<XWingKeyPair>),
    /// Remote KMS key (Vault Transit, AWS KMS), shared with its `sealwire_kms_key` handle.
    Kms(Arc<RemoteKey>),
    /// C callbacks.
    Callbacks(Arc<CallbackProvider>),
}

fn lock(ring: &SharedKeyring) -> sealwire_core::Result<std::sync::RwLockReadGuard<'_, Keyring>> {
    ring.read().map_err(|_| Error::ProviderFailed("keyring poisoned by an earlier panic"))
}

/// Each keyring access takes the keyring's read lock for the duration of that one call.
impl KeyProvider for Provider {
    fn provider_id(&self) -> &str {
        match self {
            Provider::Keyring(_) | Provider::KeyringKey(..) => KEYRING_PROVIDER,
            Provider::Recipient(p) => p.provider_id(),
            Provider::Identity(i) => i.provider_id(),
            Provider::XWingRecipient(x) => x.provider_id(),
            Provider::XWingKeyPair(k) => k.provider_id(),
            Provider::Kms(k) => k.provider_id(),
            Provider::Callbacks(c) => &c.provider_id,
        }
    }

    fn key_id(&self) -> String {
        match self {
            Provider::Keyring(r) => lock(r).map(|g| g.key_id()).unwrap_or_default(),
            Provider::KeyringKey(_, id) => id.clone(),
            Provider::Recipient(p) => p.key_id(),
            Provider::Identity(i) => i.key_id(),
            Provider::XWingRecipient(x) => x.key_id(),
            Provider::XWingKeyPair(k) => k.key_id(),
            Provider::Kms(k) => k.key_id(),
            Provider::Callbacks(c) => c.key_id.clone(),
        }
    }

    fn key_version(&self) -> u32 {
        match self {
            Provider::Keyring(r) => lock(r).map(|g| g.key_version()).unwrap_or(0),
            Provider::KeyringKey(r, id) => lock(r).ok().and_then(|g| g.primary_version(id).ok()).unwrap_or(0),
            Provider::Recipient(p) => p.key_version(),
            Provider::Identity(i) => i.key_version(),
            Provider::XWingRecipient(x) => x.key_version(),
            Provider::XWingKeyPair(k) => k.key_version(),
            Provider::Kms(k) => k.key_version(),
            Provider::Callbacks(c) => c.key_version,
        }
    }

    fn owns(&self, entry: &WrappedKey) -> bool {
        match self {
            Provider::Keyring(r) => lock(r).map(|g| g.owns(entry)).unwrap_or(false),
            Provider::KeyringKey(_, id) => entry.provider() == KEYRING_PROVIDER && entry.key_id() == id,
            Provider::Recipient(p) => p.owns(entry),
            Provider::Identity(i) => i.owns(entry),
            Provider::XWingRecipient(x) => x.owns(entry),
            Provider::XWingKeyPair(k) => k.owns(entry),
            Provider::Kms(k) => k.owns(entry),
            Provider::Callbacks(c) => entry.provider() == c.provider_id && entry.key_id() == c.key_id,
        }
    }

    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> sealwire_core::Result<WrappedKey> {
        match self {
            Provider::Keyring(r) => lock(r)?.wrap(dek, ctx),
            Provider::KeyringKey(r, id) => lock(r)?.key(id)?.wrap(dek, ctx),
            Provider::Recipient(p) => p.wrap(dek, ctx),
            Provider::Identity(i) => i.wrap(dek, ctx),
            Provider::XWingRecipient(x) => x.wrap(dek, ctx),
            Provider::XWingKeyPair(k) => k.wrap(dek, ctx),
            Provider::Kms(k) => k.wrap(dek, ctx),
            Provider::Callbacks(c) => c.wrap(dek, ctx),
        }
    }

    /// Forwarded to every provider: a KMS makes the data key itself (Vault `datakey`, AWS
    /// `GenerateDataKey`: one call instead of a local key plus `encrypt`) when it comes first
    /// in the set; the others answer `None` (core's default).
    fn generate_data_key(&self, ctx: &WrapContext<'_>) -> sealwire_core::Result<Option<(DataKey, WrappedKey)>> {
        match self {
            Provider::Keyring(r) => lock(r)?.generate_data_key(ctx),
            Provider::KeyringKey(r, id) => lock(r)?.key(id)?.generate_data_key(ctx),
            Provider::Recipient(p) => p.generate_data_key(ctx),
            Provider::Identity(i) => i.generate_data_key(ctx),
            Provider::XWingRecipient(x) => x.generate_data_key(ctx),
            Provider::XWingKeyPair(k) => k.generate_data_key(ctx),
            Provider::Kms(k) => k.generate_data_key(ctx),
            Provider::Callbacks(_) => Ok(None),
        }
    }

    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> sealwire_core::Result<DataKey> {
        match self {
            Provider::Keyring(r) => lock(r)?.unwrap(entry, ctx),
            Provider::KeyringKey(r, id) => lock(r)?.key(id)?.unwrap(entry, ctx),
            Provider::Recipient(p) => p.unwrap(entry, ctx),
            Provider::Identity(i) => i.unwrap(entry, ctx),
            Provider::XWingRecipient(x) => x.unwrap(entry, ctx),
            Provider::XWingKeyPair(k) => k.unwrap(entry, ctx),
            Provider::Kms(k) => k.unwrap(entry, ctx),
            Provider::Callbacks(c) => c.unwrap(entry, ctx),
        }
    }

    fn rewrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> sealwire_core::Result<WrappedKey> {
        match self {
            // The keyring re-wraps under the primary version of the entry's own key.
            Provider::Keyring(r) => lock(r)?.rewrap(entry, ctx),
            Provider::KeyringKey(r, id) => lock(r)?.key(id)?.rewrap(entry, ctx),
            Provider::Recipient(p) => p.rewrap(entry, ctx),
            Provider::Identity(i) => i.rewrap(entry, ctx),
            Provider::XWingRecipient(x) => x.rewrap(entry, ctx),
            Provider::XWingKeyPair(k) => k.rewrap(entry, ctx),
            // Server side (Vault `rewrap`, AWS `ReEncrypt`): the data key never leaves the KMS.
            Provider::Kms(k) => k.rewrap(entry, ctx),
            Provider::Callbacks(c) => {
                let dek = c.unwrap(entry, ctx)?;
                c.wrap(&dek, ctx)
            }
        }
    }
}

/// A set of key providers: what an envelope is sealed to (every provider wraps the data key,
/// one header entry each) or opened with (any provider that owns an entry may unwrap it).
///
/// Opaque. Created by `sealwire_key_set_new()`, filled with the `sealwire_key_set_add_*()`
/// functions; owned by the caller, who releases it once with `sealwire_key_set_free()`.
///
/// A key set shares the keys added to it; it never copies secrets and never keeps a caller's
/// pointer (except a callback provider's `user_data`). Identities, X-Wing key pairs and KMS
/// keys are shared, read-only; keyrings are shared *live*: keys created or rotated in the
/// keyring after it was added are used too. The added handles may be freed right after adding
/// (the key set keeps its own references; the secrets are zeroized when the last reference
/// goes).
///
/// The `_add_*` functions change the set (one thread at a time); all other functions take it
/// `const` and may use it from several threads at once (callback providers must then be
/// thread-safe). Streaming readers keep their own references to the providers: a key set may
/// be freed while readers made from it live.
#[derive(Debug, Default)]
pub struct sealwire_key_set {
    pub(crate) providers: Vec<Provider>,
}

impl sealwire_key_set {
    /// The providers as core wants them.
    pub(crate) fn as_dyn(&self) -> Vec<&dyn KeyProvider> {
        self.providers.iter().map(|p| p as &dyn KeyProvider).collect()
    }
}

/// Create an empty key set.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_new(out: *mut *mut sealwire_key_set) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_key_set::default()) };
        Ok(())
    })
}

/// Shared body of the `_add_*` functions: push `provider` (the last step, so a failure or a
/// panic before it leaves the set unchanged).
///
/// # Safety
/// `key_set` is NULL or a live handle not used concurrently.
unsafe fn add(key_set: *mut sealwire_key_set, provider: impl FnOnce() -> FfiResult<Provider>) -> FfiResult {
    // SAFETY: NULL or a live handle with exclusive access (caller contract).
    let key_set = unsafe { try_mut(key_set) }?;
    let provider = provider()?;
    key_set.providers.push(provider);
    Ok(())
}

/// Add a whole keyring (shared, live). Sealing wraps under the keyring's default key at its
/// primary version at that time (SEALWIRE_KEY_NOT_FOUND if the keyring has no key); opening
/// unwraps entries of any key of the keyring (retired versions until their cutoff).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `key_set` is NULL or a live handle not used concurrently; `keyring` is NULL or a live
/// handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_add_keyring(
    key_set: *mut sealwire_key_set,
    keyring: *const sealwire_keyring,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: forwarded caller contract.
        unsafe { add(key_set, || Ok(Provider::Keyring(Arc::clone(&keyring.inner)))) }
    })
}

/// Add one key of a keyring (shared, live): sealing wraps under the primary version of
/// `key_id` (NUL-terminated), opening unwraps only that key's entries.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_KEY_NOT_FOUND (no such key
/// in the keyring now).
///
/// # Safety
/// `key_set` is NULL or a live handle not used concurrently; `keyring` is NULL or a live
/// handle; `key_id` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_add_keyring_key(
    key_set: *mut sealwire_key_set,
    keyring: *const sealwire_keyring,
    key_id: *const c_char,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let id = unsafe { try_str(key_id) }?;
        // SAFETY: forwarded caller contract.
        unsafe {
            add(key_set, || {
                crate::keyring::read(&keyring.inner)?.primary_version(id)?;
                Ok(Provider::KeyringKey(Arc::clone(&keyring.inner), id.to_owned()))
            })
        }
    })
}

/// Add an agent as a recipient: the data key is wrapped to its X25519 key with HPKE
/// (provider "hpke-x25519"). A public identity only wraps; to open, add the private
/// `sealwire_identity` with `sealwire_key_set_add_identity()`. The key set keeps a copy.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `key_set` is NULL or a live handle not used concurrently; `public_identity` is NULL or a
/// live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_add_public_identity(
    key_set: *mut sealwire_key_set,
    public_identity: *const sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let public = unsafe { try_ref(public_identity) }?;
        // SAFETY: forwarded caller contract.
        unsafe { add(key_set, || Ok(Provider::Recipient(Arc::new(public.inner.clone())))) }
    })
}

/// Add a private identity: it opens entries wrapped to its X25519 key (and, when sealing,
/// wraps to itself). The key set shares the identity's keys (no copy).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `key_set` is NULL or a live handle not used concurrently; `identity` is NULL or a live
/// handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_add_identity(
    key_set: *mut sealwire_key_set,
    identity: *const sealwire_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        // SAFETY: forwarded caller contract.
        unsafe { add(key_set, || Ok(Provider::Identity(Arc::clone(&identity.inner)))) }
    })
}

/// Add an X-Wing recipient (post-quantum hybrid; provider "hpke-xwing"). Wrap only; to open,
/// add the `sealwire_xwing_keypair`. The key set keeps a copy.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `key_set` is NULL or a live handle not used concurrently; `public_key` is NULL or a live
/// handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_add_xwing_public_key(
    key_set: *mut sealwire_key_set,
    public_key: *const sealwire_xwing_public_key,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let public_key = unsafe { try_ref(public_key) }?;
        // SAFETY: forwarded caller contract.
        unsafe { add(key_set, || Ok(Provider::XWingRecipient(public_key.inner.clone()))) }
    })
}

/// Add an X-Wing key pair: it opens entries wrapped to its public key (and, when sealing,
/// wraps to itself). Shared, not copied.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `key_set` is NULL or a live handle not used concurrently; `keypair` is NULL or a live
/// handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_add_xwing_keypair(
    key_set: *mut sealwire_key_set,
    keypair: *const sealwire_xwing_keypair,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keypair = unsafe { try_ref(keypair) }?;
        // SAFETY: forwarded caller contract.
        unsafe { add(key_set, || Ok(Provider::XWingKeyPair(Arc::clone(&keypair.inner)))) }
    })
}

/// Add a remote KMS key (shared with its handle, which may be freed right after; the request
/// counters of `sealwire_kms_key_stats()` include what the key set does). Sealing wraps the
/// data key with it (as the first provider of the set the KMS generates the data key: one
/// call), opening unwraps the entries it owns (provider "vault-transit" with the same Transit
/// key name, or "aws-kms" with the key's ARN). Every seal, open, reader, writer or rewrap call
/// that reaches the key waits for the network (bounded; see `sealwire_kms_key`). An object
/// wrapped for several keys opens through the first one that answers: an unreachable KMS fails
/// fast and the next owned entry is tried.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `key_set` is NULL or a live handle not used concurrently; `kms_key` is NULL or a live
/// handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_add_kms_key(
    key_set: *mut sealwire_key_set,
    kms_key: *const sealwire_kms_key,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let kms_key = unsafe { try_ref(kms_key) }?;
        // SAFETY: forwarded caller contract.
        unsafe { add(key_set, || Ok(Provider::Kms(Arc::clone(&kms_key.inner)))) }
    })
}

/// Add a key-encryption key implemented by C callbacks (see `sealwire_kek_callbacks` for the
/// rules). Entries it wraps name `provider_id` (1-64 printable ASCII bytes, not one of the
/// built-in names unless you implement that format), `key_id` (1-2048 bytes of UTF-8 without
/// control characters) and `key_version`; it unwraps the entries with the same provider id and
/// key id. The struct is copied; `callbacks->user_data` is kept until `release` is called.
/// On failure nothing is kept and `release` is not called.
///
/// Errors: SEALWIRE_NULL_POINTER (also for a NULL `wrap` or `unwrap`), SEALWIRE_INVALID_UTF8,
/// SEALWIRE_INVALID_PARAMETER (bad provider id or key id).
///
/// # Safety
/// `key_set` is NULL or a live handle not used concurrently; `provider_id` and `key_id` are
/// NULL or NUL-terminated; `callbacks` is NULL or points to a readable
/// `sealwire_kek_callbacks` whose function pointers follow the documented signatures.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_add_callbacks(
    key_set: *mut sealwire_key_set,
    provider_id: *const c_char,
    key_id: *const c_char,
    key_version: u32,
    callbacks: *const sealwire_kek_callbacks,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let provider_id = unsafe { try_str(provider_id) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let key_id = unsafe { try_str(key_id) }?;
        // SAFETY: NULL or a readable struct (caller contract).
        let callbacks = *unsafe { try_ref(callbacks) }?;
        let wrap = callbacks.wrap.ok_or(sealwire_result::NULL_POINTER)?;
        let unwrap = callbacks.unwrap.ok_or(sealwire_result::NULL_POINTER)?;
        // The names must be valid in a header entry: check them the way core does.
        WrappedKey::new(provider_id, key_id, key_version, vec![0])?;
        // SAFETY: forwarded caller contract.
        unsafe {
            add(key_set, || {
                Ok(Provider::Callbacks(Arc::new(CallbackProvider {
                    provider_id: provider_id.to_owned(),
                    key_id: key_id.to_owned(),
                    key_version,
                    user_data: callbacks.user_data,
                    wrap,
                    unwrap,
                    release: callbacks.release,
                })))
            })
        }
    })
}

/// The number of providers in the set, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `key_set` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_count(key_set: *const sealwire_key_set, out: *mut usize) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(key_set.providers.len()) };
        Ok(())
    })
}

/// The provider id of provider `index` (in the order added): "keyring", "hpke-x25519",
/// "hpke-xwing", "vault-transit", "aws-kms" or a callback provider's id; a NUL-terminated string (output-buffer
/// convention; SEALWIRE_ENVELOPE_PROVIDER_BUFFER_LEN bytes always suffice).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_PARAMETER
/// (`index` out of range).
///
/// # Safety
/// `key_set` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_provider_id_at(
    key_set: *const sealwire_key_set,
    index: usize,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        let p = key_set.providers.get(index).ok_or(sealwire_result::INVALID_PARAMETER)?;
        // SAFETY: `out`/`written` writable (caller contract); the string is ours.
        unsafe { out.fill_cstr(p.provider_id()) }
    })
}

/// The key id provider `index` wraps under and names in header entries: a keyring key id (the
/// default key for a whole keyring; "" if it has no key), a recipient key id (32 lowercase
/// hex digits, derived from the public key), a Vault Transit key name, an AWS KMS key id as
/// configured (the ARN once KMS reported it) or a callback provider's key id; a NUL-terminated
/// string (output-buffer convention; SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN bytes always
/// suffice).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_PARAMETER
/// (`index` out of range).
///
/// # Safety
/// As `sealwire_key_set_provider_id_at()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_key_id_at(
    key_set: *const sealwire_key_set,
    index: usize,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        let p = key_set.providers.get(index).ok_or(sealwire_result::INVALID_PARAMETER)?;
        // SAFETY: `out`/`written` writable (caller contract); the string is ours.
        unsafe { out.fill_cstr(&p.key_id()) }
    })
}

/// Free a key set (providers it alone references are released: keys zeroized, callback
/// `release` called). `key_set` may be NULL (no-op).
///
/// # Safety
/// `key_set` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_key_set_free(key_set: *mut sealwire_key_set) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(key_set) }
    })
}
