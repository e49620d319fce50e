//! The one error type of the core. Messages never contain key material or identities.

/// Result alias used throughout sealwire.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in sealwire.
///
/// Variants carry only static descriptions and sizes, never secret or identifying data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the structure was complete.
    #[error("truncated input: {0} is incomplete")]
    Truncated(&'static str),
    /// Bytes remained after a complete structure was decoded.
    #[error("trailing bytes after {0}")]
    TrailingBytes(&'static str),
    /// A field or buffer had the wrong length.
    #[error("wrong length for {what}: expected {expected} bytes, got {actual}")]
    InvalidLength {
        /// Which field.
        what: &'static str,
        /// Length required.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// The input does not start with the magic bytes of the expected format.
    #[error("not a {0}: bad magic bytes")]
    BadMagic(&'static str),
    /// The format version is not one this build understands.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// Which format.
        what: &'static str,
        /// Version found.
        version: u8,
    },
    /// An algorithm identifier or key type is unknown to this build.
    #[error("unsupported algorithm or key type in {0}")]
    UnsupportedAlgorithm(&'static str),
    /// A field has a value that is structurally valid but not allowed (non-canonical
    /// encoding, unsorted entries, out-of-range parameter in encoded data).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A public key is not a valid point, is of low order, or is non-canonically encoded.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(&'static str),
    /// A signature did not verify (strict Ed25519 verification).
    #[error("signature verification failed")]
    BadSignature,
    /// A Diffie-Hellman result was all zeros: the peer's key is of low order.
    #[error("non-contributory Diffie-Hellman result (low-order public key)")]
    NonContributory,
    /// Authenticated decryption failed: wrong key or passphrase, or the data was modified.
    #[error("decryption failed: wrong key or passphrase, or modified data")]
    DecryptionFailed,
    /// A caller-supplied parameter is out of the allowed range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
    /// A text encoding (did:key, hex, base58) was malformed.
    #[error("invalid text encoding: {0}")]
    InvalidEncoding(&'static str),
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Randomness,
    /// A message exceeds the Noise limit of 65535 bytes (or would, once encrypted).
    #[error("message too large: {actual} bytes, the limit is {limit}")]
    MessageTooLarge {
        /// Size of the message (or of the ciphertext it would produce).
        actual: usize,
        /// The largest size allowed.
        limit: usize,
    },
    /// A handshake message was written or read when it was the other party's turn, or a
    /// one-way transport was used in the direction it does not have.
    #[error("message out of turn: {0}")]
    OutOfTurn(&'static str),
    /// The peer's static key is not the one the caller expected.
    #[error("the remote static key does not match the expected key or identity")]
    RemoteKeyMismatch,
    /// The handshake has already completed (or failed for good); it accepts no more messages.
    #[error("the handshake is already complete")]
    HandshakeComplete,
    /// The operation needs a completed handshake (or a value that only exists after one).
    #[error("the handshake is not complete: {0}")]
    HandshakeIncomplete(&'static str),
    /// The 64-bit message counter reached its reserved maximum: no further message can be
    /// sent or received under this key; start a new session.
    #[error("nonce space exhausted: start a new session")]
    NonceExhausted,
    /// An explicit-nonce message was already received, or is older than the replay window.
    #[error("replayed message: {0}")]
    Replay(&'static str),

    // ---- envelope layer (branch `envelope`): appended, never reordered ----
    /// Reading or writing a stream or file failed (the I/O error's kind is kept).
    #[error("I/O error: {0:?}")]
    Io(std::io::ErrorKind),
    /// The envelope's key commitment does not match the unwrapped data key: the data key
    /// belongs to another object, or the header's fixed fields were changed. Checked before
    /// any plaintext is released.
    #[error("envelope key commitment mismatch: the data key does not belong to this header")]
    CommitmentMismatch,
    /// The envelope header failed authentication: modified header, a wrapped data key moved
    /// from another object, or a wrapped key that does not open under the key it names.
    #[error("envelope header failed authentication (modified header or wrapped key from another object)")]
    HeaderAuthFailed,
    /// The encryption context stored in the envelope differs from the one the caller expects.
    #[error("the envelope's encryption context does not match the expected context")]
    ContextMismatch,
    /// None of the envelope's wrapped data keys is addressed to a key the caller supplied.
    #[error("no wrapped data key in the envelope can be opened with the supplied keys")]
    NoMatchingKey,
    /// The key version is retired and past its decryption cutoff date.
    #[error("key version retired: its decryption cutoff date has passed")]
    KeyRetired,
    /// A key id or key version is not in the keyring.
    #[error("key not found: {0}")]
    KeyNotFound(&'static str),
    /// A key provider (keyring, remote KMS, binding callback) failed for a reason of its own.
    #[error("key provider failed: {0}")]
    ProviderFailed(&'static str),

    // ---- ratchet layer (X3DH / PQXDH / Double Ratchet), branch `ratchet` ----
    /// An initial message names a prekey this store does not hold (never issued, or a
    /// signed prekey past its grace period).
    #[error("unknown or expired prekey: {0}")]
    UnknownPrekey(&'static str),
    /// An initial message names a one-time prekey that was already consumed.
    #[error("one-time prekey already used")]
    PrekeyAlreadyUsed,
    /// Decrypting the message would skip more message keys than allowed.
    #[error("too many skipped messages: {skipped} requested, the limit is {limit}")]
    TooManySkippedMessages {
        /// Number of message keys the message would make us skip.
        skipped: u64,
        /// The per-chain limit.
        limit: u64,
    },
    /// A sealed state is older than the generation the caller last committed: an old
    /// snapshot was restored over a newer one.
    #[error("stale state: generation {found} is older than the expected {expected}")]
    StaleState {
        /// Generation found in the sealed state.
        found: u64,
        /// Lowest generation the caller accepts.
        expected: u64,
    },
    /// A key or bundle belongs to another identity than the one given.
    #[error("identity mismatch: {0}")]
    IdentityMismatch(&'static str),
    /// An initial message belongs to another session than the one asked to decrypt it.
    #[error("the initial message belongs to another session")]
    SessionMismatch,
    // ---- end ratchet layer ----

    // ---- persistent store and messenger (branch `store`): appended, never reordered ----
    /// The backing store (SQLite, or a store implemented by the application) failed. The
    /// operation was not committed: nothing changed, in the store or in memory.
    #[error("store failed: {0}")]
    Storage(&'static str),
    /// A commit did not follow the store's last commit: another writer (a second
    /// `Messenger` on the same store) committed in between. Nothing was committed; reopen.
    #[error("store conflict: the store was changed by another writer")]
    StoreConflict,
    /// There is no session with this peer: start one from the peer's prekey bundle.
    #[error("no session with this peer")]
    NoSession,
    // ---- end store ----
    // ---- remote KMS providers (branch `kms`): appended, never reordered ----
    /// The KMS refused the credentials (bad or expired token, unknown access key, wrong
    /// signature) or the caller is not allowed to use the key.
    #[error("KMS authentication failed: {0}")]
    KmsAuthFailed(&'static str),
    /// The KMS does not know the key (name, id or ARN).
    #[error("KMS key not found")]
    KmsKeyNotFound,
    /// The KMS key exists but is disabled or pending deletion.
    #[error("KMS key disabled or pending deletion")]
    KmsKeyDisabled,
    /// The KMS could not be reached (connection refused, DNS, TLS) or kept answering with
    /// server errors until the retries ran out.
    #[error("KMS unavailable: {0}")]
    KmsUnavailable(&'static str),
    /// The KMS did not answer within the configured timeout.
    #[error("KMS request timed out")]
    KmsTimeout,
    /// The KMS kept throttling the requests until the retries ran out.
    #[error("KMS throttled the requests (retries exhausted)")]
    KmsThrottled,
    // ---- end remote KMS providers ----
    // ---- relay client (branch `relay`): appended, never reordered ----
    /// The relay refused the request (`code` is its stable error code, docs/RELAY.md):
    /// malformed request, bad bundle or message, body too large, ...
    #[error("the relay refused the request: {code} (HTTP {status})")]
    RelayRejected {
        /// The relay's error code, e.g. `"bad_bundle"`.
        code: &'static str,
        /// The HTTP status.
        status: u16,
    },
    /// The relay refused the request's signature: missing, stale timestamp (check the
    /// clock), bad signature, replayed nonce, or a key that does not own the resource.
    #[error("relay authentication failed: {0}")]
    RelayAuthFailed(&'static str),
    /// The relay has no such bundle, mailbox or message.
    #[error("not found on the relay: {0}")]
    RelayNotFound(&'static str),
    /// The recipient's mailbox is over its quota; try again later.
    #[error("the recipient's mailbox on the relay is full")]
    RelayMailboxFull,
    /// The relay could not be reached, or answered with a server error.
    #[error("relay unavailable: {0}")]
    RelayUnavailable(&'static str),
    /// The relay did not answer within the configured timeout.
    #[error("relay request timed out")]
    RelayTimeout,
    // ---- end relay client ----
}

/// A stable, coarse classification of [`Error`], shared by every binding.
///
/// The string forms (see [`ErrorKind::code`]) are part of the public API of the C, Python
/// and Node bindings and are never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::Truncated`].
    Truncated,
    /// See [`Error::TrailingBytes`].
    TrailingBytes,
    /// See [`Error::InvalidLength`].
    InvalidLength,
    /// See [`Error::BadMagic`].
    BadMagic,
    /// See [`Error::UnsupportedVersion`].
    UnsupportedVersion,
    /// See [`Error::UnsupportedAlgorithm`].
    UnsupportedAlgorithm,
    /// See [`Error::Malformed`].
    Malformed,
    /// See [`Error::InvalidPublicKey`].
    InvalidPublicKey,
    /// See [`Error::BadSignature`].
    BadSignature,
    /// See [`Error::NonContributory`].
    NonContributory,
    /// See [`Error::DecryptionFailed`].
    DecryptionFailed,
    /// See [`Error::InvalidParameter`].
    InvalidParameter,
    /// See [`Error::InvalidEncoding`].
    InvalidEncoding,
    /// See [`Error::Randomness`].
    Randomness,
    /// See [`Error::MessageTooLarge`].
    MessageTooLarge,
    /// See [`Error::OutOfTurn`].
    OutOfTurn,
    /// See [`Error::RemoteKeyMismatch`].
    RemoteKeyMismatch,
    /// See [`Error::HandshakeComplete`].
    HandshakeComplete,
    /// See [`Error::HandshakeIncomplete`].
    HandshakeIncomplete,
    /// See [`Error::NonceExhausted`].
    NonceExhausted,
    /// See [`Error::Replay`].
    Replay,

    // ---- envelope layer (branch `envelope`) ----
    /// See [`Error::Io`].
    Io,
    /// See [`Error::CommitmentMismatch`].
    CommitmentMismatch,
    /// See [`Error::HeaderAuthFailed`].
    HeaderAuthFailed,
    /// See [`Error::ContextMismatch`].
    ContextMismatch,
    /// See [`Error::NoMatchingKey`].
    NoMatchingKey,
    /// See [`Error::KeyRetired`].
    KeyRetired,
    /// See [`Error::KeyNotFound`].
    KeyNotFound,
    /// See [`Error::ProviderFailed`].
    ProviderFailed,
    // ---- ratchet layer ----
    /// See [`Error::UnknownPrekey`].
    UnknownPrekey,
    /// See [`Error::PrekeyAlreadyUsed`].
    PrekeyAlreadyUsed,
    /// See [`Error::TooManySkippedMessages`].
    TooManySkippedMessages,
    /// See [`Error::StaleState`].
    StaleState,
    /// See [`Error::IdentityMismatch`].
    IdentityMismatch,
    /// See [`Error::SessionMismatch`].
    SessionMismatch,
    // ---- end ratchet layer ----
    // ---- persistent store and messenger ----
    /// See [`Error::Storage`].
    Storage,
    /// See [`Error::StoreConflict`].
    StoreConflict,
    /// See [`Error::NoSession`].
    NoSession,
    // ---- end store ----
    // ---- remote KMS providers (branch `kms`) ----
    /// See [`Error::KmsAuthFailed`].
    KmsAuthFailed,
    /// See [`Error::KmsKeyNotFound`].
    KmsKeyNotFound,
    /// See [`Error::KmsKeyDisabled`].
    KmsKeyDisabled,
    /// See [`Error::KmsUnavailable`].
    KmsUnavailable,
    /// See [`Error::KmsTimeout`].
    KmsTimeout,
    /// See [`Error::KmsThrottled`].
    KmsThrottled,
    // ---- end remote KMS providers ----
    // ---- relay client (branch `relay`) ----
    /// See [`Error::RelayRejected`].
    RelayRejected,
    /// See [`Error::RelayAuthFailed`].
    RelayAuthFailed,
    /// See [`Error::RelayNotFound`].
    RelayNotFound,
    /// See [`Error::RelayMailboxFull`].
    RelayMailboxFull,
    /// See [`Error::RelayUnavailable`].
    RelayUnavailable,
    /// See [`Error::RelayTimeout`].
    RelayTimeout,
    // ---- end relay client ----
}

impl ErrorKind {
    /// Every kind, in declaration order (used by bindings to build their tables).
    pub const ALL: [ErrorKind; 50] = [
        ErrorKind::Truncated,
        ErrorKind::TrailingBytes,
        ErrorKind::InvalidLength,
        ErrorKind::BadMagic,
        ErrorKind::UnsupportedVersion,
        ErrorKind::UnsupportedAlgorithm,
        ErrorKind::Malformed,
        ErrorKind::InvalidPublicKey,
        ErrorKind::BadSignature,
        ErrorKind::NonContributory,
        ErrorKind::DecryptionFailed,
        ErrorKind::InvalidParameter,
        ErrorKind::InvalidEncoding,
        ErrorKind::Randomness,
        ErrorKind::MessageTooLarge,
        ErrorKind::OutOfTurn,
        ErrorKind::RemoteKeyMismatch,
        ErrorKind::HandshakeComplete,
        ErrorKind::HandshakeIncomplete,
        ErrorKind::NonceExhausted,
        ErrorKind::Replay,
        // ---- envelope layer (branch `envelope`) ----
        ErrorKind::Io,
        ErrorKind::CommitmentMismatch,
        ErrorKind::HeaderAuthFailed,
        ErrorKind::ContextMismatch,
        ErrorKind::NoMatchingKey,
        ErrorKind::KeyRetired,
        ErrorKind::KeyNotFound,
        ErrorKind::ProviderFailed,
        // ---- ratchet layer ----
        ErrorKind::UnknownPrekey,
        ErrorKind::PrekeyAlreadyUsed,
        ErrorKind::TooManySkippedMessages,
        ErrorKind::StaleState,
        ErrorKind::IdentityMismatch,
        ErrorKind::SessionMismatch,
        // ---- end ratchet layer ----
        // ---- persistent store and messenger ----
        ErrorKind::Storage,
        ErrorKind::StoreConflict,
        ErrorKind::NoSession,
        // ---- end store ----
        // ---- remote KMS providers (branch `kms`) ----
        ErrorKind::KmsAuthFailed,
        ErrorKind::KmsKeyNotFound,
        ErrorKind::KmsKeyDisabled,
        ErrorKind::KmsUnavailable,
        ErrorKind::KmsTimeout,
        ErrorKind::KmsThrottled,
        // ---- end remote KMS providers ----
        // ---- relay client (branch `relay`) ----
        ErrorKind::RelayRejected,
        ErrorKind::RelayAuthFailed,
        ErrorKind::RelayNotFound,
        ErrorKind::RelayMailboxFull,
        ErrorKind::RelayUnavailable,
        ErrorKind::RelayTimeout,
        // ---- end relay client ----
    ];

    /// The stable code string, e.g. `"ERR_SEALWIRE_TRUNCATED"` (Node's `error.code`,
    /// Python's `exc.code`).
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "ERR_SEALWIRE_TRUNCATED",
            ErrorKind::TrailingBytes => "ERR_SEALWIRE_TRAILING_BYTES",
            ErrorKind::InvalidLength => "ERR_SEALWIRE_INVALID_LENGTH",
            ErrorKind::BadMagic => "ERR_SEALWIRE_BAD_MAGIC",
            ErrorKind::UnsupportedVersion => "ERR_SEALWIRE_UNSUPPORTED_VERSION",
            ErrorKind::UnsupportedAlgorithm => "ERR_SEALWIRE_UNSUPPORTED_ALGORITHM",
            ErrorKind::Malformed => "ERR_SEALWIRE_MALFORMED",
            ErrorKind::InvalidPublicKey => "ERR_SEALWIRE_INVALID_PUBLIC_KEY",
            ErrorKind::BadSignature => "ERR_SEALWIRE_BAD_SIGNATURE",
            ErrorKind::NonContributory => "ERR_SEALWIRE_NON_CONTRIBUTORY",
            ErrorKind::DecryptionFailed => "ERR_SEALWIRE_DECRYPTION_FAILED",
            ErrorKind::InvalidParameter => "ERR_SEALWIRE_INVALID_PARAMETER",
            ErrorKind::InvalidEncoding => "ERR_SEALWIRE_INVALID_ENCODING",
            ErrorKind::Randomness => "ERR_SEALWIRE_RANDOMNESS",
            ErrorKind::MessageTooLarge => "ERR_SEALWIRE_MESSAGE_TOO_LARGE",
            ErrorKind::OutOfTurn => "ERR_SEALWIRE_OUT_OF_TURN",
            ErrorKind::RemoteKeyMismatch => "ERR_SEALWIRE_REMOTE_KEY_MISMATCH",
            ErrorKind::HandshakeComplete => "ERR_SEALWIRE_HANDSHAKE_COMPLETE",
            ErrorKind::HandshakeIncomplete => "ERR_SEALWIRE_HANDSHAKE_INCOMPLETE",
            ErrorKind::NonceExhausted => "ERR_SEALWIRE_NONCE_EXHAUSTED",
            ErrorKind::Replay => "ERR_SEALWIRE_REPLAY",
            // ---- envelope layer (branch `envelope`) ----
            ErrorKind::Io => "ERR_SEALWIRE_IO",
            ErrorKind::CommitmentMismatch => "ERR_SEALWIRE_COMMITMENT_MISMATCH",
            ErrorKind::HeaderAuthFailed => "ERR_SEALWIRE_HEADER_AUTH_FAILED",
            ErrorKind::ContextMismatch => "ERR_SEALWIRE_CONTEXT_MISMATCH",
            ErrorKind::NoMatchingKey => "ERR_SEALWIRE_NO_MATCHING_KEY",
            ErrorKind::KeyRetired => "ERR_SEALWIRE_KEY_RETIRED",
            ErrorKind::KeyNotFound => "ERR_SEALWIRE_KEY_NOT_FOUND",
            ErrorKind::ProviderFailed => "ERR_SEALWIRE_PROVIDER_FAILED",
            // ---- ratchet layer ----
            ErrorKind::UnknownPrekey => "ERR_SEALWIRE_UNKNOWN_PREKEY",
            ErrorKind::PrekeyAlreadyUsed => "ERR_SEALWIRE_PREKEY_ALREADY_USED",
            ErrorKind::TooManySkippedMessages => "ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES",
            ErrorKind::StaleState => "ERR_SEALWIRE_STALE_STATE",
            ErrorKind::IdentityMismatch => "ERR_SEALWIRE_IDENTITY_MISMATCH",
            ErrorKind::SessionMismatch => "ERR_SEALWIRE_SESSION_MISMATCH",
            // ---- end ratchet layer ----
            // ---- persistent store and messenger ----
            ErrorKind::Storage => "ERR_SEALWIRE_STORAGE",
            ErrorKind::StoreConflict => "ERR_SEALWIRE_STORE_CONFLICT",
            ErrorKind::NoSession => "ERR_SEALWIRE_NO_SESSION",
            // ---- end store ----
            // ---- remote KMS providers (branch `kms`) ----
            ErrorKind::KmsAuthFailed => "ERR_SEALWIRE_KMS_AUTH_FAILED",
            ErrorKind::KmsKeyNotFound => "ERR_SEALWIRE_KMS_KEY_NOT_FOUND",
            ErrorKind::KmsKeyDisabled => "ERR_SEALWIRE_KMS_KEY_DISABLED",
            ErrorKind::KmsUnavailable => "ERR_SEALWIRE_KMS_UNAVAILABLE",
            ErrorKind::KmsTimeout => "ERR_SEALWIRE_KMS_TIMEOUT",
            ErrorKind::KmsThrottled => "ERR_SEALWIRE_KMS_THROTTLED",
            // ---- end remote KMS providers ----
            // ---- relay client (branch `relay`) ----
            ErrorKind::RelayRejected => "ERR_SEALWIRE_RELAY_REJECTED",
            ErrorKind::RelayAuthFailed => "ERR_SEALWIRE_RELAY_AUTH_FAILED",
            ErrorKind::RelayNotFound => "ERR_SEALWIRE_RELAY_NOT_FOUND",
            ErrorKind::RelayMailboxFull => "ERR_SEALWIRE_RELAY_MAILBOX_FULL",
            ErrorKind::RelayUnavailable => "ERR_SEALWIRE_RELAY_UNAVAILABLE",
            ErrorKind::RelayTimeout => "ERR_SEALWIRE_RELAY_TIMEOUT",
            // ---- end relay client ----
        }
    }

    /// True for the kinds produced by decoders on malformed input.
    pub const fn is_decode(self) -> bool {
        matches!(
            self,
            ErrorKind::Truncated
                | ErrorKind::TrailingBytes
                | ErrorKind::InvalidLength
                | ErrorKind::BadMagic
                | ErrorKind::UnsupportedVersion
                | ErrorKind::UnsupportedAlgorithm
                | ErrorKind::Malformed
                | ErrorKind::InvalidEncoding
        )
    }
}

impl Error {
    /// The stable classification of this error.
    pub const fn kind(&self) -> ErrorKind {
        match self {
            Error::Truncated(_) => ErrorKind::Truncated,
            Error::TrailingBytes(_) => ErrorKind::TrailingBytes,
            Error::InvalidLength { .. } => ErrorKind::InvalidLength,
            Error::BadMagic(_) => ErrorKind::BadMagic,
            Error::UnsupportedVersion { .. } => ErrorKind::UnsupportedVersion,
            Error::UnsupportedAlgorithm(_) => ErrorKind::UnsupportedAlgorithm,
            Error::Malformed(_) => ErrorKind::Malformed,
            Error::InvalidPublicKey(_) => ErrorKind::InvalidPublicKey,
            Error::BadSignature => ErrorKind::BadSignature,
            Error::NonContributory => ErrorKind::NonContributory,
            Error::DecryptionFailed => ErrorKind::DecryptionFailed,
            Error::InvalidParameter(_) => ErrorKind::InvalidParameter,
            Error::InvalidEncoding(_) => ErrorKind::InvalidEncoding,
            Error::Randomness => ErrorKind::Randomness,
            Error::MessageTooLarge { .. } => ErrorKind::MessageTooLarge,
            Error::OutOfTurn(_) => ErrorKind::OutOfTurn,
            Error::RemoteKeyMismatch => ErrorKind::RemoteKeyMismatch,
            Error::HandshakeComplete => ErrorKind::HandshakeComplete,
            Error::HandshakeIncomplete(_) => ErrorKind::HandshakeIncomplete,
            Error::NonceExhausted => ErrorKind::NonceExhausted,
            Error::Replay(_) => ErrorKind::Replay,
            // ---- envelope layer (branch `envelope`) ----
            Error::Io(_) => ErrorKind::Io,
            Error::CommitmentMismatch => ErrorKind::CommitmentMismatch,
            Error::HeaderAuthFailed => ErrorKind::HeaderAuthFailed,
            Error::ContextMismatch => ErrorKind::ContextMismatch,
            Error::NoMatchingKey => ErrorKind::NoMatchingKey,
            Error::KeyRetired => ErrorKind::KeyRetired,
            Error::KeyNotFound(_) => ErrorKind::KeyNotFound,
            Error::ProviderFailed(_) => ErrorKind::ProviderFailed,
            // ---- ratchet layer ----
            Error::UnknownPrekey(_) => ErrorKind::UnknownPrekey,
            Error::PrekeyAlreadyUsed => ErrorKind::PrekeyAlreadyUsed,
            Error::TooManySkippedMessages { .. } => ErrorKind::TooManySkippedMessages,
            Error::StaleState { .. } => ErrorKind::StaleState,
            Error::IdentityMismatch(_) => ErrorKind::IdentityMismatch,
            Error::SessionMismatch => ErrorKind::SessionMismatch,
            // ---- end ratchet layer ----
            // ---- persistent store and messenger ----
            Error::Storage(_) => ErrorKind::Storage,
            Error::StoreConflict => ErrorKind::StoreConflict,
            Error::NoSession => ErrorKind::NoSession,
            // ---- end store ----
            // ---- remote KMS providers (branch `kms`) ----
            Error::KmsAuthFailed(_) => ErrorKind::KmsAuthFailed,
            Error::KmsKeyNotFound => ErrorKind::KmsKeyNotFound,
            Error::KmsKeyDisabled => ErrorKind::KmsKeyDisabled,
            Error::KmsUnavailable(_) => ErrorKind::KmsUnavailable,
            Error::KmsTimeout => ErrorKind::KmsTimeout,
            Error::KmsThrottled => ErrorKind::KmsThrottled,
            // ---- end remote KMS providers ----
            // ---- relay client (branch `relay`) ----
            Error::RelayRejected { .. } => ErrorKind::RelayRejected,
            Error::RelayAuthFailed(_) => ErrorKind::RelayAuthFailed,
            Error::RelayNotFound(_) => ErrorKind::RelayNotFound,
            Error::RelayMailboxFull => ErrorKind::RelayMailboxFull,
            Error::RelayUnavailable(_) => ErrorKind::RelayUnavailable,
            Error::RelayTimeout => ErrorKind::RelayTimeout,
            // ---- end relay client ----
        }
    }
}

// ---- envelope layer (branch `envelope`) ----
impl From<std::io::Error> for Error {
    /// Keeps only the error's kind. If the I/O error wraps a sealwire [`Error`] (as the
    /// envelope reader's `io::Read` impl does), that error is returned unchanged.
    fn from(e: std::io::Error) -> Self {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
            Some(inner) => inner.clone(),
            None => Error::Io(e.kind()),
        }
    }
}

impl From<Error> for std::io::Error {
    /// Wraps the sealwire error so that `Error::from(io_error)` recovers it.
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Io(kind) => *kind,
            Error::Truncated(_) => std::io::ErrorKind::UnexpectedEof,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}
