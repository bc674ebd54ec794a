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
    /// `None`: a new in-memory store.
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
        let store = self.store.unwrap_or_else(|| Store::open_in_memory().unwrap());
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
