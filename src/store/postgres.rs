//! The PostgreSQL backend (feature `postgres`): one database shared by any
//! number of minijwt instances.
//!
//! Each instance keeps a small bounded pool of connections (the same pool as
//! SQLite's, [`super::pool`]); the database decides what must have one
//! answer across instances: a rotation locks its token's row (`FOR UPDATE`)
//! for its transaction, a name is unique in any case by an index, the first
//! instance to start migrates while the others wait on an advisory lock.
//! Users are cached in each instance as on SQLite, and forgotten on every
//! instance when one deletes them: the deletion `NOTIFY`s, and each
//! instance `LISTEN`s on a connection of its own (see
//! [`super::Store::user_by_id`]). Failed logins are not cached: each
//! attempt is counted in the database.
//!
//! Every transaction that writes a user's refresh tokens locks that user's
//! row first (`Sql::lock_user`): rotations, revocations, logins and the
//! deletion of one user run one after another, in one lock order.
//!
//! The waits and what bounds them: a pooled connection and opening a TCP
//! connection, [`POOL_WAIT`]; a statement, `statement_timeout`; a row lock,
//! `lock_timeout`; a transaction left idle, `idle_in_transaction_session_timeout`
//! (the server's, set per connection below); a host that vanishes, TCP
//! keepalives and `TCP_USER_TIMEOUT`. Not bounded by the client: a server
//! (or a proxy before it) that accepts connections and then never answers,
//! during the start-up exchange or a statement.
//! No TLS: run it on the same host or a private network.

use std::prelude::rust_2021::*;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

use super::pool::Pool;
use super::{
    constant_time_eq, decide_rotation, display_location, Backend, RefreshRow, RotationTx, StoreError,
    UserCache, POOL_WAIT,
};
use crate::auth::{AuditEvent, Credentials, Note, RefreshRecord, Rotation, Session, User};

/// Connections per instance. Each is a server process on the database's
/// side: N instances hold up to N × 17 with each one's deletions' listener
/// (PostgreSQL's default limit is 100).
const MAX_CONNECTIONS: usize = 16;

/// Per connection: the longest a statement may run, a row lock be waited
/// for, and a transaction stay open while idle (a crashed client's).
const SESSION_OPTIONS: &str =
    "-c statement_timeout=5000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=10000";

/// The advisory lock held by the instance that migrates ("minijwt" in ASCII).
const MIGRATION_LOCK: i64 = 0x6d_696e_696a_7774;

/// Migrations: entry `i` upgrades the schema from version `i` to `i + 1`.
/// Append new entries; never edit one that has shipped. The same tables and
/// rules as SQLite's (`sqlite_schema.rs`), in PostgreSQL's words: names
/// unique without regard to case through an index on `lower(username)`
/// (names are ASCII only), ids never reused.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE users (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        username      TEXT NOT NULL,
        password_hash TEXT NOT NULL,                        -- Argon2id PHC string
        created_at    BIGINT NOT NULL
    );
    CREATE UNIQUE INDEX users_by_name ON users (lower(username));
    CREATE TABLE refresh_tokens (
        jti         TEXT PRIMARY KEY,
        token_hash  BYTEA NOT NULL UNIQUE,                  -- SHA-256 of the token, never the token
        user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        family      TEXT NOT NULL,                          -- one per login
        issued_at   BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL,
        rotated_at  BIGINT,
        revoked_at  BIGINT,
        replaced_by TEXT
    );
    CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family);
    CREATE INDEX refresh_tokens_by_user ON refresh_tokens(user_id);
    CREATE TABLE notes (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        text       TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX notes_by_user ON notes(user_id, created_at DESC, id DESC);
    CREATE TABLE sessions (
        id           TEXT PRIMARY KEY,                      -- the family
        user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at   BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL,
        user_agent   TEXT NOT NULL
    );
    CREATE INDEX sessions_by_user ON sessions(user_id);
    CREATE TABLE audit (
        id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at       BIGINT NOT NULL,
        event    TEXT NOT NULL,
        user_id  BIGINT,                                    -- no foreign key: kept after deletion
        username TEXT,
        address  TEXT,
        session  TEXT
    );
    CREATE INDEX audit_by_time ON audit(at);
    CREATE INDEX audit_by_user ON audit(lower(username), at);",
    // 1 -> 2: failed logins, shared by the instances' throttles.
    "CREATE TABLE login_failures (
        id  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key TEXT NOT NULL,                                  -- 'pair NAME ADDR', 'user NAME' or 'addr ADDR'
        at  BIGINT NOT NULL
    );
    CREATE INDEX login_failures_by_key ON login_failures(key, at);
    CREATE INDEX login_failures_by_time ON login_failures(at);",
];

