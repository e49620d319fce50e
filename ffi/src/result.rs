//! The result code every fallible C function returns, and its string forms.

use core::ffi::{c_char, CStr};

use sealwire_core::ErrorKind;

use crate::panic::guard;

/// The result of every fallible sealwire call.
///
/// Codes are grouped by range and a number is never reused for a different meaning:
///
/// * `0` -- success;
/// * `1xxx` -- the caller broke a rule of the API (NULL pointer, buffer too small, parameter out
///   of range) or the library hit an internal panic;
/// * `2xxx` -- malformed input was rejected by a strict decoder;
/// * `3xxx` -- a cryptographic or security check failed (bad key, bad signature, wrong
///   passphrase, unexpected peer key, replayed message): the input or the peer is not what it
///   should be;
/// * `4xxx` -- protocol state and limits: the call is not allowed at this point of a Noise or
///   ratchet session (out of turn, handshake finished or not yet finished, nonces used up,
///   message for another session) or exceeds a size or skip limit;
/// * `5xxx` -- keys and storage: no supplied key can open the object, a key id or version is
///   unknown or retired, a key provider (keyring, KMS, callback) or the file system failed;
/// * `9xxx` -- internal: an error this build of the C layer cannot classify (never expected).
///
/// `sealwire_result_code_string()` gives each code's stable string (the same strings the Python
/// and Node bindings use, e.g. "ERR_SEALWIRE_TRUNCATED"); `sealwire_result_message()` gives a
/// short English description.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum sealwire_result {
    /// Success.
    OK = 0,

    /// A required pointer argument was NULL (or an input pointer was NULL with a non-zero
    /// length).
    NULL_POINTER = 1000,
    /// The output buffer was NULL or too small; `*written` holds the required length.
    BUFFER_TOO_SMALL = 1001,
    /// A C string argument was not valid UTF-8 (reserved for functions taking text input).
    INVALID_UTF8 = 1002,
    /// A Rust panic was caught at the API boundary; no output was written. A Noise handshake
    /// or transport handle whose call panicked is poisoned: every later call on it returns
    /// SEALWIRE_PANIC (free it).
    PANIC = 1003,
    /// A caller-supplied parameter is out of the allowed range (ERR_SEALWIRE_INVALID_PARAMETER).
    INVALID_PARAMETER = 1004,
    /// The call is not allowed in the handle's current state: a streaming envelope writer or
    /// reader that already finished, or a value that is not available yet (an envelope
    /// reader's header before it was read). C only (ERR_SEALWIRE_INVALID_STATE).
    INVALID_STATE = 1005,

    /// The input ended before the structure was complete (ERR_SEALWIRE_TRUNCATED).
    TRUNCATED = 2000,
    /// Bytes remained after a complete structure (ERR_SEALWIRE_TRAILING_BYTES).
    TRAILING_BYTES = 2001,
    /// A field or buffer had the wrong length (ERR_SEALWIRE_INVALID_LENGTH).
    INVALID_LENGTH = 2002,
    /// The input does not start with the expected magic bytes (ERR_SEALWIRE_BAD_MAGIC).
    BAD_MAGIC = 2003,
    /// The format version is not supported (ERR_SEALWIRE_UNSUPPORTED_VERSION).
    UNSUPPORTED_VERSION = 2004,
    /// Unknown algorithm identifier or key type (ERR_SEALWIRE_UNSUPPORTED_ALGORITHM).
    UNSUPPORTED_ALGORITHM = 2005,
    /// A field holds a structurally valid but disallowed value (ERR_SEALWIRE_MALFORMED).
    MALFORMED = 2006,
    /// A text encoding (did:key, hex, base58) was malformed (ERR_SEALWIRE_INVALID_ENCODING).
    INVALID_ENCODING = 2007,

    /// A public key is invalid, of small order or non-canonical
    /// (ERR_SEALWIRE_INVALID_PUBLIC_KEY).
    INVALID_PUBLIC_KEY = 3000,
    /// A signature did not verify (ERR_SEALWIRE_BAD_SIGNATURE).
    BAD_SIGNATURE = 3001,
    /// A Diffie-Hellman result was all zeros (ERR_SEALWIRE_NON_CONTRIBUTORY).
    NON_CONTRIBUTORY = 3002,
    /// Authenticated decryption failed: wrong passphrase or key, or modified data
    /// (ERR_SEALWIRE_DECRYPTION_FAILED).
    DECRYPTION_FAILED = 3003,
    /// The operating system's random number generator failed (ERR_SEALWIRE_RANDOMNESS).
    RANDOMNESS = 3004,
    /// The peer's static key is not the expected key or identity
    /// (ERR_SEALWIRE_REMOTE_KEY_MISMATCH).
    REMOTE_KEY_MISMATCH = 3005,
    /// An unordered-transport message was already received or is older than the replay
    /// window (ERR_SEALWIRE_REPLAY).
    REPLAY = 3006,
    /// An envelope's key commitment does not match the unwrapped data key: the key belongs to
    /// another object or the header was changed (ERR_SEALWIRE_COMMITMENT_MISMATCH).
    COMMITMENT_MISMATCH = 3007,
    /// An envelope header failed authentication: modified header, a wrapped key moved from
    /// another object, or a wrapped key that does not open under the key it names
    /// (ERR_SEALWIRE_HEADER_AUTH_FAILED).
    HEADER_AUTH_FAILED = 3008,
    /// The envelope's encryption context differs from the expected one
    /// (ERR_SEALWIRE_CONTEXT_MISMATCH).
    CONTEXT_MISMATCH = 3009,
    /// A key or prekey bundle belongs to another identity than the one given
    /// (ERR_SEALWIRE_IDENTITY_MISMATCH).
    IDENTITY_MISMATCH = 3010,
    /// A sealed state is older than the generation last committed: an old snapshot was
    /// restored over a newer one (ERR_SEALWIRE_STALE_STATE).
    STALE_STATE = 3011,
    /// An initial ratchet message names a one-time prekey that was already consumed
    /// (ERR_SEALWIRE_PREKEY_ALREADY_USED).
    PREKEY_ALREADY_USED = 3012,

    /// A Noise message is, or would become, larger than 65535 bytes
    /// (ERR_SEALWIRE_MESSAGE_TOO_LARGE).
    MESSAGE_TOO_LARGE = 4000,
    /// A handshake message was written or read when it was the other party's turn, or a
    /// one-way transport was used in the direction it does not have (ERR_SEALWIRE_OUT_OF_TURN).
    OUT_OF_TURN = 4001,
    /// The handshake is already complete (or was turned into a transport): it takes no more
    /// messages (ERR_SEALWIRE_HANDSHAKE_COMPLETE).
    HANDSHAKE_COMPLETE = 4002,
    /// The call needs a finished handshake, or a value not known yet, such as the peer's
    /// static key before it was received (ERR_SEALWIRE_HANDSHAKE_INCOMPLETE).
    HANDSHAKE_INCOMPLETE = 4003,
    /// The message counter of this session is used up: start a new session
    /// (ERR_SEALWIRE_NONCE_EXHAUSTED).
    NONCE_EXHAUSTED = 4004,
    /// Decrypting the ratchet message would skip more message keys than allowed
    /// (ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES).
    TOO_MANY_SKIPPED_MESSAGES = 4005,
    /// An initial ratchet message belongs to another session than the one asked to decrypt
    /// it (ERR_SEALWIRE_SESSION_MISMATCH).
    SESSION_MISMATCH = 4006,

    /// Reading or writing a file or stream failed (ERR_SEALWIRE_IO).
    IO = 5000,
    /// None of the envelope's wrapped data keys is addressed to a supplied key
    /// (ERR_SEALWIRE_NO_MATCHING_KEY).
    NO_MATCHING_KEY = 5001,
    /// A key id or key version is not in the keyring, or a requested entry does not exist
    /// (ERR_SEALWIRE_KEY_NOT_FOUND).
    KEY_NOT_FOUND = 5002,
    /// The key version is retired and past its decryption cutoff (ERR_SEALWIRE_KEY_RETIRED).
    KEY_RETIRED = 5003,
    /// A key provider (keyring, remote KMS, C callback) failed for a reason of its own
    /// (ERR_SEALWIRE_PROVIDER_FAILED).
    PROVIDER_FAILED = 5004,
    /// An initial ratchet message names a prekey this store does not hold (never issued, or
    /// expired) (ERR_SEALWIRE_UNKNOWN_PREKEY).
    UNKNOWN_PREKEY = 5005,
    /// The session store failed (disk, database); nothing was committed (ERR_SEALWIRE_STORAGE).
    STORAGE = 5006,
    /// Another writer changed the session store in between; nothing was committed, reopen
    /// (ERR_SEALWIRE_STORE_CONFLICT).
    STORE_CONFLICT = 5007,
    /// There is no session with this peer yet: start one from its prekey bundle
    /// (ERR_SEALWIRE_NO_SESSION).
    NO_SESSION = 4007,
    /// The KMS refused the credentials or token (ERR_SEALWIRE_KMS_AUTH_FAILED).
    KMS_AUTH_FAILED = 5008,
    /// The KMS does not know the key (ERR_SEALWIRE_KMS_KEY_NOT_FOUND).
    KMS_KEY_NOT_FOUND = 5009,
    /// The KMS key is disabled (ERR_SEALWIRE_KMS_KEY_DISABLED).
    KMS_KEY_DISABLED = 5010,
    /// The KMS could not be reached or failed (ERR_SEALWIRE_KMS_UNAVAILABLE).
    KMS_UNAVAILABLE = 5011,
    /// The KMS did not answer in time (ERR_SEALWIRE_KMS_TIMEOUT).
    KMS_TIMEOUT = 5012,
    /// The KMS throttled the request after every retry (ERR_SEALWIRE_KMS_THROTTLED).
    KMS_THROTTLED = 5013,
    /// The relay refused the request: malformed, bad bundle or message, too large (ERR_SEALWIRE_RELAY_REJECTED).
    RELAY_REJECTED = 5014,
    /// The relay refused the request's signature (stale timestamp, replayed nonce, wrong key) (ERR_SEALWIRE_RELAY_AUTH_FAILED).
    RELAY_AUTH_FAILED = 5015,
    /// The relay has no such bundle, mailbox or message (ERR_SEALWIRE_RELAY_NOT_FOUND).
    RELAY_NOT_FOUND = 5016,
    /// The recipient's mailbox is over its quota; try again later (ERR_SEALWIRE_RELAY_MAILBOX_FULL).
    RELAY_MAILBOX_FULL = 5017,
    /// The relay could not be reached or answered with a server error (ERR_SEALWIRE_RELAY_UNAVAILABLE).
    RELAY_UNAVAILABLE = 5018,
    /// The relay did not answer within the timeout (ERR_SEALWIRE_RELAY_TIMEOUT).
    RELAY_TIMEOUT = 5019,

    /// The core reported an error kind this build of the C layer does not know.
    INTERNAL_ERROR = 9000,
}

