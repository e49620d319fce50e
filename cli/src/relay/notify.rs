//! Delivery notifications: a mailbox owner long-polling `GET …/messages?wait=N` wakes up
//! when a deposit for its mailbox commits — in this process (always), and in the other relay
//! processes of a deployment through NATS JetStream (`--nats`).
//!
//! Waiters are keyed by a token, `SHA-256("SEALWIRE_RELAY_NOTIFY_v1" ‖ address)[..16]`, so
//! NATS subjects (`sealwire.notify.<token hex>`) do not carry mailbox addresses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::storage::BoxFut;

/// A notification token.
pub type Token = [u8; 16];

pub fn token(address: &[u8; 32]) -> Token {
    let mut h = Sha256::new();
    h.update(b"SEALWIRE_RELAY_NOTIFY_v1");
    h.update(address);
    let d = h.finalize();
    let mut t = [0u8; 16];
    t.copy_from_slice(&d[..16]);
    t
}

/// The waiters of this process.
#[derive(Default)]
pub struct Registry {
    waiters: Mutex<HashMap<Token, Weak<Notify>>>,
}

impl Registry {
    /// The `Notify` for `token` (shared by every waiter on the same mailbox).
    pub fn subscribe(&self, token: Token) -> Arc<Notify> {
        let Ok(mut map) = self.waiters.lock() else { return Arc::new(Notify::new()) };
        if let Some(n) = map.get(&token).and_then(Weak::upgrade) {
            return n;
        }
        map.retain(|_, w| w.strong_count() > 0);
        let n = Arc::new(Notify::new());
        map.insert(token, Arc::downgrade(&n));
        n
    }

    /// Wake every waiter on `token`.
    pub fn wake(&self, token: &Token) {
        let n = self.waiters.lock().ok().and_then(|m| m.get(token).and_then(Weak::upgrade));
        if let Some(n) = n {
            n.notify_waiters();
        }
    }
}

/// How deposits are announced.
pub trait Notifier: Send + Sync + 'static {
    /// `"local"` or `"nats"`.
    fn name(&self) -> &'static str;
    /// This process's waiters.
    fn registry(&self) -> &Registry;
    /// A deposit for `address` committed: wake its waiters (here and in the other
    /// processes). Best effort: an error is logged by the caller, the deposit stands.
    fn notify(&self, address: [u8; 32]) -> BoxFut<'_, ()>;
}

/// One process: wake local waiters only.
#[derive(Default)]
pub struct LocalNotifier {
    registry: Registry,
}

impl Notifier for LocalNotifier {
    fn name(&self) -> &'static str {
        "local"
    }
    fn registry(&self) -> &Registry {
        &self.registry
    }
    fn notify(&self, address: [u8; 32]) -> BoxFut<'_, ()> {
        self.registry.wake(&token(&address));
        Box::pin(async { Ok(()) })
    }
}

#[cfg(feature = "scale-out")]
pub use nats::NatsNotifier;

#[cfg(feature = "scale-out")]
mod nats {
    use std::sync::Arc;
    use std::time::Duration;

    use async_nats::jetstream::{self, consumer, stream};
    use futures_util::StreamExt;
    use serde_json::Value;

    use super::{token, Notifier, Registry};
    use crate::relay::log;
    use crate::relay::storage::{BoxFut, StoreError};

    const STREAM: &str = "SEALWIRE_RELAY_NOTIFY";
    const PREFIX: &str = "sealwire.notify.";

    /// Notifications through a JetStream stream (`SEALWIRE_RELAY_NOTIFY`, subjects
    /// `sealwire.notify.*`, in memory, kept one minute): every relay process publishes its
    /// deposits and follows the stream with an ordered consumer from "now on".
    pub struct NatsNotifier {
        registry: Arc<Registry>,
        js: jetstream::Context,
        _follower: tokio::task::JoinHandle<()>,
    }

    fn nerr(what: &str) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> StoreError + '_ {
        move |e| StoreError(format!("nats {what}: {e}"))
    }

    impl NatsNotifier {
        pub async fn connect(url: &str) -> Result<Self, StoreError> {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(5))
                .connect(url)
                .await
                .map_err(|e| StoreError(format!("nats connect: {e}")))?;
            let js = jetstream::new(client);
            let s = js
                .get_or_create_stream(stream::Config {
                    name: STREAM.to_owned(),
                    subjects: vec![format!("{PREFIX}*")],
                    storage: stream::StorageType::Memory,
                    max_age: Duration::from_secs(60),
                    ..Default::default()
                })
                .await
                .map_err(|e| nerr("stream")(Box::new(e)))?;
            let c = s
                .create_consumer(consumer::pull::OrderedConfig {
                    deliver_policy: consumer::DeliverPolicy::New,
                    filter_subject: format!("{PREFIX}*"),
                    ..Default::default()
                })
                .await
                .map_err(|e| nerr("consumer")(Box::new(e)))?;
            let mut messages = c.messages().await.map_err(|e| nerr("consumer")(Box::new(e)))?;
            let registry = Arc::new(Registry::default());
            let r = Arc::clone(&registry);
            let follower = tokio::spawn(async move {
                while let Some(m) = messages.next().await {
                    match m {
                        Ok(m) => {
                            if let Some(t) = m.subject.as_str().strip_prefix(PREFIX).and_then(parse_token) {
                                r.wake(&t);
                            }
                        }
                        Err(e) => {
                            log::event("error", "nats_error", &[("detail", Value::from(e.to_string()))]);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            });
            Ok(Self { registry, js, _follower: follower })
        }
    }

    fn parse_token(s: &str) -> Option<[u8; 16]> {
        sealwire::relay::hex_array::<16>(s, "token").ok()
    }

    impl Drop for NatsNotifier {
        fn drop(&mut self) {
            self._follower.abort();
        }
    }

    impl Notifier for NatsNotifier {
        fn name(&self) -> &'static str {
            "nats"
        }
        fn registry(&self) -> &Registry {
            &self.registry
        }
        fn notify(&self, address: [u8; 32]) -> BoxFut<'_, ()> {
            let t = token(&address);
            self.registry.wake(&t);
            Box::pin(async move {
                let subject = format!("{PREFIX}{}", sealwire::relay::hex_lower(&t));
                let ack = self.js.publish(subject, axum::body::Bytes::new()).await.map_err(|e| nerr("publish")(Box::new(e)))?;
                ack.await.map_err(|e| nerr("publish ack")(Box::new(e)))?;
                Ok(())
            })
        }
    }
}