/// How [`StoreError::Unavailable`] begins when the connection itself failed
/// (the server is down, unreachable, shutting down, or closed it): such a
/// connection, and the pool's idle ones opened before the same fault, are
/// closed. Any other unavailability (busy, read-only, full) keeps them.
const UNREACHABLE: &str = "database unreachable";

/// Whether `result` failed because the connection did.
fn connection_failed<T>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable(why)) if why.starts_with(UNREACHABLE))
}

/// A server's error as it may be shown: its code and message (neither holds
/// a secret; the client's own `Display` says only "db error").
fn db_error(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(e) => format!("{} ({})", e.message(), e.code().code()),
        None => error.to_string(),
    }
}

impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> Self {
        let Some(code) = error.code() else {
            // No answer from the server: it is down, unreachable or gone.
            let io = std::error::Error::source(&error).is_some_and(|s| s.is::<std::io::Error>());
            return if error.is_closed() || io || error.to_string().starts_with("timeout") {
                StoreError::Unavailable(format!("{UNREACHABLE}: {error}"))
            } else {
                StoreError::Internal(error.to_string())
            };
        };
        match code {
            // Only a UNIQUE rule is a conflict the caller can explain.
            c if *c == SqlState::UNIQUE_VIOLATION => StoreError::Conflict,
            c if *c == SqlState::READ_ONLY_SQL_TRANSACTION => {
                StoreError::Unavailable("database is read-only".into())
            }
            c if *c == SqlState::DISK_FULL => StoreError::Unavailable("database is full".into()),
            c if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::QUERY_CANCELED =>
            {
                StoreError::Unavailable("database is busy".into())
            }
            // Connection exceptions, operator intervention (a shutdown),
            // system errors: the connection is gone or going.
            c if ["08", "57P", "58"]
                .iter()
                .any(|class| c.code().starts_with(class)) =>
            {
                StoreError::Unavailable(format!("{UNREACHABLE}: {}", db_error(&error)))
            }
            // Insufficient resources (too many connections, out of memory).
            c if c.code().starts_with("53") => {
                StoreError::Unavailable(format!("database unavailable: {}", db_error(&error)))
            }
            _ => StoreError::Internal(db_error(&error)),
        }
    }
}

/// A PostgreSQL URL rebuilt from what the client reads in it (user, hosts
/// and ports, database), never its password; see
/// [`super::display_location`].
pub(super) fn shown(url: &str) -> String {
    let Ok(config) = url.parse::<Config>() else {
        return "postgres://(not a valid PostgreSQL URL)".to_owned();
    };
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                postgres::config::Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let database = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{}/{database}", hosts.join(","))
}

/// One pooled connection, with the statements prepared on it.
struct PgConn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
    /// `default_transaction_read_only` as last set on it.
    read_only: bool,
}

