//! Unit tests of the handshake internals (integration tests live in core/tests/).
