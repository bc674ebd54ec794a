//! The SQLite backend: one file (or memory), for one process.
//!
//! Every operation takes a connection from a small bounded pool, so any
//! number of threads may call it at once: SQLite in WAL mode lets readers run
//! beside the one writer, and `busy_timeout` makes a second writer wait
//! instead of failing. Writers of this process take turns on a mutex first
//! (see [`SqliteStore::write`]).

use std::prelude::rust_2021::*;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, MAIN_DB};

use super::pool::{Checkout, Pool};
use super::{
    constant_time_eq, decide_rotation, sqlite_schema, Backend, RefreshRow, RotationTx, StoreError, POOL_WAIT,
};
use crate::auth::{AuditEvent, Credentials, Note, RefreshRecord, Rotation, Session, User};

/// How long a writer waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite connections open at once. A new connection starts with an empty
/// statement cache and each keeps a page cache of its own (up to 2 MB).
/// Measured with 64 clients refreshing (examples/loadgen.rs): opening past
/// 16 idle ones cost 10% of refresh throughput.
const MAX_CONNECTIONS: usize = 16;

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            // Only a UNIQUE rule is a conflict the caller can explain (a name
            // taken); a failed CHECK, foreign key or trigger is a bug.
            Some(ErrorCode::ConstraintViolation) if breaks_uniqueness(&error) => StoreError::Conflict,
            Some(ErrorCode::DiskFull) => StoreError::Unavailable("database is full".into()),
            Some(ErrorCode::ReadOnly) => StoreError::Unavailable("database is read-only".into()),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Unavailable("database is busy".into())
            }
            Some(ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::PermissionDenied) => {
                StoreError::Unavailable(format!("database I/O failed: {error}"))
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

fn breaks_uniqueness(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error().map(|e| e.extended_code),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

/// What `set_page_limit` and `set_read_only` ask of every
/// connection, as last applied to one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    /// Pages; 0 means no cap; `None`, not applied yet.
    page_limit: Option<u64>,
    /// `None`: not applied yet.
    read_only: Option<bool>,
}

impl Limits {
    /// A new connection's: nothing applied.
    const NONE_APPLIED: Limits = Limits {
        page_limit: None,
        read_only: None,
    };
}

/// Where the data lives: a file, or memory (tests, fuzzing).
#[derive(Debug, Clone)]
enum Location {
    File(PathBuf),
    /// A shared-cache in-memory database; `keeper` holds it alive.
    Memory(String),
}

/// A SQLite database, shareable between threads.
pub(super) struct SqliteStore {
    location: Location,
    /// Connections not in use, each with the limits last applied to it.
    pool: Pool<(Connection, Limits)>,
    /// See [`Store::set_page_limit`](super::Store::set_page_limit); 0 means none.
    page_limit: AtomicU64,
    /// See [`Store::set_read_only`](super::Store::set_read_only).
    read_only: AtomicBool,
    /// Taken by every write; see [`SqliteStore::write`].
    writer: Mutex<()>,
    /// For an in-memory store: one connection always open, so the data lives.
    _keeper: Option<Mutex<Connection>>,
}

/// The database holds password hashes: it is created readable by its owner
/// only (0600), before SQLite opens it, and SQLite gives the `-wal` and
/// `-shm` files it creates the database's mode. An existing database and
/// those files lose any group and other permission bits. Best effort: where
/// the mode cannot be changed (a file of another user, an immutable one),
/// opening goes on, and SQLite says what it can and cannot do with the file.
#[cfg(unix)]
fn make_private(path: &Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    if created.is_ok() {
        return;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700));
        }
    }
}

#[cfg(not(unix))]
fn make_private(_: &Path) {}

/// A rotation inside a SQLite transaction (which holds the database's
/// write lock from its start: `IMMEDIATE`).
impl RotationTx for &Connection {
    fn refresh_row(&mut self, jti: &str) -> Result<Option<RefreshRow>, StoreError> {
        Ok(query_row(
            self,
            "SELECT jti, token_hash, user_id, family, issued_at, expires_at,
                    rotated_at, revoked_at IS NOT NULL, replaced_by
             FROM refresh_tokens WHERE jti = ?1",
            [jti],
            |row| {
                let hash: Vec<u8> = row.get(1)?;
                Ok(RefreshRow {
                    record: RefreshRecord {
                        jti: row.get(0)?,
                        token_hash: super::stored_hash(hash),
                        user_id: row.get(2)?,
                        family: row.get(3)?,
                        issued_at: row.get(4)?,
                        expires_at: row.get(5)?,
                    },
                    rotated_at: row.get(6)?,
                    revoked: row.get(7)?,
                    replaced_by: row.get(8)?,
                })
            },
        )
        .optional()?)
    }

