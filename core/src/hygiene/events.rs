//! The structured `tracing` events sealwire itself emits. All of them are built here, from a
//! fixed set of fields whose values are protocol names, roles, outcomes, error codes and size
//! buckets — never identities, keys, fingerprints, mailbox addresses, routing hints or exact
//! sizes. With no subscriber installed an event costs one relaxed atomic load.
//!
//! Targets are the module paths (`sealwire::noise`, `sealwire::ratchet`,
//! `sealwire::envelope`, `sealwire::relay`); event names are the `EVENTS` strings.

/// Every field name a sealwire event may carry.
pub const EVENT_FIELDS: &[&str] = &[
    "message",
    "protocol",
    "role",
    "hybrid",
    "error",
    "size_bucket",
    "direction",
    "trigger",
    "stage",
    "provider",
    "version",
    "operation",
    "status",
];

/// The name of every event sealwire emits (the `tracing` event name).
#[cfg(feature = "relay")]
pub const EVENTS: &[&str] = &[
    emit::HANDSHAKE_DONE,
    emit::HANDSHAKE_FAILED,
    emit::NOISE_REKEY,
    emit::RATCHET_DECRYPT_FAILED,
    emit::KEY_ROTATED,
    emit::RELAY_ERROR,
];

/// The name of every event sealwire emits (the `tracing` event name).
#[cfg(not(feature = "relay"))]
pub const EVENTS: &[&str] =
    &[emit::HANDSHAKE_DONE, emit::HANDSHAKE_FAILED, emit::NOISE_REKEY, emit::RATCHET_DECRYPT_FAILED, emit::KEY_ROTATED];

/// Emitters, one per event. Arguments are only of the kinds listed in the module docs.
pub(crate) mod emit {
    use crate::error::Error;
    use crate::hygiene::size_bucket;

    pub(crate) const HANDSHAKE_DONE: &str = "sealwire.noise.handshake_done";
    pub(crate) const HANDSHAKE_FAILED: &str = "sealwire.noise.handshake_failed";
    pub(crate) const NOISE_REKEY: &str = "sealwire.noise.rekey";
    pub(crate) const RATCHET_DECRYPT_FAILED: &str = "sealwire.ratchet.decrypt_failed";
    pub(crate) const KEY_ROTATED: &str = "sealwire.envelope.key_rotated";
    #[cfg(feature = "relay")]
    pub(crate) const RELAY_ERROR: &str = "sealwire.relay.error";

    fn role(initiator: bool) -> &'static str {
        if initiator {
            "initiator"
        } else {
            "responder"
        }
    }

    /// A Noise handshake finished and split into transport keys. `protocol` is the Noise
    /// protocol name (which names algorithms, not parties).
    pub(crate) fn handshake_done(protocol: &str, initiator: bool, hybrid: bool) {
        tracing::debug!(
            name: "sealwire.noise.handshake_done",
            target: "sealwire::noise",
            protocol,
            role = role(initiator),
            hybrid,
            "noise handshake complete"
        );
    }

    /// A handshake message from the peer was refused (the handshake is unchanged).
    pub(crate) fn handshake_failed(protocol: &str, initiator: bool, stage: usize, error: &Error, message_len: usize) {
        tracing::warn!(
            name: "sealwire.noise.handshake_failed",
            target: "sealwire::noise",
            protocol,
            role = role(initiator),
            stage,
            error = error.kind().code(),
            size_bucket = size_bucket(message_len as u64),
            "noise handshake message refused"
        );
    }

    /// A transport cipher state was rekeyed: `direction` `send` / `receive`, `trigger`
    /// `interval` (automatic) or `manual`.
    pub(crate) fn noise_rekey(direction: &'static str, trigger: &'static str) {
        tracing::debug!(
            name: "sealwire.noise.rekey",
            target: "sealwire::noise",
            direction,
            trigger,
            "noise transport rekeyed"
        );
    }

    /// A ratchet message (`stage` `ratchet`) or an initial message (`stage` `initial`) did not
    /// decrypt; the session or prekey store is unchanged.
    pub(crate) fn ratchet_decrypt_failed(stage: &'static str, error: &Error, message_len: usize) {
        tracing::warn!(
            name: "sealwire.ratchet.decrypt_failed",
            target: "sealwire::ratchet",
            stage,
            error = error.kind().code(),
            size_bucket = size_bucket(message_len as u64),
            "ratchet message refused"
        );
    }

    /// A key-encryption key was rotated. `provider` is the provider kind (`keyring`), never the
    /// key's name; `version` the new version number.
    pub(crate) fn key_rotated(provider: &'static str, version: u32) {
        tracing::info!(
            name: "sealwire.envelope.key_rotated",
            target: "sealwire::envelope",
            provider,
            version,
            "key-encryption key rotated"
        );
    }

    /// A relay request failed: `operation` is the request's kind (`publish`, `claim`,
    /// `deposit`, `fetch`, `ack`, …), `status` the HTTP status when the relay answered, `error`
    /// the error code. Never the owner key, mailbox address or deposit id of the request.
    #[cfg(feature = "relay")]
    pub(crate) fn relay_error(operation: &'static str, status: Option<u16>, error: &Error) {
        tracing::warn!(
            name: "sealwire.relay.error",
            target: "sealwire::relay",
            operation,
            status = status.unwrap_or(0),
            error = error.kind().code(),
            "relay request failed"
        );
    }
}