/// A client (a connection, or a transaction on one) with the connection's
/// prepared statements: each statement is prepared once per connection.
struct Sql<'a, C> {
    client: &'a mut C,
    statements: &'a mut HashMap<&'static str, Statement>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl<C: GenericClient> Sql<'_, C> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    fn all<T>(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> Result<T, postgres::Error>,
    ) -> Result<Vec<T>, StoreError> {
        let statement = self.statement(sql)?;
        let rows = self.client.query(&statement, params)?;
        Ok(rows.iter().map(map).collect::<Result<_, _>>()?)
    }

    fn one<T>(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
        map: impl Fn(&Row) -> Result<T, postgres::Error>,
    ) -> Result<Option<T>, StoreError> {
        let statement = self.statement(sql)?;
        let row = self.client.query_opt(&statement, params)?;
        Ok(row.as_ref().map(map).transpose()?)
    }

    fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<usize, StoreError> {
        let statement = self.statement(sql)?;
        let count = self.client.execute(&statement, params)?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    fn insert_refresh(&mut self, r: &RefreshRecord) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO refresh_tokens (jti, token_hash, user_id, family, issued_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &r.jti,
                &&r.token_hash[..],
                &r.user_id,
                &r.family,
                &r.issued_at,
                &r.expires_at,
            ],
        )?;
        Ok(())
    }

    fn insert_audit(&mut self, e: &AuditEvent) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO audit (at, event, user_id, username, address, session)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&e.at, &e.event, &e.user_id, &e.username, &e.address, &e.session],
        )?;
        Ok(())
    }

    fn revoke_family(&mut self, family: &str, now: i64) -> Result<(), StoreError> {
        self.execute(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
            &[&now, &family],
        )?;
        Ok(())
    }

    /// Locks user `id`'s row until the transaction ends; false if there is
    /// no such user (or it was deleted while this waited).
    ///
    /// Every transaction that writes a user's refresh tokens takes this lock
    /// first (rotation, every revocation, a login; a deletion takes it by
    /// deleting the row): so they run one after another per user, in one
    /// lock order (no deadlock), and each statement after the lock sees
    /// what the one before committed. Without it, under READ COMMITTED, a
    /// revocation's `UPDATE` could miss the successor a concurrent rotation
    /// was inserting, and leave it alive.
    fn lock_user(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .one(
                "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE",
                &[&id],
                |_| Ok(()),
            )?
            .is_some())
    }

    /// The owner of refresh token `jti`, read without a lock (it never
    /// changes), to take [`Sql::lock_user`] before the token's row.
    fn token_owner(&mut self, jti: &str) -> Result<Option<i64>, StoreError> {
        self.one(
            "SELECT user_id FROM refresh_tokens WHERE jti = $1",
            &[&jti],
            |row| row.try_get::<_, i64>(0),
        )
    }
}

/// A rotation inside a PostgreSQL transaction: the presented token's row is
/// locked (`FOR UPDATE`) until it ends, so that of many rotations of one
/// token on any number of instances, one decides at a time, and each later
/// one reads what the one before committed.
impl<C: GenericClient> RotationTx for Sql<'_, C> {
    fn refresh_row(&mut self, jti: &str) -> Result<Option<RefreshRow>, StoreError> {
        self.one(
            "SELECT jti, token_hash, user_id, family, issued_at, expires_at,
                    rotated_at, revoked_at IS NOT NULL, replaced_by
             FROM refresh_tokens WHERE jti = $1 FOR UPDATE",
            &[&jti],
            |row| {
                let hash: Vec<u8> = row.try_get(1)?;
                Ok(RefreshRow {
                    record: RefreshRecord {
                        jti: row.try_get(0)?,
                        token_hash: super::stored_hash(hash),
                        user_id: row.try_get(2)?,
                        family: row.try_get(3)?,
                        issued_at: row.try_get(4)?,
                        expires_at: row.try_get(5)?,
                    },
                    rotated_at: row.try_get(6)?,
                    revoked: row.try_get(7)?,
                    replaced_by: row.try_get(8)?,
                })
            },
        )
    }

    fn rotate(&mut self, old: &str, new: &RefreshRecord, now: i64) -> Result<(), StoreError> {
        self.execute(
            "UPDATE refresh_tokens SET rotated_at = $1, replaced_by = $2 WHERE jti = $3",
            &[&now, &new.jti, &old],
        )?;
        self.insert_refresh(new)?;
        self.execute(
            "UPDATE sessions SET last_used_at = $1 WHERE id = $2",
            &[&now, &new.family],
        )?;
        Ok(())
    }

    fn revoke_family(&mut self, family: &str, now: i64) -> Result<(), StoreError> {
        Sql::revoke_family(self, family, now)
    }
}