impl sealwire_result {
    /// Every code, for lookups by number and for tests.
    pub(crate) const ALL: [sealwire_result; 57] = [
        Self::OK,
        Self::NULL_POINTER,
        Self::BUFFER_TOO_SMALL,
        Self::INVALID_UTF8,
        Self::PANIC,
        Self::INVALID_PARAMETER,
        Self::INVALID_STATE,
        Self::TRUNCATED,
        Self::TRAILING_BYTES,
        Self::INVALID_LENGTH,
        Self::BAD_MAGIC,
        Self::UNSUPPORTED_VERSION,
        Self::UNSUPPORTED_ALGORITHM,
        Self::MALFORMED,
        Self::INVALID_ENCODING,
        Self::INVALID_PUBLIC_KEY,
        Self::BAD_SIGNATURE,
        Self::NON_CONTRIBUTORY,
        Self::DECRYPTION_FAILED,
        Self::RANDOMNESS,
        Self::REMOTE_KEY_MISMATCH,
        Self::REPLAY,
        Self::COMMITMENT_MISMATCH,
        Self::HEADER_AUTH_FAILED,
        Self::CONTEXT_MISMATCH,
        Self::IDENTITY_MISMATCH,
        Self::STALE_STATE,
        Self::PREKEY_ALREADY_USED,
        Self::MESSAGE_TOO_LARGE,
        Self::OUT_OF_TURN,
        Self::HANDSHAKE_COMPLETE,
        Self::HANDSHAKE_INCOMPLETE,
        Self::NONCE_EXHAUSTED,
        Self::TOO_MANY_SKIPPED_MESSAGES,
        Self::SESSION_MISMATCH,
        Self::NO_SESSION,
        Self::IO,
        Self::NO_MATCHING_KEY,
        Self::KEY_NOT_FOUND,
        Self::KEY_RETIRED,
        Self::PROVIDER_FAILED,
        Self::UNKNOWN_PREKEY,
        Self::STORAGE,
        Self::STORE_CONFLICT,
        Self::KMS_AUTH_FAILED,
        Self::KMS_KEY_NOT_FOUND,
        Self::KMS_KEY_DISABLED,
        Self::KMS_UNAVAILABLE,
        Self::KMS_TIMEOUT,
        Self::KMS_THROTTLED,
        Self::RELAY_REJECTED,
        Self::RELAY_AUTH_FAILED,
        Self::RELAY_NOT_FOUND,
        Self::RELAY_MAILBOX_FULL,
        Self::RELAY_UNAVAILABLE,
        Self::RELAY_TIMEOUT,
        Self::INTERNAL_ERROR,
    ];