    fn rotate(&mut self, old: &str, new: &RefreshRecord, now: i64) -> Result<(), StoreError> {
        execute(
            self,
            "UPDATE refresh_tokens SET rotated_at = ?1, replaced_by = ?2 WHERE jti = ?3",
            params![now, new.jti, old],
        )?;
        insert_refresh(self, new)?;
        execute(
            self,
            "UPDATE sessions SET last_used_at = ?1 WHERE id = ?2",
            params![now, new.family],
        )?;
        Ok(())
    }

    fn revoke_family(&mut self, family: &str, now: i64) -> Result<(), StoreError> {
        revoke_family(self, family, now)
    }
}

impl SqliteStore {
    fn new(location: Location, keeper: Option<Connection>) -> SqliteStore {
        SqliteStore {
            location,
            pool: Pool::new(MAX_CONNECTIONS),
            page_limit: AtomicU64::new(0),
            read_only: AtomicBool::new(false),
            writer: Mutex::new(()),
            _keeper: keeper.map(Mutex::new),
        }
    }

    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub(super) fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        make_private(path);
        let store = SqliteStore::new(Location::File(path.to_owned()), None);
        store.run(false, |conn| {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            sqlite_schema::migrate(conn)
        })?;
        Ok(store)
    }

    /// A fresh private in-memory database.
    pub(super) fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let mut name = [0u8; 12];
        getrandom::fill(&mut name).map_err(|e| StoreError::Internal(e.to_string()))?;
        let uri = format!(
            "file:minijwt-{}?mode=memory&cache=shared",
            crate::base64url::encode(&name)
        );
        let mut keeper = open_connection(Path::new(&uri), true)?;
        sqlite_schema::migrate(&mut keeper)?;
        Ok(SqliteStore::new(Location::Memory(uri), Some(keeper)))
    }

    /// Takes a connection from the pool (within `deadline`) and brings its
    /// pragmas up to date.
    fn connect(&self, deadline: Instant) -> Result<Checkout<'_, (Connection, Limits)>, StoreError> {
        // A new connection has had nothing applied, but may share a pager
        // (in memory) that another connection capped: it gets both pragmas.
        let mut checkout = self.pool.take(deadline, || {
            let conn = match &self.location {
                Location::File(path) => open_connection(path, false)?,
                Location::Memory(uri) => open_connection(Path::new(uri), true)?,
            };
            Ok((conn, Limits::NONE_APPLIED))
        })?;
        let (conn, applied) = checkout.conn()?;
        // Both pragmas belong to each connection: bring this one up to date.
        // If one fails, the checkout is dropped unkept: the connection closes.
        let wanted = Limits {
            page_limit: Some(self.page_limit.load(Ordering::Relaxed)),
            read_only: Some(self.read_only.load(Ordering::Relaxed)),
        };
        if applied.page_limit != wanted.page_limit {
            let pages = match wanted.page_limit {
                Some(0) | None => i64::from(u32::MAX - 1),
                Some(pages) => i64::try_from(pages).unwrap_or(i64::MAX),
            };
            conn.pragma_update_and_check(None, "max_page_count", pages, |row| row.get::<_, i64>(0))?;
            applied.page_limit = wanted.page_limit;
        }
        if applied.read_only != wanted.read_only {
            conn.pragma_update(None, "query_only", wanted.read_only.unwrap_or(false))?;
            applied.read_only = wanted.read_only;
        }
        Ok(checkout)
    }

    /// Runs `f` on a pooled connection. A connection whose work panicked is
    /// dropped rather than returned to the pool.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        // A shared-cache in-memory database locks tables, and a reader that
        // meets a writer fails at once (SQLITE_LOCKED; no busy timeout
        // applies): in memory, every operation takes the writers' turn.
        self.run(matches!(self.location, Location::Memory(_)), f)
    }

    /// Runs `f` on a connection from the pool, after taking the writers'
    /// turn when `exclusive`. The connection is taken first, always: a
    /// thread holding the turn never waits for the pool, so the turn is
    /// held only while SQL runs, and no two threads can wait for each other.
    fn run<T>(
        &self,
        exclusive: bool,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run_by(Instant::now() + POOL_WAIT, exclusive, false, f)
    }

    /// [`SqliteStore::run`] with the pool waited for until `deadline`; when
    /// `bounded`, the writers' turn too (else it is waited for as long as the
    /// write holding it takes, itself bounded by SQLite's busy timeout).
    fn run_by<T>(
        &self,
        deadline: Instant,
        exclusive: bool,
        bounded: bool,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut checkout = self.connect(deadline)?;
        let _turn = match (exclusive, bounded) {
            (false, _) => None,
            (true, false) => Some(self.writer.lock().unwrap_or_else(|p| p.into_inner())),
            (true, true) => Some(self.turn_by(deadline)?),
        };
        let (conn, _) = checkout.conn()?;
        let result = f(conn);
        // A connection that met a fault (a full or read-only disk, an I/O
        // error) is not kept: whatever state the fault left it in, a new one
        // costs a few microseconds and starts clean. One whose work panicked
        // is not kept either (`keep` stays false while unwinding). SQLite
        // opens a file it cannot write read-only, for good: such a
        // connection would refuse writes after the file is writable again.
        checkout.keep =
            !matches!(result, Err(StoreError::Unavailable(_))) && !conn.is_readonly(MAIN_DB).unwrap_or(true);
        result
    }

    /// The writers' turn, waited for until `deadline` at most.
    fn turn_by(&self, deadline: Instant) -> Result<std::sync::MutexGuard<'_, ()>, StoreError> {
        loop {
            match self.writer.try_lock() {
                Ok(turn) => return Ok(turn),
                Err(std::sync::TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    return Err(StoreError::Unavailable("the database is busy".into()))
                }
            }
        }
    }

    /// Like [`SqliteStore::with`] for work that writes: writers of this
    /// process take turns on a mutex before SQLite's lock, rather than meet
    /// in SQLite's busy handler, which makes a writer that finds the lock
    /// taken sleep and retry (1 ms, 2 ms, 5 ms, ...). Measured with 64
    /// clients refreshing (examples/loadgen.rs): p99 14–21 ms with the
    /// mutex, 39 ms without, at about the same throughput. `busy_timeout`
    /// still covers other processes.
    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.run(true, f)
    }
}

