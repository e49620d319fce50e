//! Deterministic replay for the `_for_vectors` functions of the ratchet layer (test-only).
//!
//! A `_for_vectors` call feeds the caller's bytes to the core's `*_with_entropy` function
//! through a `ByteTape` and succeeds only if the operation used the tape exactly: a tape
//! that runs out (core) or has bytes left over (checked here) is SEALWIRE_INVALID_PARAMETER.
//! Handles are changed only on success: mutating calls work on a copy of the state (made by
//! a seal/open round trip under a throw-away key) and commit it when the tape checks out.

use sealwire_core::deterministic::{ByteTape, OsRandom, RandomSource};
use sealwire_core::ratchet::{PrekeyStore, Session, STORAGE_KEY_LEN};
use zeroize::Zeroizing;

use crate::result::{sealwire_result, FfiResult};

/// Run `f` with a tape over `random`; refuse a result that left bytes unused.
pub(crate) fn with_tape<T>(random: &[u8], f: impl FnOnce(&mut ByteTape) -> sealwire_core::Result<T>) -> FfiResult<T> {
    let mut tape = ByteTape::new(random);
    let out = f(&mut tape)?;
    if tape.remaining() != 0 {
        return Err(sealwire_result::INVALID_PARAMETER);
    }
    Ok(out)
}

fn scratch_key() -> FfiResult<Zeroizing<[u8; STORAGE_KEY_LEN]>> {
    let mut key = Zeroizing::new([0u8; STORAGE_KEY_LEN]);
    OsRandom.fill(key.as_mut())?;
    Ok(key)
}

/// An independent copy of a session (neither core type is `Clone`, on purpose).
pub(crate) fn copy_session(s: &Session) -> FfiResult<Session> {
    let key = scratch_key()?;
    let blob = Zeroizing::new(s.seal(key.as_ref())?);
    Ok(Session::open(&blob, key.as_ref())?)
}

/// An independent copy of a prekey store.
pub(crate) fn copy_prekeys(p: &PrekeyStore) -> FfiResult<PrekeyStore> {
    let key = scratch_key()?;
    let blob = Zeroizing::new(p.seal(key.as_ref())?);
    Ok(PrekeyStore::open(&blob, key.as_ref())?)
}