fn user(row: &Row) -> Result<User, postgres::Error> {
    Ok(User {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        created_at: row.try_get(2)?,
    })
}

fn note(row: &Row) -> Result<Note, postgres::Error> {
    Ok(Note {
        id: row.try_get(0)?,
        text: row.try_get(1)?,
        created_at: row.try_get(2)?,
    })
}

/// A PostgreSQL database, shareable between threads.
pub(super) struct PostgresStore {
    config: Config,
    /// The URL without its password.
    shown: String,
    pool: Pool<PgConn>,
    /// See [`super::Store::set_read_only`].
    read_only: AtomicBool,
    /// Set when the store is dropped: the deletions' listener stops.
    stop: Arc<AtomicBool>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How often the deletions' listener looks up from waiting (to stop).
const LISTEN_TICK: Duration = Duration::from_millis(500);

/// The deletions' listener, on a thread and a connection of its own until
/// the store is dropped: `LISTEN`s for the users every instance deletes and
/// forgets them in `cache`. While it is not listening (the database is
/// down, or this connection lost), the cache is not filled, and its users
/// are forgotten when listening starts again, since a deletion may have
/// been missed meanwhile. What the cache holds goes on serving meanwhile: a
/// user deleted while this instance cannot reach the database is refused
/// once it can.
fn listen_for_deletions(config: &Config, cache: &Weak<UserCache>, stop: &AtomicBool) {
    let mut pause = LISTEN_TICK;
    while !stop.load(Ordering::Relaxed) {
        let listening = config.connect(NoTls).and_then(|mut client| {
            client.batch_execute("LISTEN minijwt_user_deleted")?;
            Ok(client)
        });
        let Ok(mut client) = listening else {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(5));
            continue;
        };
        pause = LISTEN_TICK;
        let Some(filled) = cache.upgrade() else {
            return;
        };
        filled.fill(true);
        drop(filled);
        let mut ticks = 0u32;
        let lost = loop {
            if stop.load(Ordering::Relaxed) {
                break false;
            }
            // A listener only reads: a connection that died silently would
            // go unnoticed until TCP's keepalives gave up. Every 5 s it
            // writes, which the connection's TCP_USER_TIMEOUT then bounds.
            ticks += 1;
            if ticks % 10 == 0 && client.simple_query("SELECT 1").is_err() {
                break true;
            }
            // A new wait each time: the iterator's own deadline is not reset
            // when it runs out.
            let next = client.notifications().timeout_iter(LISTEN_TICK).next();
            match next {
                Ok(Some(deleted)) => match cache.upgrade() {
                    // Not a user id: forget them all rather than guess.
                    Some(cache) => cache.forget(deleted.payload().parse().ok()),
                    None => return,
                },
                // Nothing within the tick, or the server has gone.
                Ok(None) if client.is_closed() => break true,
                Ok(None) => {}
                Err(_) => break true,
            }
        };
        if let Some(cache) = cache.upgrade() {
            cache.fill(false);
        }
        if !lost {
            return;
        }
    }
}

