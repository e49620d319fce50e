//! The SQLite backend: one file, WAL, `synchronous=FULL` (a 2xx answer means the write is on
//! disk), one connection behind a mutex (SQLite has one writer anyway), every operation one
//! `BEGIN IMMEDIATE` transaction on a blocking thread.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sealwire::relay::BundleParts;

use super::{Backend, BoxFut, Claim, Deposit, IdentityAndMailbox, Listed, Page, PrekeyCounts, Quota, StoreError};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE bundles (
    owner BLOB PRIMARY KEY CHECK (length(owner) = 32),
    identity BLOB NOT NULL,
    head BLOB NOT NULL,
    post_quantum INTEGER NOT NULL,
    last_resort BLOB,
    mailbox BLOB,
    max_one_time INTEGER NOT NULL,
    max_kem INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE one_time (owner BLOB NOT NULL, id INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (owner, id)) WITHOUT ROWID;
CREATE TABLE kem_one_time (owner BLOB NOT NULL, id INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (owner, id)) WITHOUT ROWID;
CREATE TABLE mailboxes (
    address BLOB PRIMARY KEY CHECK (length(address) = 32),
    messages INTEGER NOT NULL,
    bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    address BLOB NOT NULL,
    deposit_id BLOB NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (address, deposit_id)
);
CREATE INDEX messages_by_address ON messages (address, seq);
CREATE TABLE nonces (key BLOB NOT NULL, nonce BLOB NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY (key, nonce)) WITHOUT ROWID;
CREATE INDEX nonces_by_expiry ON nonces (expires);
";

/// The SQLite backend.
pub struct SqliteBackend {
    conn: Arc<Mutex<Connection>>,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError(format!("sqlite: {e}"))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl SqliteBackend {
    /// Open (or create) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.pragma_update(None, "secure_delete", "ON").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)?;
        if version == 0 {
            let tables: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(err)?;
            if tables != 0 {
                return Err(StoreError("the database is not empty and is not a relay database".into()));
            }
            conn.execute_batch(&format!("BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))
                .map_err(err)?;
        } else if version != SCHEMA_VERSION {
            return Err(StoreError(format!("unsupported relay database schema version {version}")));
        }
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Run `f` in one immediate transaction on a blocking thread.
    fn tx<T, F>(&self, f: F) -> BoxFut<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut c = conn.lock().map_err(|_| StoreError("sqlite connection lock poisoned".into()))?;
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
                let out = f(&tx).map_err(err)?;
                tx.commit().map_err(err)?;
                Ok(out)
            })
            .await
            .map_err(|_| StoreError("sqlite worker failed".into()))?
        })
    }
}

fn counts(tx: &rusqlite::Transaction<'_>, owner: &[u8; 32], post_quantum: bool) -> Result<PrekeyCounts, rusqlite::Error> {
    let one_time: i64 = tx.query_row("SELECT count(*) FROM one_time WHERE owner = ?1", [&owner[..]], |r| r.get(0))?;
    let kem: i64 = tx.query_row("SELECT count(*) FROM kem_one_time WHERE owner = ?1", [&owner[..]], |r| r.get(0))?;
    Ok(PrekeyCounts { one_time: to_u64(one_time), kem_one_time: to_u64(kem), post_quantum })
}

/// Replace the rows of one one-time kind: drop stored rows the owner no longer has, add
/// those above the high-water mark. Returns the new mark.
fn sync_rows(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    owner: &[u8; 32],
    rows: &[(u32, Vec<u8>)],
    mark: i64,
) -> Result<i64, rusqlite::Error> {
    let keep: BTreeSet<u32> = rows.iter().map(|(id, _)| *id).collect();
    let stored: Vec<i64> = {
        let mut st = tx.prepare(&format!("SELECT id FROM {table} WHERE owner = ?1"))?;
        let it = st.query_map([&owner[..]], |r| r.get::<_, i64>(0))?;
        it.collect::<Result<_, _>>()?
    };
    for id in stored {
        if !u32::try_from(id).is_ok_and(|i| keep.contains(&i)) {
            tx.execute(&format!("DELETE FROM {table} WHERE owner = ?1 AND id = ?2"), params![&owner[..], id])?;
        }
    }
    let mut new_mark = mark;
    for (id, entry) in rows {
        let id = i64::from(*id);
        if id > mark {
            tx.execute(
                &format!("INSERT OR IGNORE INTO {table} (owner, id, entry) VALUES (?1, ?2, ?3)"),
                params![&owner[..], id, entry],
            )?;
            new_mark = new_mark.max(id);
        }
    }
    Ok(new_mark)
}