    /// The code with this number, if any (C may pass any integer).
    pub(crate) fn from_u32(value: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| *r as u32 == value)
    }

    /// The one mapping from core error kinds to C result codes.
    pub(crate) fn from_kind(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Truncated => Self::TRUNCATED,
            ErrorKind::TrailingBytes => Self::TRAILING_BYTES,
            ErrorKind::InvalidLength => Self::INVALID_LENGTH,
            ErrorKind::BadMagic => Self::BAD_MAGIC,
            ErrorKind::UnsupportedVersion => Self::UNSUPPORTED_VERSION,
            ErrorKind::UnsupportedAlgorithm => Self::UNSUPPORTED_ALGORITHM,
            ErrorKind::Malformed => Self::MALFORMED,
            ErrorKind::InvalidEncoding => Self::INVALID_ENCODING,
            ErrorKind::InvalidPublicKey => Self::INVALID_PUBLIC_KEY,
            ErrorKind::BadSignature => Self::BAD_SIGNATURE,
            ErrorKind::NonContributory => Self::NON_CONTRIBUTORY,
            ErrorKind::DecryptionFailed => Self::DECRYPTION_FAILED,
            ErrorKind::Randomness => Self::RANDOMNESS,
            ErrorKind::InvalidParameter => Self::INVALID_PARAMETER,
            ErrorKind::RemoteKeyMismatch => Self::REMOTE_KEY_MISMATCH,
            ErrorKind::Replay => Self::REPLAY,
            ErrorKind::MessageTooLarge => Self::MESSAGE_TOO_LARGE,
            ErrorKind::OutOfTurn => Self::OUT_OF_TURN,
            ErrorKind::HandshakeComplete => Self::HANDSHAKE_COMPLETE,
            ErrorKind::HandshakeIncomplete => Self::HANDSHAKE_INCOMPLETE,
            ErrorKind::NonceExhausted => Self::NONCE_EXHAUSTED,
            ErrorKind::Io => Self::IO,
            ErrorKind::CommitmentMismatch => Self::COMMITMENT_MISMATCH,
            ErrorKind::HeaderAuthFailed => Self::HEADER_AUTH_FAILED,
            ErrorKind::ContextMismatch => Self::CONTEXT_MISMATCH,
            ErrorKind::NoMatchingKey => Self::NO_MATCHING_KEY,
            ErrorKind::KeyRetired => Self::KEY_RETIRED,
            ErrorKind::KeyNotFound => Self::KEY_NOT_FOUND,
            ErrorKind::ProviderFailed => Self::PROVIDER_FAILED,
            ErrorKind::UnknownPrekey => Self::UNKNOWN_PREKEY,
            ErrorKind::PrekeyAlreadyUsed => Self::PREKEY_ALREADY_USED,
            ErrorKind::TooManySkippedMessages => Self::TOO_MANY_SKIPPED_MESSAGES,
            ErrorKind::StaleState => Self::STALE_STATE,
            ErrorKind::IdentityMismatch => Self::IDENTITY_MISMATCH,
            ErrorKind::SessionMismatch => Self::SESSION_MISMATCH,
            ErrorKind::Storage => Self::STORAGE,
            ErrorKind::StoreConflict => Self::STORE_CONFLICT,
            ErrorKind::NoSession => Self::NO_SESSION,
            ErrorKind::KmsAuthFailed => Self::KMS_AUTH_FAILED,
            ErrorKind::KmsKeyNotFound => Self::KMS_KEY_NOT_FOUND,
            ErrorKind::KmsKeyDisabled => Self::KMS_KEY_DISABLED,
            ErrorKind::KmsUnavailable => Self::KMS_UNAVAILABLE,
            ErrorKind::KmsTimeout => Self::KMS_TIMEOUT,
            ErrorKind::KmsThrottled => Self::KMS_THROTTLED,
            ErrorKind::RelayRejected => Self::RELAY_REJECTED,
            ErrorKind::RelayAuthFailed => Self::RELAY_AUTH_FAILED,
            ErrorKind::RelayNotFound => Self::RELAY_NOT_FOUND,
            ErrorKind::RelayMailboxFull => Self::RELAY_MAILBOX_FULL,
            ErrorKind::RelayUnavailable => Self::RELAY_UNAVAILABLE,
            ErrorKind::RelayTimeout => Self::RELAY_TIMEOUT,
            // `ErrorKind` is non-exhaustive; a kind added to core without a code here lands in
            // 9000 (and the unit test `every_kind_has_its_own_code` fails).
            _ => Self::INTERNAL_ERROR,
        }
    }

    /// The stable code string. For codes that come from core it equals
    /// `sealwire_core::ErrorKind::code()` (checked by a unit test).
    pub(crate) fn code(self) -> &'static CStr {
        match self {
            Self::OK => c"OK",
            Self::NULL_POINTER => c"ERR_SEALWIRE_NULL_POINTER",
            Self::BUFFER_TOO_SMALL => c"ERR_SEALWIRE_BUFFER_TOO_SMALL",
            Self::INVALID_UTF8 => c"ERR_SEALWIRE_INVALID_UTF8",
            Self::PANIC => c"ERR_SEALWIRE_PANIC",
            Self::INVALID_PARAMETER => c"ERR_SEALWIRE_INVALID_PARAMETER",
            Self::INVALID_STATE => c"ERR_SEALWIRE_INVALID_STATE",
            Self::TRUNCATED => c"ERR_SEALWIRE_TRUNCATED",
            Self::TRAILING_BYTES => c"ERR_SEALWIRE_TRAILING_BYTES",
            Self::INVALID_LENGTH => c"ERR_SEALWIRE_INVALID_LENGTH",
            Self::BAD_MAGIC => c"ERR_SEALWIRE_BAD_MAGIC",
            Self::UNSUPPORTED_VERSION => c"ERR_SEALWIRE_UNSUPPORTED_VERSION",
            Self::UNSUPPORTED_ALGORITHM => c"ERR_SEALWIRE_UNSUPPORTED_ALGORITHM",
            Self::MALFORMED => c"ERR_SEALWIRE_MALFORMED",
            Self::INVALID_ENCODING => c"ERR_SEALWIRE_INVALID_ENCODING",
            Self::INVALID_PUBLIC_KEY => c"ERR_SEALWIRE_INVALID_PUBLIC_KEY",
            Self::BAD_SIGNATURE => c"ERR_SEALWIRE_BAD_SIGNATURE",
            Self::NON_CONTRIBUTORY => c"ERR_SEALWIRE_NON_CONTRIBUTORY",
            Self::DECRYPTION_FAILED => c"ERR_SEALWIRE_DECRYPTION_FAILED",
            Self::RANDOMNESS => c"ERR_SEALWIRE_RANDOMNESS",
            Self::REMOTE_KEY_MISMATCH => c"ERR_SEALWIRE_REMOTE_KEY_MISMATCH",
            Self::REPLAY => c"ERR_SEALWIRE_REPLAY",
            Self::COMMITMENT_MISMATCH => c"ERR_SEALWIRE_COMMITMENT_MISMATCH",
            Self::HEADER_AUTH_FAILED => c"ERR_SEALWIRE_HEADER_AUTH_FAILED",
            Self::CONTEXT_MISMATCH => c"ERR_SEALWIRE_CONTEXT_MISMATCH",
            Self::IDENTITY_MISMATCH => c"ERR_SEALWIRE_IDENTITY_MISMATCH",
            Self::STALE_STATE => c"ERR_SEALWIRE_STALE_STATE",
            Self::PREKEY_ALREADY_USED => c"ERR_SEALWIRE_PREKEY_ALREADY_USED",
            Self::MESSAGE_TOO_LARGE => c"ERR_SEALWIRE_MESSAGE_TOO_LARGE",
            Self::OUT_OF_TURN => c"ERR_SEALWIRE_OUT_OF_TURN",
            Self::HANDSHAKE_COMPLETE => c"ERR_SEALWIRE_HANDSHAKE_COMPLETE",
            Self::HANDSHAKE_INCOMPLETE => c"ERR_SEALWIRE_HANDSHAKE_INCOMPLETE",
            Self::NONCE_EXHAUSTED => c"ERR_SEALWIRE_NONCE_EXHAUSTED",
            Self::TOO_MANY_SKIPPED_MESSAGES => c"ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES",
            Self::SESSION_MISMATCH => c"ERR_SEALWIRE_SESSION_MISMATCH",
            Self::IO => c"ERR_SEALWIRE_IO",
            Self::NO_MATCHING_KEY => c"ERR_SEALWIRE_NO_MATCHING_KEY",
            Self::KEY_NOT_FOUND => c"ERR_SEALWIRE_KEY_NOT_FOUND",
            Self::KEY_RETIRED => c"ERR_SEALWIRE_KEY_RETIRED",
            Self::PROVIDER_FAILED => c"ERR_SEALWIRE_PROVIDER_FAILED",
            Self::UNKNOWN_PREKEY => c"ERR_SEALWIRE_UNKNOWN_PREKEY",
            Self::STORAGE => c"ERR_SEALWIRE_STORAGE",
            Self::STORE_CONFLICT => c"ERR_SEALWIRE_STORE_CONFLICT",
            Self::NO_SESSION => c"ERR_SEALWIRE_NO_SESSION",
            Self::KMS_AUTH_FAILED => c"ERR_SEALWIRE_KMS_AUTH_FAILED",
            Self::KMS_KEY_NOT_FOUND => c"ERR_SEALWIRE_KMS_KEY_NOT_FOUND",
            Self::KMS_KEY_DISABLED => c"ERR_SEALWIRE_KMS_KEY_DISABLED",
            Self::KMS_UNAVAILABLE => c"ERR_SEALWIRE_KMS_UNAVAILABLE",
            Self::KMS_TIMEOUT => c"ERR_SEALWIRE_KMS_TIMEOUT",
            Self::KMS_THROTTLED => c"ERR_SEALWIRE_KMS_THROTTLED",
            Self::RELAY_REJECTED => c"ERR_SEALWIRE_RELAY_REJECTED",
            Self::RELAY_AUTH_FAILED => c"ERR_SEALWIRE_RELAY_AUTH_FAILED",
            Self::RELAY_NOT_FOUND => c"ERR_SEALWIRE_RELAY_NOT_FOUND",
            Self::RELAY_MAILBOX_FULL => c"ERR_SEALWIRE_RELAY_MAILBOX_FULL",
            Self::RELAY_UNAVAILABLE => c"ERR_SEALWIRE_RELAY_UNAVAILABLE",
            Self::RELAY_TIMEOUT => c"ERR_SEALWIRE_RELAY_TIMEOUT",
            Self::INTERNAL_ERROR => c"ERR_SEALWIRE_INTERNAL",
        }
    }

    /// A short English description (static; never contains caller data).
    pub(crate) fn message(self) -> &'static CStr {
        match self {
            Self::OK => c"success",
            Self::NULL_POINTER => c"a required pointer argument was NULL",
            Self::BUFFER_TOO_SMALL => c"output buffer too small; *written holds the required length",
            Self::INVALID_UTF8 => c"a string argument was not valid UTF-8",
            Self::PANIC => c"internal panic caught at the API boundary",
            Self::INVALID_PARAMETER => c"a parameter is out of the allowed range",
            Self::INVALID_STATE => c"not allowed in the handle's current state (already finished, or not available yet)",
            Self::TRUNCATED => c"truncated input",
            Self::TRAILING_BYTES => c"trailing bytes after a complete structure",
            Self::INVALID_LENGTH => c"a field or buffer has the wrong length",
            Self::BAD_MAGIC => c"bad magic bytes: not the expected format",
            Self::UNSUPPORTED_VERSION => c"unsupported format version",
            Self::UNSUPPORTED_ALGORITHM => c"unsupported algorithm or key type",
            Self::MALFORMED => c"malformed field value",
            Self::INVALID_ENCODING => c"invalid text encoding",
            Self::INVALID_PUBLIC_KEY => c"invalid public key",
            Self::BAD_SIGNATURE => c"signature verification failed",
            Self::NON_CONTRIBUTORY => c"non-contributory Diffie-Hellman result (low-order public key)",
            Self::DECRYPTION_FAILED => c"decryption failed: wrong key or passphrase, or modified data",
            Self::RANDOMNESS => c"the operating system random number generator failed",
            Self::REMOTE_KEY_MISMATCH => c"the peer's static key is not the expected key or identity",
            Self::REPLAY => c"replayed message: already received or older than the replay window",
            Self::COMMITMENT_MISMATCH => c"envelope key commitment mismatch: the data key does not belong to this header",
            Self::HEADER_AUTH_FAILED => c"envelope header failed authentication (modified header or wrapped key from another object)",
            Self::CONTEXT_MISMATCH => c"the envelope's encryption context does not match the expected context",
            Self::IDENTITY_MISMATCH => c"the key or bundle belongs to another identity",
            Self::STALE_STATE => c"stale state: an older snapshot was restored over a newer one",
            Self::PREKEY_ALREADY_USED => c"one-time prekey already used",
            Self::MESSAGE_TOO_LARGE => c"message too large: the Noise limit is 65535 bytes",
            Self::OUT_OF_TURN => c"message out of turn (or one-way transport used in the wrong direction)",
            Self::HANDSHAKE_COMPLETE => c"the handshake is already complete",
            Self::HANDSHAKE_INCOMPLETE => c"the handshake is not complete (or the value is not known yet)",
            Self::NONCE_EXHAUSTED => c"nonce space exhausted: start a new session",
            Self::TOO_MANY_SKIPPED_MESSAGES => c"too many skipped messages",
            Self::SESSION_MISMATCH => c"the initial message belongs to another session",
            Self::IO => c"I/O error reading or writing a file or stream",
            Self::NO_MATCHING_KEY => c"no wrapped data key in the envelope can be opened with the supplied keys",
            Self::KEY_NOT_FOUND => c"key not found",
            Self::KEY_RETIRED => c"key version retired: its decryption cutoff has passed",
            Self::PROVIDER_FAILED => c"a key provider failed",
            Self::UNKNOWN_PREKEY => c"unknown or expired prekey",
            Self::STORAGE => c"session store failed; nothing was committed",
            Self::STORE_CONFLICT => c"session store changed by another writer; nothing was committed",
            Self::NO_SESSION => c"no session with this peer",
            Self::KMS_AUTH_FAILED => c"the KMS refused the credentials or token",
            Self::KMS_KEY_NOT_FOUND => c"the KMS does not know the key",
            Self::KMS_KEY_DISABLED => c"the KMS key is disabled",
            Self::KMS_UNAVAILABLE => c"the KMS could not be reached or failed",
            Self::KMS_TIMEOUT => c"the KMS did not answer in time",
            Self::KMS_THROTTLED => c"the KMS throttled the request after every retry",
            Self::RELAY_REJECTED => c"the relay refused the request (its error code says why)",
            Self::RELAY_AUTH_FAILED => c"the relay refused the request's signature",
            Self::RELAY_NOT_FOUND => c"the relay has no such bundle, mailbox or message",
            Self::RELAY_MAILBOX_FULL => c"the recipient's mailbox on the relay is full",
            Self::RELAY_UNAVAILABLE => c"the relay could not be reached or failed",
            Self::RELAY_TIMEOUT => c"the relay did not answer in time",
            Self::INTERNAL_ERROR => c"internal error: unclassified error kind",
        }
    }
}

