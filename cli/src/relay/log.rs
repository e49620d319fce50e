//! Structured logs: one JSON object per line on stderr. Callers pass only what is allowed
//! to be logged (docs/RELAY.md): never identities, mailbox addresses, deposit ids, nonces,
//! signatures or sizes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silence the log (the relay embedded in `sealwire demo`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Write one log line: `{"ts_ms":…,"level":…,"event":…, fields…}`.
pub fn event(level: &str, event: &str, fields: &[(&str, Value)]) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let mut m = Map::new();
    m.insert("ts_ms".into(), Value::from(u64::try_from(ts).unwrap_or(u64::MAX)));
    m.insert("level".into(), Value::from(level));
    m.insert("event".into(), Value::from(event));
    for (k, v) in fields {
        m.insert((*k).into(), v.clone());
    }
    eprintln!("{}", Value::Object(m));
}