/// Delete and return the lowest-id row of one one-time kind.
fn take_lowest(tx: &rusqlite::Transaction<'_>, table: &str, owner: &[u8; 32]) -> Result<Option<Vec<u8>>, rusqlite::Error> {
    tx.query_row(
        &format!(
            "DELETE FROM {table} WHERE owner = ?1 AND id = (SELECT min(id) FROM {table} WHERE owner = ?1) RETURNING entry"
        ),
        [&owner[..]],
        |r| r.get(0),
    )
    .optional()
}

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn health(&self) -> BoxFut<'_, ()> {
        self.tx(|tx| tx.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn record_nonce(&self, key: [u8; 32], nonce: [u8; 16], expires: u64) -> BoxFut<'_, bool> {
        self.tx(move |tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO nonces (key, nonce, expires) VALUES (?1, ?2, ?3)",
                params![&key[..], &nonce[..], to_i64(expires)],
            )?;
            Ok(n == 1)
        })
    }

    fn purge_nonces(&self, now: u64) -> BoxFut<'_, u64> {
        self.tx(move |tx| Ok(tx.execute("DELETE FROM nonces WHERE expires < ?1", [to_i64(now)])? as u64))
    }

    fn publish(
        &self,
        parts: BundleParts,
        identity: Vec<u8>,
        mailbox: Option<Vec<u8>>,
        reset: bool,
    ) -> BoxFut<'_, PrekeyCounts> {
        self.tx(move |tx| {
            let owner = parts.owner;
            let marks: Option<(i64, i64)> = tx
                .query_row("SELECT max_one_time, max_kem FROM bundles WHERE owner = ?1", [&owner[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let (m1, m2) = match marks {
                Some(m) if !reset => m,
                _ => {
                    tx.execute("DELETE FROM one_time WHERE owner = ?1", [&owner[..]])?;
                    tx.execute("DELETE FROM kem_one_time WHERE owner = ?1", [&owner[..]])?;
                    (0, 0)
                }
            };
            let m1 = sync_rows(tx, "one_time", &owner, &parts.one_time, m1)?;
            let m2 = sync_rows(tx, "kem_one_time", &owner, &parts.kem_one_time, m2)?;
            tx.execute(
                "INSERT INTO bundles (owner, identity, head, post_quantum, last_resort, mailbox, max_one_time, max_kem)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (owner) DO UPDATE SET identity = excluded.identity, head = excluded.head,
                   post_quantum = excluded.post_quantum, last_resort = excluded.last_resort,
                   mailbox = excluded.mailbox, max_one_time = excluded.max_one_time, max_kem = excluded.max_kem",
                params![&owner[..], identity, parts.head, parts.post_quantum, parts.kem_last_resort, mailbox, m1, m2],
            )?;
            counts(tx, &owner, parts.post_quantum)
        })
    }

    fn status(&self, owner: [u8; 32]) -> BoxFut<'_, Option<PrekeyCounts>> {
        self.tx(move |tx| {
            let pq: Option<bool> = tx
                .query_row("SELECT post_quantum FROM bundles WHERE owner = ?1", [&owner[..]], |r| r.get(0))
                .optional()?;
            pq.map(|pq| counts(tx, &owner, pq)).transpose()
        })
    }

    fn claim(&self, owner: [u8; 32]) -> BoxFut<'_, Option<Claim>> {
        self.tx(move |tx| {
            type Row = (Vec<u8>, bool, Option<Vec<u8>>, Option<Vec<u8>>);
            let row: Option<Row> = tx
                .query_row(
                    "SELECT head, post_quantum, last_resort, mailbox FROM bundles WHERE owner = ?1",
                    [&owner[..]],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((head, post_quantum, last_resort, mailbox)) = row else { return Ok(None) };
            let one_time = take_lowest(tx, "one_time", &owner)?;
            let (kem, kem_one_time) = if post_quantum {
                match take_lowest(tx, "kem_one_time", &owner)? {
                    Some(k) => (Some(k), true),
                    None => (last_resort, false),
                }
            } else {
                (None, false)
            };
            Ok(Some(Claim { head, one_time, kem, kem_one_time, mailbox }))
        })
    }

    fn mailbox_of(&self, owner: [u8; 32]) -> BoxFut<'_, Option<IdentityAndMailbox>> {
        self.tx(move |tx| {
            tx.query_row("SELECT identity, mailbox FROM bundles WHERE owner = ?1", [&owner[..]], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
    }

    fn open_mailbox(&self, address: [u8; 32]) -> BoxFut<'_, bool> {
        self.tx(move |tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO mailboxes (address, messages, bytes) VALUES (?1, 0, 0)",
                [&address[..]],
            )?;
            Ok(n == 1)
        })
    }

    fn deposit(&self, address: [u8; 32], deposit_id: [u8; 32], body: Vec<u8>, quota: Quota) -> BoxFut<'_, Deposit> {
        self.tx(move |tx| {
            let usage: Option<(i64, i64)> = tx
                .query_row("SELECT messages, bytes FROM mailboxes WHERE address = ?1", [&address[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((messages, bytes)) = usage else { return Ok(Deposit::UnknownMailbox) };
            let dup: Option<i64> = tx
                .query_row(
                    "SELECT seq FROM messages WHERE address = ?1 AND deposit_id = ?2",
                    params![&address[..], &deposit_id[..]],
                    |r| r.get(0),
                )
                .optional()?;
            if dup.is_some() {
                return Ok(Deposit::Duplicate);
            }
            let len = body.len() as u64;
            if to_u64(messages) + 1 > quota.max_messages || to_u64(bytes) + len > quota.max_bytes {
                return Ok(Deposit::Full);
            }
            tx.execute(
                "INSERT INTO messages (address, deposit_id, body) VALUES (?1, ?2, ?3)",
                params![&address[..], &deposit_id[..], body],
            )?;
            tx.execute(
                "UPDATE mailboxes SET messages = messages + 1, bytes = bytes + ?2 WHERE address = ?1",
                params![&address[..], to_i64(len)],
            )?;
            Ok(Deposit::Stored)
        })
    }

    fn list(&self, address: [u8; 32], after: u64, limit: u32, bodies: Option<u64>) -> BoxFut<'_, Option<Page>> {
        self.tx(move |tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM mailboxes WHERE address = ?1", [&address[..]], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            let mut st = tx.prepare(
                "SELECT seq, deposit_id, CASE WHEN ?4 THEN body END FROM messages
                 WHERE address = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = st.query_map(params![&address[..], to_i64(after), i64::from(limit) + 1, bodies.is_some()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Option<Vec<u8>>>(2)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, id, body) = row?;
                let mut d = [0u8; 32];
                if id.len() == 32 {
                    d.copy_from_slice(&id);
                }
                out.push(Listed { seq: to_u64(seq), deposit_id: d, body });
            }
            Ok(Some(super::page(out, limit, bodies)))
        })
    }

    fn fetch(&self, address: [u8; 32], seq: u64) -> BoxFut<'_, Option<Vec<u8>>> {
        self.tx(move |tx| {
            tx.query_row(
                "SELECT body FROM messages WHERE address = ?1 AND seq = ?2",
                params![&address[..], to_i64(seq)],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn ack_many(&self, address: [u8; 32], seqs: Vec<u64>) -> BoxFut<'_, u64> {
        self.tx(move |tx| {
            let (mut n, mut bytes) = (0i64, 0i64);
            for seq in seqs {
                let len: Option<i64> = tx
                    .query_row(
                        "DELETE FROM messages WHERE address = ?1 AND seq = ?2 RETURNING length(body)",
                        params![&address[..], to_i64(seq)],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(len) = len {
                    n += 1;
                    bytes += len;
                }
            }
            if n > 0 {
                tx.execute(
                    "UPDATE mailboxes SET messages = messages - ?2, bytes = bytes - ?3 WHERE address = ?1",
                    params![&address[..], n, bytes],
                )?;
            }
            Ok(to_u64(n))
        })
    }

    fn ack(&self, address: [u8; 32], seq: u64) -> BoxFut<'_, bool> {
        self.tx(move |tx| {
            let len: Option<i64> = tx
                .query_row(
                    "DELETE FROM messages WHERE address = ?1 AND seq = ?2 RETURNING length(body)",
                    params![&address[..], to_i64(seq)],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(len) = len {
                tx.execute(
                    "UPDATE mailboxes SET messages = messages - 1, bytes = bytes - ?2 WHERE address = ?1",
                    params![&address[..], len],
                )?;
            }
            Ok(len.is_some())
        })
    }
}