impl PostgresStore {
    /// Connects to the database at `url` and brings its schema up to date
    /// (the first of several instances starting at once migrates; the others
    /// wait for it).
    pub(super) fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::Internal(format!("not a PostgreSQL URL: {e}")))?;
        config
            .connect_timeout(POOL_WAIT)
            // A database host that vanishes without a reset: a connection
            // whose data goes unacknowledged for 10 s, or idle one whose
            // keepalive probes (from 10 s, every 5 s) go unanswered, is
            // closed by the kernel (Linux's TCP_USER_TIMEOUT), rather than
            // after the minutes of TCP's own retransmissions.
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .tcp_user_timeout(Duration::from_secs(10))
            .application_name("minijwt");
        // After the URL's own options (a search_path, say), not instead.
        let options = match config.get_options() {
            Some(given) => format!("{given} {SESSION_OPTIONS}"),
            None => SESSION_OPTIONS.to_owned(),
        };
        config.options(&options);
        let store = PostgresStore {
            config,
            shown: display_location(url),
            pool: Pool::new(MAX_CONNECTIONS),
            read_only: AtomicBool::new(false),
            stop: Arc::new(AtomicBool::new(false)),
        };
        store.run(|conn| migrate(&mut conn.client))?;
        Ok(store)
    }

    /// Runs `f` on a connection from the pool. A connection that met a
    /// fault, or whose work panicked, is closed rather than kept; the next
    /// operation opens a new one, so the store reconnects by itself once
    /// the database is back.
    fn run<T>(&self, f: impl FnOnce(&mut PgConn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut checkout = self.pool.take(Instant::now() + POOL_WAIT, || {
            let client = self.config.connect(NoTls)?;
            Ok(PgConn {
                client,
                statements: HashMap::new(),
                read_only: false,
            })
        })?;
        let conn = checkout.conn()?;
        let read_only = self.read_only.load(Ordering::Relaxed);
        if conn.read_only != read_only {
            conn.client.batch_execute(if read_only {
                "SET default_transaction_read_only = on"
            } else {
                "SET default_transaction_read_only = off"
            })?;
            conn.read_only = read_only;
        }
        let result = f(conn);
        let broken = connection_failed(&result) || conn.client.is_closed();
        checkout.keep = !broken;
        if broken {
            drop(checkout);
            self.pool.close_idle();
        }
        result
    }

    /// Runs `f` with the connection's statements, outside a transaction.
    fn sql<T>(&self, f: impl FnOnce(&mut Sql<'_, Client>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.run(|conn| {
            f(&mut Sql {
                client: &mut conn.client,
                statements: &mut conn.statements,
            })
        })
    }

    /// Runs `f` in one transaction, committed if `f` succeeds.
    fn transaction<T>(
        &self,
        f: impl FnOnce(&mut Sql<'_, postgres::Transaction<'_>>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run(|conn| {
            let mut tx = conn.client.transaction()?;
            let value = f(&mut Sql {
                client: &mut tx,
                statements: &mut conn.statements,
            })?;
            tx.commit()?;
            Ok(value)
        })
    }
}

/// Brings the schema up to date, in one transaction under an advisory lock:
/// instances starting together migrate one after the other, and all but the
/// first find nothing left to do.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS minijwt_schema (version INTEGER NOT NULL);
         INSERT INTO minijwt_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM minijwt_schema);",
    )?;
    let version: i32 = tx
        .query_one("SELECT version FROM minijwt_schema", &[])?
        .try_get(0)?;
    let known = MIGRATIONS.len();
    let Ok(from) = usize::try_from(version) else {
        return Err(StoreError::Internal(format!(
            "database schema version {version} is not valid"
        )));
    };
    if from > known {
        return Err(StoreError::Internal(format!(
            "database schema version {version} is newer than this program ({known})"
        )));
    }
    for step in &MIGRATIONS[from..] {
        tx.batch_execute(step)?;
    }
    let latest = i32::try_from(known).unwrap_or(i32::MAX);
    tx.execute("UPDATE minijwt_schema SET version = $1", &[&latest])?;
    tx.commit()?;
    Ok(())
}

impl Backend for PostgresStore {
    fn location(&self) -> String {
        self.shown.clone()
    }

    fn shared(&self) -> bool {
        true
    }

    fn watch_deletions(&self, cache: Arc<UserCache>) -> bool {
        let (config, stop) = (self.config.clone(), self.stop.clone());
        let cache = Arc::downgrade(&cache);
        std::thread::Builder::new()
            .name("minijwt-listen".into())
            .spawn(move || listen_for_deletions(&config, &cache, &stop))
            .is_ok()
    }

