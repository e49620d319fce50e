//! The PostgreSQL backend (several relay processes share one database): the same tables
//! and transactions as SQLite, with row locks where SQLite relies on its single writer:
//!
//! * claims take the lowest one-time row with `FOR UPDATE SKIP LOCKED` and delete it, so two
//!   concurrent claims (in any processes) never get the same row;
//! * deposits lock their mailbox row (`FOR UPDATE`): quotas hold, and per mailbox the
//!   sequence numbers are in commit order;
//! * publications of one owner are serialized by a transaction-scoped advisory lock.
//!
//! Errors are reported by SQLSTATE only: PostgreSQL's messages can quote key values
//! (addresses), which must not reach the logs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use sealwire::relay::BundleParts;
use tokio::sync::Semaphore;
use tokio_postgres::{Client, NoTls, Transaction};

use super::{Backend, BoxFut, Claim, Deposit, IdentityAndMailbox, Listed, Page, PrekeyCounts, Quota, StoreError};

const POOL_SIZE: usize = 8;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bundles (
    owner BYTEA PRIMARY KEY CHECK (length(owner) = 32),
    identity BYTEA NOT NULL,
    head BYTEA NOT NULL,
    post_quantum BOOLEAN NOT NULL,
    last_resort BYTEA,
    mailbox BYTEA,
    max_one_time BIGINT NOT NULL,
    max_kem BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS one_time (owner BYTEA NOT NULL, id BIGINT NOT NULL, entry BYTEA NOT NULL, PRIMARY KEY (owner, id));
CREATE TABLE IF NOT EXISTS kem_one_time (owner BYTEA NOT NULL, id BIGINT NOT NULL, entry BYTEA NOT NULL, PRIMARY KEY (owner, id));
CREATE TABLE IF NOT EXISTS mailboxes (
    address BYTEA PRIMARY KEY CHECK (length(address) = 32),
    messages BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq BIGSERIAL PRIMARY KEY,
    address BYTEA NOT NULL,
    deposit_id BYTEA NOT NULL,
    body BYTEA NOT NULL,
    UNIQUE (address, deposit_id)
);
CREATE INDEX IF NOT EXISTS messages_by_address ON messages (address, seq);
CREATE TABLE IF NOT EXISTS nonces (key BYTEA NOT NULL, nonce BYTEA NOT NULL, expires BIGINT NOT NULL, PRIMARY KEY (key, nonce));
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires);
";

fn err(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(c) => StoreError(format!("postgres: SQLSTATE {}", c.code())),
        None if e.is_closed() => StoreError("postgres: connection closed".into()),
        None => StoreError("postgres: connection or protocol error".into()),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A small pool of connections, each with `search_path` set to the relay's schema.
struct Pool {
    config: String,
    schema: String,
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
}

/// A pooled connection, returned on drop (unless closed).
struct Conn<'a> {
    pool: &'a Pool,
    client: Option<Client>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            if !c.is_closed() {
                if let Ok(mut idle) = self.pool.idle.lock() {
                    idle.push(c);
                }
            }
        }
    }
}

impl Pool {
    async fn connect(&self) -> Result<Client, StoreError> {
        let (client, connection) = tokio_postgres::connect(&self.config, NoTls).await.map_err(err)?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away.
            let _ = connection.await;
        });
        client.batch_execute(&format!("SET search_path TO {}", self.schema)).await.map_err(err)?;
        Ok(client)
    }

    async fn get(&self) -> Result<Conn<'_>, StoreError> {
        let permit = self.permits.acquire().await.map_err(|_| StoreError("postgres pool closed".into()))?;
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let client = match idle {
            Some(c) if !c.is_closed() => c,
            _ => self.connect().await?,
        };
        Ok(Conn { pool: self, client: Some(client), _permit: permit })
    }
}

/// The PostgreSQL backend.
pub struct PostgresBackend {
    pool: Arc<Pool>,
}

fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 48
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl PostgresBackend {
    /// Connect (libpq-style `config`, e.g. `host=127.0.0.1 port=5432 user=relay dbname=relay`)
    /// and create the schema and tables if missing.
    pub async fn open(config: &str, schema: &str) -> Result<Self, StoreError> {
        if !valid_schema(schema) {
            return Err(StoreError("--postgres-schema must be lower-case letters, digits and _".into()));
        }
        let pool = Arc::new(Pool {
            config: config.to_owned(),
            schema: schema.to_owned(),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(POOL_SIZE),
        });
        {
            let mut conn = pool.get().await?;
            let c = conn.client.as_mut().ok_or_else(|| StoreError("postgres pool".into()))?;
            let tx = c.transaction().await.map_err(err)?;
            // Several relay processes may start at once: one creates the tables.
            tx.execute("SELECT pg_advisory_xact_lock(7365616177697265)", &[]).await.map_err(err)?;
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path TO {schema}; {SCHEMA}"))
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
        }
        Ok(Self { pool })
    }
}

/// Run one transaction: `$body` is an async block using `$tx`.
macro_rules! with_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let pool = Arc::clone(&$self.pool);
        Box::pin(async move {
            let mut conn = pool.get().await?;
            let client = conn.client.as_mut().ok_or_else(|| StoreError("postgres pool".into()))?;
            let $tx = client.transaction().await.map_err(err)?;
            let out = $body;
            let out = out.map_err(err)?;
            $tx.commit().await.map_err(err)?;
            Ok(out)
        })
    }};
}

async fn counts(tx: &Transaction<'_>, owner: &[u8], post_quantum: bool) -> Result<PrekeyCounts, tokio_postgres::Error> {
    let a: i64 = tx.query_one("SELECT count(*) FROM one_time WHERE owner = $1", &[&owner]).await?.get(0);
    let b: i64 = tx.query_one("SELECT count(*) FROM kem_one_time WHERE owner = $1", &[&owner]).await?.get(0);
    Ok(PrekeyCounts { one_time: to_u64(a), kem_one_time: to_u64(b), post_quantum })
}

async fn sync_rows(
    tx: &Transaction<'_>,
    table: &str,
    owner: &[u8],
    rows: &[(u32, Vec<u8>)],
    mark: i64,
) -> Result<i64, tokio_postgres::Error> {
    let keep: BTreeSet<i64> = rows.iter().map(|(id, _)| i64::from(*id)).collect();
    let keep: Vec<i64> = keep.into_iter().collect();
    tx.execute(&format!("DELETE FROM {table} WHERE owner = $1 AND NOT (id = ANY($2))"), &[&owner, &keep]).await?;
    let mut new_mark = mark;
    for (id, entry) in rows {
        let id = i64::from(*id);
        if id > mark {
            tx.execute(
                &format!("INSERT INTO {table} (owner, id, entry) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"),
                &[&owner, &id, entry],
            )
            .await?;
            new_mark = new_mark.max(id);
        }
    }
    Ok(new_mark)
}

