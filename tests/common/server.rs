//! The one server fixture: [`TestServer`], the real server in this process
//! on a free port of 127.0.0.1, set up by [`ServerSetup`]; and
//! [`in_process`], the same set-up with no server, for the router alone.

use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use minijwt::auth::{Auth, AuthConfig, Clock, SystemClock};
use minijwt::http::server::{Options, RunningServer};
use minijwt::store::Store;
use minijwt::Hs256Key;

/// What a test server is made of; every field has a default (an in-memory
/// store, the default config and limits of `minijwt serve`, the system
/// clock), so a test names only what it changes:
/// `ServerSetup { clock, ..ServerSetup::default() }.start()`.
pub struct ServerSetup {
    /// `None`: [`test_store`].
    pub store: Option<Store>,
    pub config: AuthConfig,
    pub clock: Arc<dyn Clock>,
    pub options: Options,
}

impl Default for ServerSetup {
    fn default() -> Self {
        ServerSetup {
            store: None,
            config: AuthConfig::default(),
            clock: Arc::new(SystemClock),
            options: Options::default(),
        }
    }
}

impl ServerSetup {
    /// The auth service alone (the same key for every test).
    pub fn auth(self) -> Auth {
        let store = self.store.unwrap_or_else(test_store);
        Auth::new(store, Hs256Key::new(&[4; 32]).unwrap(), self.config, self.clock).unwrap()
    }

    /// The server on a free port of 127.0.0.1.
    pub fn start(mut self) -> TestServer {
        let options = std::mem::take(&mut self.options);
        let auth = Arc::new(self.auth());
        let server = RunningServer::start(auth.clone(), "127.0.0.1:0", options).unwrap();
        TestServer {
            addr: server.addr(),
            metrics: server.metrics_addr(),
            server: Some(server),
            auth,
        }
    }
}

/// Names a PostgreSQL server (`postgres://USER@HOST:PORT/DB`) for the tests
/// to run on; `.ci/run` sets it. Unset, they run on SQLite.
pub const POSTGRES_VAR: &str = "MINIJWT_TEST_POSTGRES";

/// For a test that needs PostgreSQL: the database URL, or `None` after
/// saying loudly that the test is skipped; with `MINIJWT_REQUIRE_POSTGRES`
/// set (as `.ci/run` does), a missing server fails the test instead.
pub fn database(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_VAR) {
        Ok(url) if cfg!(feature = "postgres") => Some(url),
        _ if std::env::var_os("MINIJWT_REQUIRE_POSTGRES").is_some() => {
            panic!("{test}: MINIJWT_REQUIRE_POSTGRES is set, but {POSTGRES_VAR} is not (or no --features postgres)")
        }
        _ => {
            say(format!(
                "SKIPPED {test}: needs PostgreSQL ({POSTGRES_VAR}=postgres://... and --features postgres)"
            ));
            None
        }
    }
}

/// A line on stderr past the test harness's capture of `eprintln!`: seen
/// in every run, not only a failing one (a skip, what a test measured).
pub fn say(line: String) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The store a test gets when it names none, so that one suite runs on
/// either backend: a new in-memory SQLite database, or, when
/// [`POSTGRES_VAR`] is set (and the `postgres` feature on), a new schema of
/// its own in that PostgreSQL database.
pub fn test_store() -> Store {
    match std::env::var(POSTGRES_VAR) {
        Ok(url) => postgres_store(&url),
        Err(_) => Store::open_in_memory().unwrap(),
    }
}

/// A fresh, empty store in a schema of its own in the PostgreSQL database
/// at `url`: many tests may share one database and run at once.
#[cfg(feature = "postgres")]
pub fn postgres_store(url: &str) -> Store {
    Store::open(postgres_schema(url)).unwrap()
}

/// A new schema in the database at `url`, and the URL that puts every
/// connection in it (`search_path`).
#[cfg(feature = "postgres")]
pub fn postgres_schema(url: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!(
        "t{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("{POSTGRES_VAR}={url}: cannot connect: {e}"));
    admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

#[cfg(not(feature = "postgres"))]
pub fn postgres_store(url: &str) -> Store {
    Store::open(postgres_schema(url)).unwrap()
}

#[cfg(not(feature = "postgres"))]
pub fn postgres_schema(_: &str) -> String {
    panic!("{POSTGRES_VAR} is set, but this test build has no PostgreSQL: run it with --features postgres");
}

/// A running server, shut down when dropped.
pub struct TestServer {
    server: Option<RunningServer>,
    pub addr: SocketAddr,
    /// The metrics listener's address, when `options.metrics_addr` asked for one.
    pub metrics: Option<SocketAddr>,
    /// The server's auth service (and through it, its store).
    pub auth: Arc<Auth>,
}

impl TestServer {
    /// Shuts the server down, waiting at most 10 s: a worker stuck on a
    /// client must not hang the run. Call it after dropping every client
    /// connection (a worker may be blocked on one); false if the server did
    /// not stop.
    pub fn stop(mut self) -> bool {
        let server = self.server.take().unwrap();
        let (done, stopped) = mpsc::channel();
        std::thread::spawn(move || {
            server.shutdown();
            let _ = done.send(());
        });
        stopped.recv_timeout(Duration::from_secs(10)).is_ok()
    }

    /// Shuts the server down and waits for it.
    pub fn shutdown(mut self) {
        self.server.take().unwrap().shutdown();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
    }
}

/// A server with the defaults of [`ServerSetup`].
pub fn start_default_server() -> TestServer {
    ServerSetup::default().start()
}

/// The router's auth service with the defaults of [`ServerSetup`] and no
/// server: requests go to `router::handle` (see [`Target`](super::Target)).
pub fn in_process() -> Auth {
    ServerSetup::default().auth()
}

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// For the tests that count this process's threads, descriptors and
/// memory, which other tests running beside them would disturb: waits for
/// this test's turn, then starts its server and checks it answers.
pub fn take_turn() -> (MutexGuard<'static, ()>, TestServer, SocketAddr) {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let server = start_default_server();
    let addr = server.addr;
    super::healthz(addr).expect("a fresh server answers /healthz");
    (turn, server, addr)
}
