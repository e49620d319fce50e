//! [`SqliteStore`]: the default persistent [`SessionStore`], one SQLite file (feature
//! `sqlite`, SQLite compiled from the bundled amalgamation).
//!
//! Settings and why:
//! * `journal_mode=WAL` — a commit is one append to the write-ahead log (no rewrite of the
//!   database file), readers do not block the writer, and a torn write at a crash is
//!   detected by the WAL frame checksums and rolled back on the next open.
//! * `synchronous=FULL` — the WAL is fsynced at every commit, so a commit that returned
//!   survives power loss, not just a process crash (`NORMAL` in WAL mode may lose the last
//!   commits on power loss: exactly the case where a sent ciphertext's state would be
//!   lost).
//! * `BEGIN IMMEDIATE` for every commit — the write lock is taken up front; the counter
//!   check inside the transaction then makes a concurrent writer fail cleanly
//!   ([`Error::StoreConflict`]) instead of interleaving.
//! * `secure_delete=ON` — deleted rows (old sealed states, acknowledged plaintexts) are
//!   overwritten with zeros in the database file. Old WAL frames still hold earlier
//!   versions until the WAL is checkpointed and truncated ([`SqliteStore::checkpoint`]);
//!   everything is sealed under the storage key either way.
//!
//! Schema (version 1, in `PRAGMA user_version`) and transaction boundaries: `docs/STORE.md`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior};

use super::traits::{InboxRecord, MessageId, OutboxRecord, PeerId, ReceiveCommit, SessionStore};
use crate::error::{Error, Result};

/// Schema version kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE meta (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL CHECK (counter >= 0)
);
INSERT INTO meta (id, counter) VALUES (1, 0);
CREATE TABLE identity (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB NOT NULL
);
CREATE TABLE prekeys (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB NOT NULL
);
CREATE TABLE sessions (
    peer   BLOB PRIMARY KEY CHECK (length(peer) = 32),
    sealed BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    peer       BLOB NOT NULL CHECK (length(peer) = 32),
    message_id BLOB NOT NULL CHECK (length(message_id) = 32),
    ciphertext BLOB NOT NULL
);
CREATE TABLE inbox (
    id         INTEGER PRIMARY KEY,
    peer       BLOB NOT NULL CHECK (length(peer) = 32),
    message_id BLOB NOT NULL CHECK (length(message_id) = 32),
    sealed     BLOB NOT NULL
);
CREATE TABLE seen (
    message_id BLOB PRIMARY KEY CHECK (length(message_id) = 32),
    counter    INTEGER NOT NULL
) WITHOUT ROWID;
";

/// A [`SessionStore`] in one SQLite database file (WAL, `synchronous=FULL`, one
/// transaction per commit).
pub struct SqliteStore {
    conn: Connection,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SqliteStore")
    }
}

/// Map a SQLite error: constraint violations (a duplicate message id or record id) are
/// conflicts with an earlier commit; everything else is a storage failure.
fn db(what: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |e| match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => Error::StoreConflict,
        _ => Error::Storage(what),
    }
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::Storage("counter beyond SQLite's integer range"))
}

fn to_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Storage("negative id or counter in the database"))
}

fn peer_from(v: Vec<u8>) -> Result<PeerId> {
    v.try_into().map_err(|_| Error::Storage("peer id of the wrong length in the database"))
}