async fn take_lowest(tx: &Transaction<'_>, table: &str, owner: &[u8]) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    let row = tx
        .query_opt(
            &format!(
                "DELETE FROM {table} WHERE owner = $1 AND id = (SELECT id FROM {table} WHERE owner = $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING entry"
            ),
            &[&owner],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

fn advisory_key(owner: &[u8; 32]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&owner[..8]);
    i64::from_be_bytes(b)
}

impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn health(&self) -> BoxFut<'_, ()> {
        with_tx!(self, |tx| tx.query_one("SELECT 1", &[]).await.map(|_| ()))
    }

    fn record_nonce(&self, key: [u8; 32], nonce: [u8; 16], expires: u64) -> BoxFut<'_, bool> {
        with_tx!(self, |tx| tx
            .execute(
                "INSERT INTO nonces (key, nonce, expires) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&&key[..], &&nonce[..], &to_i64(expires)],
            )
            .await
            .map(|n| n == 1))
    }

    fn purge_nonces(&self, now: u64) -> BoxFut<'_, u64> {
        with_tx!(self, |tx| tx.execute("DELETE FROM nonces WHERE expires < $1", &[&to_i64(now)]).await)
    }

    fn publish(
        &self,
        parts: BundleParts,
        identity: Vec<u8>,
        mailbox: Option<Vec<u8>>,
        reset: bool,
    ) -> BoxFut<'_, PrekeyCounts> {
        with_tx!(self, |tx| async {
            let owner = &parts.owner[..];
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&advisory_key(&parts.owner)]).await?;
            let marks = tx.query_opt("SELECT max_one_time, max_kem FROM bundles WHERE owner = $1", &[&owner]).await?;
            let (m1, m2): (i64, i64) = match marks {
                Some(r) if !reset => (r.get(0), r.get(1)),
                _ => {
                    tx.execute("DELETE FROM one_time WHERE owner = $1", &[&owner]).await?;
                    tx.execute("DELETE FROM kem_one_time WHERE owner = $1", &[&owner]).await?;
                    (0, 0)
                }
            };
            let m1 = sync_rows(&tx, "one_time", owner, &parts.one_time, m1).await?;
            let m2 = sync_rows(&tx, "kem_one_time", owner, &parts.kem_one_time, m2).await?;
            tx.execute(
                "INSERT INTO bundles (owner, identity, head, post_quantum, last_resort, mailbox, max_one_time, max_kem)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (owner) DO UPDATE SET identity = excluded.identity, head = excluded.head,
                   post_quantum = excluded.post_quantum, last_resort = excluded.last_resort,
                   mailbox = excluded.mailbox, max_one_time = excluded.max_one_time, max_kem = excluded.max_kem",
                &[&owner, &identity, &parts.head, &parts.post_quantum, &parts.kem_last_resort, &mailbox, &m1, &m2],
            )
            .await?;
            counts(&tx, owner, parts.post_quantum).await
        }
        .await)
    }

    fn status(&self, owner: [u8; 32]) -> BoxFut<'_, Option<PrekeyCounts>> {
        with_tx!(self, |tx| async {
            let o = &owner[..];
            match tx.query_opt("SELECT post_quantum FROM bundles WHERE owner = $1", &[&o]).await? {
                Some(r) => counts(&tx, o, r.get(0)).await.map(Some),
                None => Ok(None),
            }
        }
        .await)
    }

    fn claim(&self, owner: [u8; 32]) -> BoxFut<'_, Option<Claim>> {
        with_tx!(self, |tx| async {
            let o = &owner[..];
            let Some(row) =
                tx.query_opt("SELECT head, post_quantum, last_resort, mailbox FROM bundles WHERE owner = $1", &[&o]).await?
            else {
                return Ok(None);
            };
            let head: Vec<u8> = row.get(0);
            let post_quantum: bool = row.get(1);
            let last_resort: Option<Vec<u8>> = row.get(2);
            let mailbox: Option<Vec<u8>> = row.get(3);
            let one_time = take_lowest(&tx, "one_time", o).await?;
            let (kem, kem_one_time) = if post_quantum {
                match take_lowest(&tx, "kem_one_time", o).await? {
                    Some(k) => (Some(k), true),
                    None => (last_resort, false),
                }
            } else {
                (None, false)
            };
            Ok(Some(Claim { head, one_time, kem, kem_one_time, mailbox }))
        }
        .await)
    }

    fn mailbox_of(&self, owner: [u8; 32]) -> BoxFut<'_, Option<IdentityAndMailbox>> {
        with_tx!(self, |tx| tx
            .query_opt("SELECT identity, mailbox FROM bundles WHERE owner = $1", &[&&owner[..]])
            .await
            .map(|r| r.map(|r| (r.get(0), r.get(1)))))
    }

    fn open_mailbox(&self, address: [u8; 32]) -> BoxFut<'_, bool> {
        with_tx!(self, |tx| tx
            .execute(
                "INSERT INTO mailboxes (address, messages, bytes) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING",
                &[&&address[..]],
            )
            .await
            .map(|n| n == 1))
    }

    fn deposit(&self, address: [u8; 32], deposit_id: [u8; 32], body: Vec<u8>, quota: Quota) -> BoxFut<'_, Deposit> {
        with_tx!(self, |tx| async {
            let a = &address[..];
            let d = &deposit_id[..];
            let Some(usage) = tx.query_opt("SELECT messages, bytes FROM mailboxes WHERE address = $1 FOR UPDATE", &[&a]).await?
            else {
                return Ok(Deposit::UnknownMailbox);
            };
            let (messages, bytes): (i64, i64) = (usage.get(0), usage.get(1));
            if tx.query_opt("SELECT 1 FROM messages WHERE address = $1 AND deposit_id = $2", &[&a, &d]).await?.is_some() {
                return Ok(Deposit::Duplicate);
            }
            let len = body.len() as u64;
            if to_u64(messages) + 1 > quota.max_messages || to_u64(bytes) + len > quota.max_bytes {
                return Ok(Deposit::Full);
            }
            tx.execute("INSERT INTO messages (address, deposit_id, body) VALUES ($1, $2, $3)", &[&a, &d, &body]).await?;
            tx.execute(
                "UPDATE mailboxes SET messages = messages + 1, bytes = bytes + $2 WHERE address = $1",
                &[&a, &to_i64(len)],
            )
            .await?;
            Ok(Deposit::Stored)
        }
        .await)
    }

    fn list(&self, address: [u8; 32], after: u64, limit: u32, bodies: Option<u64>) -> BoxFut<'_, Option<Page>> {
        with_tx!(self, |tx| async {
            let a = &address[..];
            if tx.query_opt("SELECT 1 FROM mailboxes WHERE address = $1", &[&a]).await?.is_none() {
                return Ok(None);
            }
            let rows = tx
                .query(
                    "SELECT seq, deposit_id, CASE WHEN $4 THEN body END FROM messages
                     WHERE address = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    &[&a, &to_i64(after), &(i64::from(limit) + 1), &bodies.is_some()],
                )
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let seq: i64 = r.get(0);
                let id: Vec<u8> = r.get(1);
                let mut d = [0u8; 32];
                if id.len() == 32 {
                    d.copy_from_slice(&id);
                }
                out.push(Listed { seq: to_u64(seq), deposit_id: d, body: r.get(2) });
            }
            Ok(Some(super::page(out, limit, bodies)))
        }
        .await)
    }

    fn fetch(&self, address: [u8; 32], seq: u64) -> BoxFut<'_, Option<Vec<u8>>> {
        with_tx!(self, |tx| tx
            .query_opt("SELECT body FROM messages WHERE address = $1 AND seq = $2", &[&&address[..], &to_i64(seq)])
            .await
            .map(|r| r.map(|r| r.get(0))))
    }

    fn ack_many(&self, address: [u8; 32], seqs: Vec<u64>) -> BoxFut<'_, u64> {
        with_tx!(self, |tx| async {
            let a = &address[..];
            let seqs: Vec<i64> = seqs.into_iter().map(to_i64).collect();
            let row = tx
                .query_one(
                    "WITH d AS (DELETE FROM messages WHERE address = $1 AND seq = ANY($2) RETURNING length(body)::BIGINT AS len)
                     SELECT count(*)::BIGINT, coalesce(sum(len), 0)::BIGINT FROM d",
                    &[&a, &seqs],
                )
                .await?;
            let (n, bytes): (i64, i64) = (row.get(0), row.get(1));
            if n > 0 {
                tx.execute(
                    "UPDATE mailboxes SET messages = messages - $2, bytes = bytes - $3 WHERE address = $1",
                    &[&a, &n, &bytes],
                )
                .await?;
            }
            Ok(to_u64(n))
        }
        .await)
    }

    fn ack(&self, address: [u8; 32], seq: u64) -> BoxFut<'_, bool> {
        with_tx!(self, |tx| async {
            let a = &address[..];
            let len = tx
                .query_opt(
                    "DELETE FROM messages WHERE address = $1 AND seq = $2 RETURNING length(body)::BIGINT",
                    &[&a, &to_i64(seq)],
                )
                .await?;
            if let Some(r) = &len {
                let n: i64 = r.get(0);
                tx.execute("UPDATE mailboxes SET messages = messages - 1, bytes = bytes - $2 WHERE address = $1", &[&a, &n])
                    .await?;
            }
            Ok(len.is_some())
        }
        .await)
    }
}