    fn ready(&self) -> Result<(), StoreError> {
        self.sql(|c| {
            c.one("SELECT 1 FROM users LIMIT 1", &[], |_| Ok(()))?;
            Ok(())
        })
    }

    fn set_page_limit(&self, _: Option<u64>) -> Result<(), StoreError> {
        Err(StoreError::Internal(
            "PostgreSQL has no page cap: set a quota on the database server".into(),
        ))
    }

    fn set_read_only(&self, read_only: bool) {
        self.read_only.store(read_only, Ordering::Relaxed);
    }

    fn create_user(&self, username: &str, password_hash: &str, now: i64) -> Result<User, StoreError> {
        let id = self.sql(|c| {
            c.one(
                "INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
                &[&username, &password_hash, &now],
                |row| row.try_get::<_, i64>(0),
            )
        })?;
        let id = id.ok_or_else(|| StoreError::Internal("no id returned".into()))?;
        Ok(User {
            id,
            username: username.to_owned(),
            created_at: now,
        })
    }

    fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        self.sql(|c| {
            c.one(
                "SELECT id, username, created_at, password_hash FROM users WHERE lower(username) = lower($1)",
                &[&username],
                |row| {
                    Ok(Credentials {
                        user: user(row)?,
                        password_hash: row.try_get(3)?,
                    })
                },
            )
        })
    }

    fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.sql(|c| {
            c.one(
                "SELECT id, username, created_at FROM users WHERE id = $1",
                &[&id],
                user,
            )
        })
    }

    fn insert_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        self.sql(|c| c.insert_refresh(record))
    }

    fn start_session(
        &self,
        first: &RefreshRecord,
        username: &str,
        user_agent: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        self.transaction(|tx| {
            // The user locked (see `lock_user`), and still the one whose
            // password was checked: not deleted meanwhile, the id not reused.
            let same = tx.one(
                "SELECT 1 FROM users WHERE id = $1 AND username = $2 FOR NO KEY UPDATE",
                &[&first.user_id, &username],
                |_| Ok(()),
            )?;
            if same.is_none() {
                return Err(StoreError::Conflict);
            }
            tx.execute(
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, user_agent)
                 VALUES ($1, $2, $3, $3, $4)",
                &[&first.family, &first.user_id, &first.issued_at, &user_agent],
            )?;
            tx.insert_refresh(first)?;
            if let Some(event) = audit {
                tx.insert_audit(event)?;
            }
            Ok(())
        })
    }

    fn sessions(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError> {
        self.sql(|c| {
            c.all(
                "SELECT s.id, s.created_at, s.last_used_at, MAX(t.expires_at), s.user_agent
                 FROM sessions s JOIN refresh_tokens t ON t.family = s.id
                 WHERE s.user_id = $1 AND t.rotated_at IS NULL AND t.revoked_at IS NULL
                       AND t.expires_at > $2
                 GROUP BY s.id ORDER BY s.last_used_at DESC, s.id",
                &[&user_id, &now],
                |row| {
                    Ok(Session {
                        id: row.try_get(0)?,
                        created_at: row.try_get(1)?,
                        last_used_at: row.try_get(2)?,
                        expires_at: row.try_get(3)?,
                        user_agent: row.try_get(4)?,
                    })
                },
            )
        })
    }

    fn revoke_session(&self, user_id: i64, id: &str, now: i64) -> Result<bool, StoreError> {
        self.transaction(|tx| {
            if !tx.lock_user(user_id)? {
                return Ok(false);
            }
            let known = tx
                .one(
                    "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2",
                    &[&id, &user_id],
                    |_| Ok(()),
                )?
                .is_some();
            if known {
                tx.revoke_family(id, now)?;
            }
            Ok(known)
        })
    }

    fn revoke_other_sessions(&self, user_id: i64, keep: Option<&str>, now: i64) -> Result<usize, StoreError> {
        self.transaction(|tx| {
            tx.lock_user(user_id)?;
            tx.execute(
                "UPDATE refresh_tokens SET revoked_at = $1
                 WHERE user_id = $2 AND revoked_at IS NULL AND family IS DISTINCT FROM $3",
                &[&now, &user_id, &keep],
            )
        })
    }

    fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.sql(|c| c.insert_audit(event))
    }

    fn audit_trail(&self, username: Option<&str>, since: i64) -> Result<Vec<AuditEvent>, StoreError> {
        self.sql(|c| {
            c.all(
                "SELECT at, event, user_id, username, address, session FROM audit
                 WHERE at >= $1 AND ($2::text IS NULL OR lower(username) = lower($2))
                 ORDER BY at, id",
                &[&since, &username],
                |row| {
                    Ok(AuditEvent {
                        at: row.try_get(0)?,
                        event: row.try_get(1)?,
                        user_id: row.try_get(2)?,
                        username: row.try_get(3)?,
                        address: row.try_get(4)?,
                        session: row.try_get(5)?,
                    })
                },
            )
        })
    }

    fn prune_audit(&self, before: i64) -> Result<usize, StoreError> {
        self.sql(|c| c.execute("DELETE FROM audit WHERE at < $1", &[&before]))
    }

    fn set_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.sql(|c| {
            c.execute(
                "UPDATE users SET password_hash = $1 WHERE id = $2",
                &[&password_hash, &user_id],
            )?;
            Ok(())
        })
    }

    fn delete_user(&self, user_id: i64) -> Result<bool, StoreError> {
        // Notes, sessions and refresh tokens go with it (foreign keys
        // cascade). The news goes to every instance's user cache when, and
        // only if, the deletion commits.
        self.transaction(|tx| {
            let deleted = tx.execute("DELETE FROM users WHERE id = $1", &[&user_id])? > 0;
            if deleted {
                tx.one(
                    "SELECT pg_notify('minijwt_user_deleted', $1::bigint::text)::text",
                    &[&user_id],
                    |_| Ok(()),
                )?;
            }
            Ok(deleted)
        })
    }

    fn rotate_refresh(
        &self,
        jti: &str,
        token_hash: &[u8; 32],
        now: i64,
        grace: i64,
        next: &dyn Fn(&RefreshRecord) -> RefreshRecord,
        audit: &mut dyn FnMut(&Rotation) -> Option<AuditEvent>,
    ) -> Result<Rotation, StoreError> {
        self.transaction(|tx| {
            // The owner first, then the token (`lock_user`): one lock order
            // with every revocation and deletion of that user's tokens.
            if let Some(owner) = tx.token_owner(jti)? {
                tx.lock_user(owner)?;
            }
            let outcome = decide_rotation(tx, jti, token_hash, now, grace, next)?;
            if let Some(event) = audit(&outcome) {
                tx.insert_audit(&event)?;
            }
            Ok(outcome)
        })
    }

    fn revoke_family_of(&self, jti: &str, token_hash: &[u8; 32], now: i64) -> Result<bool, StoreError> {
        self.transaction(|tx| {
            if let Some(owner) = tx.token_owner(jti)? {
                tx.lock_user(owner)?;
            }
            let family = tx.one(
                "SELECT family, token_hash FROM refresh_tokens WHERE jti = $1",
                &[&jti],
                |row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, Vec<u8>>(1)?)),
            )?;
            match family {
                Some((family, hash)) if constant_time_eq(&hash, token_hash) => {
                    tx.revoke_family(&family, now)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    fn revoke_user(&self, user_id: i64, now: i64) -> Result<usize, StoreError> {
        self.transaction(|tx| {
            tx.lock_user(user_id)?;
            tx.execute(
                "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                &[&now, &user_id],
            )
        })
    }

    fn create_note(&self, user_id: i64, text: &str, now: i64) -> Result<Note, StoreError> {
        let id = self.sql(|c| {
            c.one(
                "INSERT INTO notes (user_id, text, created_at) VALUES ($1, $2, $3) RETURNING id",
                &[&user_id, &text, &now],
                |row| row.try_get::<_, i64>(0),
            )
        })?;
        Ok(Note {
            id: id.ok_or_else(|| StoreError::Internal("no id returned".into()))?,
            text: text.to_owned(),
            created_at: now,
        })
    }

    fn notes(&self, user_id: i64) -> Result<Vec<Note>, StoreError> {
        self.sql(|c| {
            c.all(
                "SELECT id, text, created_at FROM notes WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
                &[&user_id],
                note,
            )
        })
    }

    fn note(&self, user_id: i64, id: i64) -> Result<Option<Note>, StoreError> {
        self.sql(|c| {
            c.one(
                "SELECT id, text, created_at FROM notes WHERE id = $1 AND user_id = $2",
                &[&id, &user_id],
                note,
            )
        })
    }

    fn delete_note(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        self.sql(|c| {
            Ok(c.execute(
                "DELETE FROM notes WHERE id = $1 AND user_id = $2",
                &[&id, &user_id],
            )? == 1)
        })
    }

    fn count_login_attempt(
        &self,
        keys: &[String],
        now: i64,
        since: i64,
        keep: usize,
        judge: &dyn Fn(&[Vec<i64>]) -> Option<i64>,
    ) -> Result<Result<Vec<i64>, i64>, StoreError> {
        self.transaction(|tx| {
            // One attempt at a time per key, on every instance; the locks
            // are taken in one order, so two attempts never wait for each
            // other, and held until the transaction ends.
            let mut locked: Vec<&String> = keys.iter().collect();
            locked.sort();
            locked.dedup();
            for key in locked {
                tx.one(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text",
                    &[key],
                    |_| Ok(()),
                )?;
            }
            // Only these keys' rows, which these locks guard (deleting
            // others' rows here could deadlock with their attempts): those
            // out of the window, and all but each key's newest `keep`, so
            // that what an attempt reads stays bounded however many
            // addresses fail for one name.
            let keep = i64::try_from(keep).unwrap_or(i64::MAX);
            tx.execute(
                "DELETE FROM login_failures WHERE key = ANY($1) AND (at <= $2 OR id IN (
                     SELECT id FROM (
                         SELECT id, row_number() OVER (PARTITION BY key ORDER BY at DESC, id DESC) AS newer
                         FROM login_failures WHERE key = ANY($1)
                     ) ranked WHERE newer > $3))",
                &[&keys, &since, &keep],
            )?;
            let rows = tx.all(
                "SELECT key, at FROM login_failures WHERE key = ANY($1) ORDER BY at, id",
                &[&keys],
                |row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, i64>(1)?)),
            )?;
            let failures: Vec<Vec<i64>> = keys
                .iter()
                .map(|key| rows.iter().filter(|(k, _)| k == key).map(|&(_, at)| at).collect())
                .collect();
            if let Some(wait) = judge(&failures) {
                return Ok(Err(wait));
            }
            let mut ids = Vec::with_capacity(keys.len());
            for key in keys {
                let id = tx.one(
                    "INSERT INTO login_failures (key, at) VALUES ($1, $2) RETURNING id",
                    &[key, &now],
                    |row| row.try_get::<_, i64>(0),
                )?;
                ids.extend(id);
            }
            Ok(Ok(ids))
        })
    }

    fn forget_login_failures(&self, pair: Option<&str>, ids: &[i64]) -> Result<(), StoreError> {
        self.sql(|c| {
            c.execute(
                "DELETE FROM login_failures WHERE id = ANY($1) OR key = $2",
                &[&ids, &pair],
            )?;
            Ok(())
        })
    }

    fn prune_login_failures(&self, before: i64) -> Result<(), StoreError> {
        self.sql(|c| {
            c.execute("DELETE FROM login_failures WHERE at <= $1", &[&before])?;
            Ok(())
        })
    }
}