impl Backend for SqliteStore {
    fn location(&self) -> String {
        match &self.location {
            Location::File(path) => path.display().to_string(),
            Location::Memory(_) => ":memory:".to_owned(),
        }
    }

    fn shared(&self) -> bool {
        false
    }

    fn set_page_limit(&self, pages: Option<u64>) -> Result<(), StoreError> {
        self.page_limit.store(pages.unwrap_or(0), Ordering::Relaxed);
        Ok(())
    }

    fn set_read_only(&self, read_only: bool) {
        // Every write holds the writers' turn: taking it waits them out.
        let _turn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.read_only.store(read_only, Ordering::Relaxed);
    }

    fn ready(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + POOL_WAIT;
        let exclusive = matches!(self.location, Location::Memory(_));
        self.run_by(deadline, exclusive, true, |c| {
            let left = deadline.saturating_duration_since(Instant::now());
            c.busy_timeout(left.max(Duration::from_millis(1)))?;
            let read = query_row(c, "SELECT 1 FROM users LIMIT 1", [], |_| Ok(())).optional();
            // Restored before the connection goes back to the pool.
            c.busy_timeout(BUSY_TIMEOUT)?;
            read?;
            Ok(())
        })
    }

    fn create_user(&self, username: &str, password_hash: &str, now: i64) -> Result<User, StoreError> {
        self.write(|c| {
            execute(
                c,
                "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3)",
                params![username, password_hash, now],
            )?;
            Ok(User {
                id: c.last_insert_rowid(),
                username: username.to_owned(),
                created_at: now,
            })
        })
    }

    fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        self.with(|c| {
            Ok(query_row(
                c,
                "SELECT id, username, created_at, password_hash FROM users WHERE username = ?1",
                [username],
                |row| {
                    Ok(Credentials {
                        user: User {
                            id: row.get(0)?,
                            username: row.get(1)?,
                            created_at: row.get(2)?,
                        },
                        password_hash: row.get(3)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.with(|c| {
            Ok(query_row(
                c,
                "SELECT id, username, created_at FROM users WHERE id = ?1",
                [id],
                |row| {
                    Ok(User {
                        id: row.get(0)?,
                        username: row.get(1)?,
                        created_at: row.get(2)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn insert_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        self.write(|c| {
            insert_refresh(c, record)?;
            Ok(())
        })
    }

    fn start_session(
        &self,
        first: &RefreshRecord,
        username: &str,
        user_agent: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let started = execute(
                &tx,
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, user_agent)
                 SELECT ?1, ?2, ?3, ?3, ?4 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2 AND username = ?5)",
                params![first.family, first.user_id, first.issued_at, user_agent, username],
            )?;
            if started == 0 {
                return Err(StoreError::Conflict);
            }
            insert_refresh(&tx, first)?;
            if let Some(event) = audit {
                record_within(&tx, event)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn sessions(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError> {
        self.with(|c| {
            Ok(query_all(
                c,
                "SELECT s.id, s.created_at, s.last_used_at, MAX(t.expires_at), s.user_agent
                 FROM sessions s JOIN refresh_tokens t ON t.family = s.id
                 WHERE s.user_id = ?1 AND t.rotated_at IS NULL AND t.revoked_at IS NULL
                       AND t.expires_at > ?2
                 GROUP BY s.id ORDER BY s.last_used_at DESC, s.id",
                params![user_id, now],
                |row| {
                    Ok(Session {
                        id: row.get(0)?,
                        created_at: row.get(1)?,
                        last_used_at: row.get(2)?,
                        expires_at: row.get(3)?,
                        user_agent: row.get(4)?,
                    })
                },
            )?)
        })
    }

    fn revoke_session(&self, user_id: i64, id: &str, now: i64) -> Result<bool, StoreError> {
        self.write(|c| {
            let known = query_row(
                c,
                "SELECT count(*) FROM sessions WHERE id = ?1 AND user_id = ?2",
                params![id, user_id],
                |row| row.get::<_, i64>(0),
            )? > 0;
            if known {
                revoke_family(c, id, now)?;
            }
            Ok(known)
        })
    }

    fn revoke_other_sessions(&self, user_id: i64, keep: Option<&str>, now: i64) -> Result<usize, StoreError> {
        self.write(|c| {
            Ok(execute(
                c,
                "UPDATE refresh_tokens SET revoked_at = ?1
                 WHERE user_id = ?2 AND revoked_at IS NULL AND family IS NOT ?3",
                params![now, user_id, keep],
            )?)
        })
    }

    fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.write(|c| insert_audit(c, event))
    }

    fn audit_trail(&self, username: Option<&str>, since: i64) -> Result<Vec<AuditEvent>, StoreError> {
        self.with(|c| {
            Ok(query_all(
                c,
                "SELECT at, event, user_id, username, address, session FROM audit
                 WHERE at >= ?1 AND (?2 IS NULL OR username = ?2 COLLATE NOCASE)
                 ORDER BY at, id",
                params![since, username],
                |row| {
                    Ok(AuditEvent {
                        at: row.get(0)?,
                        event: row.get(1)?,
                        user_id: row.get(2)?,
                        username: row.get(3)?,
                        address: row.get(4)?,
                        session: row.get(5)?,
                    })
                },
            )?)
        })
    }

    fn prune_audit(&self, before: i64) -> Result<usize, StoreError> {
        self.write(|c| Ok(execute(c, "DELETE FROM audit WHERE at < ?1", [before])?))
    }

    fn set_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.write(|c| {
            execute(
                c,
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![password_hash, user_id],
            )?;
            Ok(())
        })
    }

    fn delete_user(&self, user_id: i64) -> Result<bool, StoreError> {
        // Notes, sessions and refresh tokens go with it (foreign keys cascade).
        self.write(|c| Ok(execute(c, "DELETE FROM users WHERE id = ?1", [user_id])? > 0))
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
        self.write(|c| {
            // IMMEDIATE takes the write lock first, so two rotations of one
            // token cannot both read it as current.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let outcome = decide_rotation(&mut &*tx, jti, token_hash, now, grace, next)?;
            if let Some(event) = audit(&outcome) {
                record_within(&tx, &event)?;
            }
            tx.commit()?;
            Ok(outcome)
        })
    }

    fn revoke_family_of(&self, jti: &str, token_hash: &[u8; 32], now: i64) -> Result<bool, StoreError> {
        self.write(|c| {
            let family: Option<(String, Vec<u8>)> = c
                .query_row(
                    "SELECT family, token_hash FROM refresh_tokens WHERE jti = ?1",
                    [jti],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            match family {
                Some((family, hash)) if constant_time_eq(&hash, token_hash) => {
                    revoke_family(c, &family, now)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    fn revoke_user(&self, user_id: i64, now: i64) -> Result<usize, StoreError> {
        self.write(|c| {
            Ok(execute(
                c,
                "UPDATE refresh_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
                params![now, user_id],
            )?)
        })
    }

    fn create_note(&self, user_id: i64, text: &str, now: i64) -> Result<Note, StoreError> {
        self.write(|c| {
            execute(
                c,
                "INSERT INTO notes (user_id, text, created_at) VALUES (?1, ?2, ?3)",
                params![user_id, text, now],
            )?;
            Ok(Note {
                id: c.last_insert_rowid(),
                text: text.to_owned(),
                created_at: now,
            })
        })
    }

    fn notes(&self, user_id: i64) -> Result<Vec<Note>, StoreError> {
        self.with(|c| {
            Ok(query_all(
                c,
                "SELECT id, text, created_at FROM notes WHERE user_id = ?1 ORDER BY created_at DESC, id DESC",
                [user_id],
                |row| {
                    Ok(Note {
                        id: row.get(0)?,
                        text: row.get(1)?,
                        created_at: row.get(2)?,
                    })
                },
            )?)
        })
    }

    fn note(&self, user_id: i64, id: i64) -> Result<Option<Note>, StoreError> {
        self.with(|c| {
            Ok(query_row(
                c,
                "SELECT id, text, created_at FROM notes WHERE id = ?1 AND user_id = ?2",
                [id, user_id],
                |row| {
                    Ok(Note {
                        id: row.get(0)?,
                        text: row.get(1)?,
                        created_at: row.get(2)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn delete_note(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        self.write(|c| {
            Ok(execute(
                c,
                "DELETE FROM notes WHERE id = ?1 AND user_id = ?2",
                [id, user_id],
            )? == 1)
        })
    }
}

/// `query_row` through the connection's statement cache: parsing the SQL on
/// every call would cost more than running it.
fn query_row<T, P: rusqlite::Params>(
    c: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.prepare_cached(sql)?.query_row(params, f)
}

/// Every row of a query through the statement cache, each mapped by `f`.
fn query_all<T, P: rusqlite::Params>(
    c: &Connection,
    sql: &str,
    params: P,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    c.prepare_cached(sql)?.query_map(params, f)?.collect()
}

/// `execute` through the statement cache.
fn execute<P: rusqlite::Params>(c: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

fn open_connection(location: &Path, uri: bool) -> Result<Connection, StoreError> {
    let mut flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if uri {
        flags |= OpenFlags::SQLITE_OPEN_URI;
    }
    let conn = Connection::open_with_flags(location, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // In WAL mode NORMAL survives a crash of this process (kill -9): a commit
    // is in the WAL file before the call returns. Only power loss can undo the
    // last commits.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn insert_refresh(c: &Connection, r: &RefreshRecord) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO refresh_tokens (jti, token_hash, user_id, family, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            r.jti,
            &r.token_hash[..],
            r.user_id,
            r.family,
            r.issued_at,
            r.expires_at
        ],
    )?;
    Ok(())
}

fn insert_audit(c: &Connection, event: &AuditEvent) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO audit (at, event, user_id, username, address, session)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            event.at,
            event.event,
            event.user_id,
            event.username,
            event.address,
            event.session
        ],
    )?;
    Ok(())
}

/// Inserts `event` inside the open transaction `tx`, best effort where SQLite
/// allows it. An error that aborts only the insert (a constraint,
/// `SQLITE_TOOBIG`, a trigger's `RAISE(ABORT)`) leaves the transaction open:
/// the error is dropped and the transaction goes on without the event. On
/// `SQLITE_FULL`, `SQLITE_IOERR` or `SQLITE_NOMEM`, SQLite rolls back the
/// whole transaction for a one-row insert without triggers (it has no
/// statement journal to undo just that statement): `tx` is back in
/// autocommit, nothing is left to commit, and the error is returned.
fn record_within(tx: &Connection, event: &AuditEvent) -> Result<(), StoreError> {
    match insert_audit(tx, event) {
        Err(e) if tx.is_autocommit() => Err(e),
        _ => Ok(()),
    }
}

fn revoke_family(c: &Connection, family: &str, now: i64) -> Result<(), StoreError> {
    execute(
        c,
        "UPDATE refresh_tokens SET revoked_at = ?1 WHERE family = ?2 AND revoked_at IS NULL",
        params![now, family],
    )?;
    Ok(())
}