impl SqliteStore {
    /// Open (or create) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let conn = Connection::open(path).map_err(db("cannot open the database"))?;
        Self::init(conn, true)
    }

    /// A store in memory (tests): same schema and transactions, no durability.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(db("cannot open an in-memory database"))?;
        Self::init(conn, false)
    }

    fn init(mut conn: Connection, wal: bool) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(db("cannot set busy_timeout"))?;
        if wal {
            let mode: String = conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                .map_err(db("cannot enable WAL"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::Storage("the database refused WAL mode"));
            }
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;")
            .map_err(db("cannot set pragmas"))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("cannot begin the schema transaction"))?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db("cannot read the schema version"))?;
        match version {
            0 => {
                let tables: i64 = tx
                    .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                    .map_err(db("cannot inspect the database"))?;
                if tables != 0 {
                    return Err(Error::Storage("the database holds other tables: not a sealwire store"));
                }
                tx.execute_batch(SCHEMA).map_err(db("cannot create the schema"))?;
                tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
                    .map_err(db("cannot set the schema version"))?;
            }
            SCHEMA_VERSION => {}
            v => {
                return Err(Error::UnsupportedVersion {
                    what: "store schema",
                    version: u8::try_from(v).unwrap_or(u8::MAX),
                })
            }
        }
        tx.commit().map_err(db("cannot commit the schema"))?;
        Ok(Self { conn })
    }

    /// Checkpoint the write-ahead log into the database file and truncate it, so that old
    /// versions of sealed records no longer linger in the WAL. Cheap; call it now and then
    /// (SQLite also checkpoints automatically every 1000 pages, without truncating).
    pub fn checkpoint(&mut self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(db("cannot checkpoint the WAL"))
    }

    /// Begin an immediate transaction and advance the counter to `counter`, which must be
    /// the current one plus one.
    fn begin(&mut self, counter: u64) -> Result<Transaction<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("cannot begin a transaction"))?;
        let previous = counter.checked_sub(1).ok_or(Error::StoreConflict)?;
        let n = tx
            .execute(
                "UPDATE meta SET counter = ?1 WHERE id = 1 AND counter = ?2",
                params![to_i64(counter)?, to_i64(previous)?],
            )
            .map_err(db("cannot advance the counter"))?;
        if n != 1 {
            return Err(Error::StoreConflict);
        }
        Ok(tx)
    }

    fn load_one(&self, sql: &str, what: &'static str) -> Result<Option<Vec<u8>>> {
        self.conn.query_row(sql, [], |r| r.get(0)).optional().map_err(db(what))
    }
}

fn put_session(tx: &Transaction<'_>, peer: &PeerId, sealed: &[u8]) -> Result<()> {
    tx.execute(
        "INSERT INTO sessions (peer, sealed) VALUES (?1, ?2)
         ON CONFLICT (peer) DO UPDATE SET sealed = excluded.sealed",
        params![&peer[..], sealed],
    )
    .map_err(db("cannot write the session record"))?;
    Ok(())
}

fn put_prekeys(tx: &Transaction<'_>, sealed: &[u8]) -> Result<()> {
    tx.execute(
        "INSERT INTO prekeys (id, sealed) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed",
        params![sealed],
    )
    .map_err(db("cannot write the prekeys"))?;
    Ok(())
}

fn commit(tx: Transaction<'_>) -> Result<()> {
    tx.commit().map_err(db("cannot commit"))
}

impl SessionStore for SqliteStore {
    fn counter(&self) -> Result<u64> {
        let c: i64 = self
            .conn
            .query_row("SELECT counter FROM meta WHERE id = 1", [], |r| r.get(0))
            .map_err(db("cannot read the counter"))?;
        to_u64(c)
    }

    fn load_identity(&self) -> Result<Option<Vec<u8>>> {
        self.load_one("SELECT sealed FROM identity WHERE id = 1", "cannot read the identity")
    }

    fn load_prekeys(&self) -> Result<Option<Vec<u8>>> {
        self.load_one("SELECT sealed FROM prekeys WHERE id = 1", "cannot read the prekeys")
    }

    fn load_session(&self, peer: &PeerId) -> Result<Option<Vec<u8>>> {
        self.conn
            .query_row("SELECT sealed FROM sessions WHERE peer = ?1", params![&peer[..]], |r| r.get(0))
            .optional()
            .map_err(db("cannot read a session record"))
    }

    fn peers(&self) -> Result<Vec<PeerId>> {
        let mut stmt = self.conn.prepare("SELECT peer FROM sessions").map_err(db("cannot list peers"))?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).map_err(db("cannot list peers"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(peer_from(row.map_err(db("cannot list peers"))?)?);
        }
        Ok(out)
    }

