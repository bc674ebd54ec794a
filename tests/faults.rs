//! Faults inside the server stay inside one request: a read-only database, a
//! statement that fails, a lock poisoned by a panic. Each test breaks the real
//! server's database from outside the HTTP layer, checks what clients see
//! while it is broken, then mends it and checks that the server recovered by
//! itself, with nothing half-written. (A full database is in server_http.rs,
//! a panicking handler too.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use minijwt::auth::{Auth, ManualClock};
use minijwt::auth::{RefreshRecord, Rotation};
use minijwt::store::Store;
use rusqlite::Connection;
use serde_json::json;

mod common;
use common::*;

const T0: i64 = 1_800_000_000;

/// A server on a database file of its own; `auth` reaches its store.
struct Fixture {
    addr: SocketAddr,
    auth: Arc<Auth>,
    path: PathBuf,
    _server: TestServer,
}

/// A database path of the test's own, with no file there yet.
fn fresh_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("minijwt-faults-{}-{name}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

impl Fixture {
    fn start(name: &str) -> Fixture {
        Fixture::start_on(fresh_path(name))
    }

    fn start_on(path: PathBuf) -> Fixture {
        let server = ServerSetup {
            store: Some(Store::open(&path).unwrap()),
            clock: Arc::new(ManualClock::new(T0)),
            ..ServerSetup::default()
        }
        .start();
        Fixture {
            addr: server.addr,
            auth: server.auth.clone(),
            path,
            _server: server,
        }
    }

    /// A connection of the test's own to the server's database file: the
    /// "operator" who breaks things.
    fn operator(&self) -> Connection {
        let conn = Connection::open(&self.path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        conn
    }
}

fn assert_unavailable(reply: &Reply, why: &str) {
    assert_eq!(
        (reply.status, reply.error()),
        (503, "temporarily_unavailable"),
        "{reply:?}"
    );
    assert!(reply.text("error_description").contains(why), "{reply:?}");
    assert_eq!(reply.header("Retry-After"), Some("1"));
}

#[test]
fn a_read_only_database_refuses_writes_keeps_reads_and_recovers() {
    let f = Fixture::start("read-only");
    let tokens = user(f.addr, "alice");
    let access = tokens.text("access_token");
    let refresh_token = tokens.text("refresh_token");
    assert_eq!(post_note(f.addr, &access, "written before").status, 201);

    f.auth.store().set_read_only(true);
    // Every request that must write is refused, and says why...
    assert_unavailable(&register(f.addr, "bob"), "read-only");
    assert_unavailable(&login(f.addr, "alice"), "read-only");
    assert_unavailable(&refresh(f.addr, &refresh_token, None), "read-only");
    assert_unavailable(&post_note(f.addr, &access, "no"), "read-only");
    assert_unavailable(
        &post(f.addr, "/auth/logout", json!({"refresh_token": refresh_token})),
        "read-only",
    );
    // ...while every request that only reads is served.
    assert_eq!(call(f.addr, "GET", "/me", Some(&access), None).status, 200);
    let notes = call(f.addr, "GET", "/notes", Some(&access), None);
    assert_eq!(notes.status, 200);
    assert_eq!(notes.body["notes"].as_array().unwrap().len(), 1, "{notes:?}");
    assert_eq!(call(f.addr, "GET", "/healthz", None, None).status, 200);

    // Writable again: the server recovers without a restart, and the refresh
    // token that could not be rotated (nor revoked) is still the current one.
    f.auth.store().set_read_only(false);
    assert_eq!(register(f.addr, "bob").status, 201);
    assert_eq!(login(f.addr, "alice").status, 200);
    assert_eq!(refresh(f.addr, &refresh_token, None).status, 200);
}

#[test]
fn a_failed_statement_costs_one_request_and_leaves_nothing_half_done() {
    let f = Fixture::start("failed-statement");
    let tokens = user(f.addr, "alice");
    let access = tokens.text("access_token");
    let refresh_token = tokens.text("refresh_token");
    let operator = f.operator();

    // Rotation is two writes in one transaction: the old token marked
    // rotated, then its successor inserted. Make the second one fail.
    operator
        .execute_batch(
            "CREATE TRIGGER injected_fault BEFORE INSERT ON refresh_tokens
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
        )
        .unwrap();
    let failed = refresh(f.addr, &refresh_token, None);
    assert_eq!(
        (failed.status, failed.error()),
        (500, "server_error"),
        "{failed:?}"
    );
    assert_eq!(failed.text("error_description"), "internal error"); // no SQL leaks out
                                                                    // Other requests are untouched.
    assert_eq!(call(f.addr, "GET", "/me", Some(&access), None).status, 200);
    let rows: (i64, i64) = operator
        .query_row(
            "SELECT count(*), count(rotated_at) FROM refresh_tokens",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        rows,
        (1, 0),
        "the first write of the failed rotation was rolled back"
    );

    // A table gone: both its readers and its writers fail, nothing else does.
    operator
        .execute_batch("ALTER TABLE notes RENAME TO notes_away")
        .unwrap();
    assert_eq!(call(f.addr, "GET", "/notes", Some(&access), None).status, 500);
    assert_eq!(post_note(f.addr, &access, "x").status, 500);
    assert_eq!(call(f.addr, "GET", "/me", Some(&access), None).status, 200);
    assert_eq!(call(f.addr, "GET", "/healthz", None, None).status, 200);

    // Mended: the same refresh token rotates (had the half-done rotation
    // stuck, this would be reuse and revoke the family), and notes work.
    operator
        .execute_batch("DROP TRIGGER injected_fault; ALTER TABLE notes_away RENAME TO notes;")
        .unwrap();
    let rotated = refresh(f.addr, &refresh_token, None);
    assert_eq!(rotated.status, 200, "{rotated:?}");
    assert_eq!(refresh(f.addr, &rotated.text("refresh_token"), None).status, 200);
    assert_eq!(post_note(f.addr, &access, "x").status, 201);
}

/// A refresh is one write transaction: its audit row is never committed
/// without the rotation. Two cases, each injected with a trigger on `audit`:
/// SQLite giving up the whole transaction (`RAISE(ROLLBACK)`, standing in for
/// what SQLite does on a full disk, an I/O error or no memory during a plain
/// one-row insert) leaves neither the rotation nor the row, and the refresh
/// fails; an error that aborts only the audit insert (`RAISE(ABORT)`, the
/// statement-level case, like a constraint error or `SQLITE_TOOBIG`) leaves
/// the transaction open, and the rotation is committed without the row.
#[test]
fn a_refresh_and_its_audit_row_are_committed_together() {
    let f = Fixture::start("audit-together");
    let tokens = user(f.addr, "alice");
    let refresh_token = tokens.text("refresh_token");
    let operator = f.operator();
    let counts = || -> (i64, i64) {
        operator
            .query_row(
                "SELECT (SELECT count(rotated_at) FROM refresh_tokens),
                        (SELECT count(*) FROM audit WHERE event = 'refresh')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };

    // The whole transaction given up after the audit insert.
    operator
        .execute_batch(
            "CREATE TRIGGER injected_fault AFTER INSERT ON audit WHEN NEW.event = 'refresh'
             BEGIN SELECT RAISE(ROLLBACK, 'injected fault'); END;",
        )
        .unwrap();
    let failed = refresh(f.addr, &refresh_token, None);
    assert_eq!(
        (failed.status, failed.error()),
        (500, "server_error"),
        "{failed:?}"
    );
    assert_eq!(counts(), (0, 0), "neither the rotation nor its audit row");

    // Statement-level: only the audit insert is undone, the transaction
    // goes on, and the rotation is committed without its row.
    operator
        .execute_batch(
            "DROP TRIGGER injected_fault;
             CREATE TRIGGER injected_fault BEFORE INSERT ON audit WHEN NEW.event = 'refresh'
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
        )
        .unwrap();
    let rotated = refresh(f.addr, &refresh_token, None);
    assert_eq!(rotated.status, 200, "{rotated:?}");
    assert_eq!(counts(), (1, 0), "the rotation, without its audit row");

    // Mended: the next rotation and its row, together.
    operator.execute_batch("DROP TRIGGER injected_fault").unwrap();
    let again = refresh(f.addr, &rotated.text("refresh_token"), None);
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(counts(), (2, 1));
}

#[test]
fn a_lock_poisoned_mid_transaction_costs_nothing_else() {
    let f = Fixture::start("poisoned");
    let tokens = user(f.addr, "alice");
    let access = tokens.text("access_token");
    let store = f.auth.store();
    let alice = store.credentials("alice").unwrap().unwrap().user;
    let record = RefreshRecord {
        jti: "poison".into(),
        token_hash: [9; 32],
        user_id: alice.id,
        family: "poison-family".into(),
        issued_at: T0,
        expires_at: T0 + 1000,
    };
    store.insert_refresh(&record).unwrap();

    // The successor closure is the one place where code other than the
    // store's runs under its writer lock, inside an open IMMEDIATE
    // transaction: a panic there poisons the lock mid-transaction.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.rotate_refresh("poison", &[9; 32], T0 + 1, 0, |_| {
            panic!("injected fault: successor")
        })
    }));
    assert!(panicked.is_err());

    // Served as before: writes (which take the poisoned lock), reads, refresh.
    assert_eq!(register(f.addr, "bob").status, 201);
    let bob = login(f.addr, "bob");
    assert_eq!(bob.status, 200);
    assert_eq!(refresh(f.addr, &bob.text("refresh_token"), None).status, 200);
    assert_eq!(post_note(f.addr, &access, "after").status, 201);
    assert_eq!(call(f.addr, "GET", "/me", Some(&access), None).status, 200);
    // The panicking rotation was rolled back: the token is still current.
    let again = store
        .rotate_refresh("poison", &[9; 32], T0 + 2, 0, |old| RefreshRecord {
            jti: "poison-2".into(),
            token_hash: [10; 32],
            ..old.clone()
        })
        .unwrap();
    assert!(matches!(again, Rotation::Rotated(_)), "{again:?}");
}