impl From<sealwire_core::Error> for sealwire_result {
    fn from(e: sealwire_core::Error) -> Self {
        Self::from_kind(e.kind())
    }
}

/// Result of the internal helpers: `Err` carries the code to return to C.
pub(crate) type FfiResult<T = ()> = Result<T, sealwire_result>;

/// The stable code string of a result, e.g. "ERR_SEALWIRE_TRUNCATED" for SEALWIRE_TRUNCATED
/// and "OK" for SEALWIRE_OK.
///
/// `result` is a `sealwire_result` value; any other number gives "ERR_SEALWIRE_UNKNOWN_RESULT".
/// The returned string is static: never free it. Never returns NULL.
#[no_mangle]
pub extern "C" fn sealwire_result_code_string(result: u32) -> *const c_char {
    guard(c"ERR_SEALWIRE_PANIC".as_ptr(), || {
        match sealwire_result::from_u32(result) {
            Some(r) => r.code().as_ptr(),
            None => c"ERR_SEALWIRE_UNKNOWN_RESULT".as_ptr(),
        }
    })
}

/// A short English description of a result, for logs and diagnostics.
///
/// `result` is a `sealwire_result` value; any other number gives "unknown result code". The
/// returned string is static: never free it. Never returns NULL. The text may change between
/// versions; compare codes, or the strings of `sealwire_result_code_string()`, not messages.
#[no_mangle]
pub extern "C" fn sealwire_result_message(result: u32) -> *const c_char {
    guard(
        c"internal panic caught at the API boundary".as_ptr(),
        || match sealwire_result::from_u32(result) {
            Some(r) => r.message().as_ptr(),
            None => c"unknown result code".as_ptr(),
        },
    )
}