    fn seen(&self, message_id: &MessageId) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM seen WHERE message_id = ?1", params![&message_id[..]], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(db("cannot look up a message id"))
    }

    fn pending_outbox(&self) -> Result<Vec<OutboxRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, peer, message_id, ciphertext FROM outbox ORDER BY id")
            .map_err(db("cannot read the outbox"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, Vec<u8>>(3)?))
            })
            .map_err(db("cannot read the outbox"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, peer, mid, ciphertext) = row.map_err(db("cannot read the outbox"))?;
            out.push(OutboxRecord { id: to_u64(id)?, peer: peer_from(peer)?, message_id: peer_from(mid)?, ciphertext });
        }
        Ok(out)
    }

    fn pending_inbox(&self) -> Result<Vec<InboxRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, peer, message_id, sealed FROM inbox ORDER BY id")
            .map_err(db("cannot read the inbox"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, Vec<u8>>(3)?))
            })
            .map_err(db("cannot read the inbox"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, peer, mid, sealed) = row.map_err(db("cannot read the inbox"))?;
            out.push(InboxRecord { id: to_u64(id)?, peer: peer_from(peer)?, message_id: peer_from(mid)?, sealed });
        }
        Ok(out)
    }

    fn commit_identity(&mut self, counter: u64, identity: &[u8], prekeys: &[u8]) -> Result<()> {
        // The one commit that may move the counter ahead by more than one.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("cannot begin a transaction"))?;
        let n = tx
            .execute("UPDATE meta SET counter = ?1 WHERE id = 1 AND counter < ?1", params![to_i64(counter)?])
            .map_err(db("cannot advance the counter"))?;
        if n != 1 {
            return Err(Error::StoreConflict);
        }
        // A second identity violates the primary key: StoreConflict.
        tx.execute("INSERT INTO identity (id, sealed) VALUES (1, ?1)", params![identity])
            .map_err(db("cannot write the identity"))?;
        put_prekeys(&tx, prekeys)?;
        commit(tx)
    }

    fn commit_prekeys(&mut self, counter: u64, prekeys: &[u8]) -> Result<()> {
        let tx = self.begin(counter)?;
        put_prekeys(&tx, prekeys)?;
        commit(tx)
    }

    fn commit_session(&mut self, counter: u64, peer: &PeerId, session: &[u8]) -> Result<()> {
        let tx = self.begin(counter)?;
        put_session(&tx, peer, session)?;
        commit(tx)
    }

    fn commit_send(&mut self, counter: u64, peer: &PeerId, session: &[u8], outbox: &OutboxRecord) -> Result<()> {
        if outbox.id != counter {
            return Err(Error::StoreConflict);
        }
        let tx = self.begin(counter)?;
        put_session(&tx, peer, session)?;
        tx.execute(
            "INSERT INTO outbox (id, peer, message_id, ciphertext) VALUES (?1, ?2, ?3, ?4)",
            params![to_i64(outbox.id)?, &outbox.peer[..], &outbox.message_id[..], &outbox.ciphertext],
        )
        .map_err(db("cannot write the outbox record"))?;
        commit(tx)
    }

    fn commit_receive(&mut self, c: &ReceiveCommit<'_>) -> Result<()> {
        if c.inbox.id != c.counter {
            return Err(Error::StoreConflict);
        }
        let tx = self.begin(c.counter)?;
        put_session(&tx, c.peer, c.session)?;
        if let Some(p) = c.prekeys {
            put_prekeys(&tx, p)?;
        }
        // A message id seen before violates the primary key: StoreConflict, nothing written.
        tx.execute(
            "INSERT INTO seen (message_id, counter) VALUES (?1, ?2)",
            params![&c.message_id[..], to_i64(c.counter)?],
        )
        .map_err(db("cannot record the message id"))?;
        tx.execute(
            "INSERT INTO inbox (id, peer, message_id, sealed) VALUES (?1, ?2, ?3, ?4)",
            params![to_i64(c.inbox.id)?, &c.inbox.peer[..], &c.inbox.message_id[..], &c.inbox.sealed],
        )
        .map_err(db("cannot write the inbox record"))?;
        commit(tx)
    }

    fn mark_sent(&mut self, outbox_id: u64) -> Result<()> {
        self.conn
            .execute("DELETE FROM outbox WHERE id = ?1", params![to_i64(outbox_id)?])
            .map_err(db("cannot delete the outbox record"))?;
        Ok(())
    }

    fn ack(&mut self, inbox_id: u64) -> Result<()> {
        self.conn
            .execute("DELETE FROM inbox WHERE id = ?1", params![to_i64(inbox_id)?])
            .map_err(db("cannot delete the inbox record"))?;
        Ok(())
    }
}