/// A file this process cannot write, for as long as the value lives. For a
/// user, a mode of 0444 does it; root ignores file modes and gets the
/// immutable attribute instead (`chattr +i`), which binds root too.
struct ReadOnlyFile<'a> {
    path: &'a Path,
    immutable: bool,
}

impl<'a> ReadOnlyFile<'a> {
    fn set(path: &'a Path) -> ReadOnlyFile<'a> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        if std::fs::OpenOptions::new().write(true).open(path).is_err() {
            return ReadOnlyFile {
                path,
                immutable: false,
            };
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let status = Command::new("chattr").arg("+i").arg(path).status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "as root this test needs `chattr +i` (e2fsprogs, a file system with the \
             immutable attribute, CAP_LINUX_IMMUTABLE): {status:?}"
        );
        ReadOnlyFile {
            path,
            immutable: true,
        }
    }
}

impl Drop for ReadOnlyFile<'_> {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(self.path).status();
        }
        // The WAL files SQLite created meanwhile took the database file's
        // mode: making the database writable again means all three files.
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", self.path.display());
            let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644));
        }
    }
}

/// A real read-only file, not a pragma (run as root, this is the immutable
/// attribute; as a user, a file mode): SQLite opens a file it cannot write
/// read-only, and such a connection stays read-only after the file becomes
/// writable. The store never pools a read-only connection, nor one that met
/// a fault; before it did, the server answered 503 until restarted.
#[cfg(target_os = "linux")]
#[test]
fn a_database_file_read_only_at_start_recovers_when_writable() {
    let path = fresh_path("read-only-file");
    drop(Store::open(&path).unwrap()); // the schema, while it can be written
    let read_only = ReadOnlyFile::set(&path);
    let f = Fixture::start_on(path.clone());
    assert_unavailable(&register(f.addr, "alice"), "read-only");
    assert_unavailable(&register(f.addr, "alice"), "read-only");
    assert_eq!(call(f.addr, "GET", "/healthz", None, None).status, 200);

    drop(read_only);
    // No connection opened read-only was kept (not even the one /healthz
    // read with): the first write after the fault succeeds.
    let registered = register(f.addr, "alice");
    assert_eq!(registered.status, 201, "still read-only: {registered:?}");
    assert_eq!(login(f.addr, "alice").status, 200);
}

/// A database made by an older version (mode 0644, password hashes readable
/// by every local user) loses its group and other bits when opened, and so
/// do its -wal and -shm files; the owner's bits stay as they were.
#[cfg(unix)]
#[test]
fn an_existing_database_is_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let path = fresh_path("modes");
    let mode = |file: &str| std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
    drop(Store::open(&path).unwrap());
    let files: Vec<String> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{}{suffix}", path.display()))
        .collect();
    for file in &files {
        if std::path::Path::new(file).exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let store = Store::open(&path).unwrap();
    store.create_user("modes", "hash", T0).unwrap();
    for file in &files {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    drop(store);
    for file in &files {
        let _ = std::fs::remove_file(file);
    }
}
