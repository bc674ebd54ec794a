//! PostgreSQL faults under load (issue 12, "several minijwt instances on
//! PostgreSQL behave as one server"): the database stopped and started
//! again while clients keep calling, and one of three `minijwt serve`
//! processes killed with SIGKILL while the other two carry the load.
//!
//! Needs PostgreSQL, as tests/postgres.rs does: `MINIJWT_TEST_POSTGRES` and
//! `--features postgres`; without them each test says SKIPPED, and with
//! `MINIJWT_REQUIRE_POSTGRES=1` a missing server is a failure. The test that
//! stops the database runs a cluster of its own (tests/postgres/cluster.sh,
//! in a folder under target/): the one the other tests share is never
//! stopped.
//!
//! Each test prints what it measured on stderr (past the harness's capture).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::serve::{serve_with, workdir, Launch};
use common::*;
use minijwt::store::Store;
use serde_json::{json, Value};

/// A PostgreSQL cluster of the test's own (tests/postgres/cluster.sh),
/// stopped and its folder removed when dropped, a failing test's included.
struct Cluster {
    dir: PathBuf,
    url: String,
}

impl Cluster {
    fn start(name: &str) -> Cluster {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pg-faults-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The guard exists before the start, so that a start that fails
        // half-way is stopped too.
        let mut cluster = Cluster {
            dir,
            url: String::new(),
        };
        cluster.url = cluster.script("start");
        assert!(cluster.url.starts_with("postgres://"), "{}", cluster.url);
        cluster
    }

    /// `cluster.sh COMMAND DIR`: its stdout, trimmed; panics if it failed.
    /// (pg_ctl bounds its own waits: 60 s.)
    fn script(&self, command: &str) -> String {
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postgres/cluster.sh"))
            .arg(command)
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "cluster.sh {command}: {:?}", out.status);
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Stops PostgreSQL (fast: open sessions are ended); returns once it is down.
    fn stop(&self) {
        self.script("stop");
    }

    /// Starts it again, at the same URL; returns once it accepts connections.
    fn start_again(&self) {
        assert_eq!(self.script("start"), self.url, "the same port after a restart");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postgres/cluster.sh"))
            .arg("stop")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .status();
        // As root, when the postgres user could not reach the folder, the
        // cluster lives in a folder of its own that `where` names.
        if let Ok(elsewhere) = std::fs::read_to_string(self.dir.join("where")) {
            let _ = std::fs::remove_dir_all(elsewhere.trim());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a client of the load asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Me,
    Login,
    Refresh,
    Register,
    Note,
}

const KINDS: [Kind; 5] = [Kind::Me, Kind::Login, Kind::Refresh, Kind::Register, Kind::Note];

/// One request of the load and its answer (or why there was none).
struct Sample {
    kind: Kind,
    /// The instance it went to.
    on: char,
    started: Instant,
    took: Duration,
    /// What was written, for a register (the name) or a note (the text).
    what: String,
    reply: Result<Reply, String>,
}

impl Sample {
    fn ended(&self) -> Instant {
        self.started + self.took
    }
    fn ok(&self) -> bool {
        matches!(&self.reply, Ok(r) if (200..300).contains(&r.status))
    }
    fn status(&self) -> Option<u16> {
        self.reply.as_ref().ok().map(|r| r.status)
    }
}

/// A request on a new connection, with a bearer token and a JSON body if
/// any; an answer that does not come (a dead server) is an `Err`, not a panic.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> Result<Reply, String> {
    let authorization = bearer.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("Authorization", value.as_str()))
        .collect();
    try_raw(addr, &bytes_of(&request(method, path, &headers, body))).map_err(|e| e.to_string())
}

fn credentials(username: &str) -> Value {
    json!({"username": username, "password": PASSWORD})
}

/// Client threads, each calling in a loop until stopped; every request is
/// logged as a [`Sample`]. Dropping it stops and joins them.
struct Load {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Sample>>>,
    threads: Vec<JoinHandle<()>>,
}

/// One step of a client: the instance it called, what it wrote, the answer.
type Step = Box<dyn FnMut(u64) -> (char, String, Result<Reply, String>) + Send>;

impl Load {
    fn new() -> Load {
        Load {
            stop: Arc::new(AtomicBool::new(false)),
            log: Arc::new(Mutex::new(Vec::new())),
            threads: Vec::new(),
        }
    }

    fn spawn(&mut self, kind: Kind, mut step: Step) {
        let (stop, log) = (self.stop.clone(), self.log.clone());
        self.threads.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let (on, what, reply) = step(n);
                let took = started.elapsed();
                log.lock().unwrap().push(Sample {
                    kind,
                    on,
                    started,
                    took,
                    what,
                    reply,
                });
                n += 1;
                // Pacing, not synchronization: a client answered at once
                // (a 503, a refused connection) would otherwise spin.
                std::thread::sleep(Duration::from_millis(2));
            }
        }));
    }

    /// Waits up to `within` until `done` holds of the samples so far.
    fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&[Sample]) -> bool) {
        let deadline = Instant::now() + within;
        while !done(&self.log.lock().unwrap()) {
            assert!(Instant::now() < deadline, "waited {within:?} for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the clients (each finishes its request: at most the client's
    /// 10 s read timeout) and returns every sample.
    fn finish(mut self) -> Vec<Sample> {
        self.halt();
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            thread.join().expect("a client thread panicked");
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Whether every kind has at least `n` samples that `which` picks.
fn each_kind(samples: &[Sample], n: usize, which: impl Fn(&Sample) -> bool) -> bool {
    KINDS
        .iter()
        .all(|kind| samples.iter().filter(|s| s.kind == *kind && which(s)).count() >= n)
}

/// The five clients of a load: /me with `access`, logins of `login_user`,
/// rotations from `refresh_token`, new users named `prefix`N, and notes
/// `prefix`N written with `writer`'s access token. Each picks its instance
/// from `on` by turns.
fn clients(
    load: &mut Load,
    on: &[(char, SocketAddr)],
    prefix: &str,
    access: String,
    login_user: String,
    refresh_token: String,
    writer: String,
) {
    let pick = |on: &[(char, SocketAddr)], n: u64| on[(n % on.len() as u64) as usize];
    let servers = on.to_vec();
    load.spawn(
        Kind::Me,
        Box::new(move |n| {
            let (name, addr) = pick(&servers, n);
            (name, String::new(), send(addr, "GET", "/me", Some(&access), None))
        }),
    );
    let servers = on.to_vec();
    load.spawn(
        Kind::Login,
        Box::new(move |n| {
            let (name, addr) = pick(&servers, n);
            (
                name,
                String::new(),
                send(addr, "POST", "/auth/login", None, Some(&credentials(&login_user))),
            )
        }),
    );
    let servers = on.to_vec();
    let mut token = refresh_token;
    load.spawn(
        Kind::Refresh,
        Box::new(move |n| {
            let (name, addr) = pick(&servers, n);
            let reply = send(
                addr,
                "POST",
                "/auth/refresh",
                None,
                Some(&json!({ "refresh_token": token })),
            );
            // A refresh that failed keeps the token: if its rotation was
            // committed all the same, presenting it again within the grace
            // window gets the same successor.
            if let Ok(r) = &reply {
                if r.status == 200 {
                    token = r.text("refresh_token");
                }
            }
            (name, String::new(), reply)
        }),
    );
    let servers = on.to_vec();
    let names = prefix.to_owned();
    load.spawn(
        Kind::Register,
        Box::new(move |n| {
            let (name, addr) = pick(&servers, n);
            let username = format!("{names}{n}");
            let reply = send(
                addr,
                "POST",
                "/auth/register",
                None,
                Some(&credentials(&username)),
            );
            (name, username, reply)
        }),
    );
    let servers = on.to_vec();
    let texts = prefix.to_owned();
    load.spawn(
        Kind::Note,
        Box::new(move |n| {
            let (name, addr) = pick(&servers, n);
            let text = format!("{texts} note {n}");
            let reply = send(
                addr,
                "POST",
                "/notes",
                Some(&writer),
                Some(&json!({ "text": text })),
            );
            (name, text, reply)
        }),
    );
}

/// Every register and note that was acknowledged (2xx) is in the database:
/// the user can be found by name, the note among its writer's.
fn nothing_acknowledged_is_lost<'s>(
    store: &Store,
    samples: impl IntoIterator<Item = &'s Sample>,
    writer: &str,
) -> (usize, usize) {
    let writer = store.credentials(writer).unwrap().expect("the writer").user;
    let notes: Vec<String> = store
        .notes(writer.id)
        .unwrap()
        .into_iter()
        .map(|n| n.text)
        .collect();
    let (mut users, mut written) = (0, 0);
    for sample in samples.into_iter().filter(|s| s.ok()) {
        match sample.kind {
            Kind::Register => {
                assert!(
                    store.credentials(&sample.what).unwrap().is_some(),
                    "user {} was acknowledged (201) and is gone",
                    sample.what
                );
                users += 1;
            }
            Kind::Note => {
                assert!(
                    notes.contains(&sample.what),
                    "note {:?} was acknowledged (201) and is gone",
                    sample.what
                );
                written += 1;
            }
            _ => {}
        }
    }
    (users, written)
}

/// The 99th percentile and the maximum of the samples' latencies.
fn p99_and_max(samples: &[&Sample]) -> (Duration, Duration) {
    let mut took: Vec<Duration> = samples.iter().map(|s| s.took).collect();
    took.sort();
    let p99 = took
        .get((took.len() * 99 / 100).min(took.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    (p99, took.last().copied().unwrap_or_default())
}

/// The longest a request may take while the database is down: connecting
/// to a stopped server is refused at once, so an answer should come in
/// milliseconds; this allows for a loaded two-core machine.
const DOWN_BOUND: Duration = Duration::from_secs(2);

#[test]
fn postgresql_stopped_and_started_under_load_answers_503_then_recovers_by_itself() {
    let test = "postgresql_stopped_and_started_under_load_answers_503_then_recovers_by_itself";
    let Some(_) = database(test) else {
        return;
    };
    let cluster = Cluster::start("stop-start");
    let server = ServerSetup {
        store: Some(Store::open(postgres_schema(&cluster.url)).unwrap()),
        ..ServerSetup::default()
    }
    .start();
    let addr = server.addr;
    let reader = user(addr, "reader");
    let rotator = user(addr, "rotator");
    let writer = user(addr, "writer");
    assert_eq!(register(addr, "visitor").status, 201);

    let mut load = Load::new();
    clients(
        &mut load,
        &[('s', addr)],
        "fresh",
        reader.text("access_token"),
        "visitor".into(),
        rotator.text("refresh_token"),
        writer.text("access_token"),
    );
    load.wait_for("every client to succeed 3 times", Duration::from_secs(30), |s| {
        each_kind(s, 3, Sample::ok)
    });

    let stopping = Instant::now();
    cluster.stop();
    let down = Instant::now();

    // While it is down: the process answers, the database does not.
    let healthz = call(addr, "GET", "/healthz", None, None);
    assert_eq!(healthz.status, 200, "{healthz:?}");
    let readyz = call(addr, "GET", "/readyz", None, None);
    assert_error_body(&readyz, 503, "temporarily_unavailable");
    assert_eq!(readyz.header("Retry-After"), Some("1"));
    // An access check needs no database for a user this instance has
    // already seen: Auth::authenticate reads the token's user from the user
    // cache (Store::user_by_id), which the other instances' deletions reach
    // by NOTIFY. So /me with a token issued before the stop is still 200.
    let me = call(addr, "GET", "/me", Some(&reader.text("access_token")), None);
    assert_eq!(
        (me.status, me.body["username"].as_str()),
        (200, Some("reader")),
        "{me:?}"
    );
    load.wait_for(
        "every client to be answered 20 times while the database is down",
        Duration::from_secs(30),
        |s| each_kind(s, 20, |s| s.started >= down),
    );

    let starting = Instant::now();
    cluster.start_again();
    let up = Instant::now();
    // It recovers by itself: the pool drops the connections that broke and
    // opens new ones (src/store/postgres.rs, `run`).
    let deadline = up + Duration::from_secs(15);
    while call(addr, "GET", "/readyz", None, None).status != 200 {
        assert!(
            Instant::now() < deadline,
            "/readyz not 200 15 s after PostgreSQL was back"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let ready_after = up.elapsed();
    load.wait_for(
        "every client to succeed again after the restart",
        Duration::from_secs(15),
        |s| each_kind(s, 1, |s| s.started >= up && s.ok()),
    );
    let all_after = up.elapsed();
    let samples = load.finish();

    // Every answer was a success or a 503 in the error format, with
    // Retry-After: never a 500, a 401 (a lost rotation), or no answer.
    for s in &samples {
        let reply = s
            .reply
            .as_ref()
            .unwrap_or_else(|e| panic!("{:?}: no answer: {e}", s.kind));
        if !s.ok() {
            assert_error_body(reply, 503, "temporarily_unavailable");
            assert_eq!(reply.header("Retry-After"), Some("1"), "{:?}: {reply:?}", s.kind);
        }
    }
    // Before the stop, everything succeeded.
    let before: Vec<_> = samples.iter().filter(|s| s.ended() <= stopping).collect();
    assert!(before.iter().all(|s| s.ok()), "a failure before the stop");
    // While it was down, everything that needs the database was 503, the
    // access checks of a cached user 200, and all answered quickly: no
    // request waits on a database that is not there.
    let while_down: Vec<_> = samples
        .iter()
        .filter(|s| s.started >= down && s.ended() <= starting)
        .collect();
    for s in &while_down {
        let expected = if s.kind == Kind::Me { 200 } else { 503 };
        assert_eq!(
            s.status(),
            Some(expected),
            "{:?} while the database was down",
            s.kind
        );
    }
    let (p99, max) = p99_and_max(&while_down);
    assert!(
        max < DOWN_BOUND,
        "a request took {max:?} while the database was down"
    );
    // And nothing acknowledged was lost.
    let (users, notes) = nothing_acknowledged_is_lost(server.auth.store(), &samples, "writer");
    assert!(users > 0 && notes > 0);

    let after = samples.iter().filter(|s| s.started >= up).count();
    say(format!(
        "{test}: {} requests before the stop, all 2xx; PostgreSQL down {:.1} s: {} requests, all 503 \
         (Retry-After: 1) but /me's 200 (a cached user), p99 {p99:?}, max {max:?}; after the start: /readyz 200 in {ready_after:?}, \
         every kind of request 2xx again within {all_after:?} ({after} requests since); \
         acknowledged and still there: {users} users, {notes} notes",
        before.len(),
        (starting - down).as_secs_f64(),
        while_down.len(),
    ));
    drop(server);
}

#[test]
fn one_of_three_serve_processes_killed_with_sigkill_under_load() {
    let test = "one_of_three_serve_processes_killed_with_sigkill_under_load";
    let Some(url) = database(test) else {
        return;
    };
    let db = postgres_schema(&url);
    let dir = workdir("pg-sigkill");
    // One key file for the three, so that a token from one verifies on all.
    let key = dir.join("shared.key");
    let launch = Launch {
        args: vec![
            "--db".into(),
            db.clone(),
            "--key-file".into(),
            key.display().to_string(),
        ],
        ..Launch::default()
    };
    // Started one after the other: the first creates the key file.
    let mut a = serve_with(&dir, &[], &launch);
    let b = serve_with(&dir, &[], &launch);
    let c = serve_with(&dir, &[], &launch);

    // Issued by A before the kill, for after it.
    let kept = user(a.addr, "kept");
    let reader = user(a.addr, "reader");
    let rotator = user(b.addr, "rotator");
    let writer = user(c.addr, "writer");
    assert_eq!(register(a.addr, "visitor").status, 201);
    let doomed = user(a.addr, "doomed");
    assert_eq!(register(a.addr, "doomed_visitor").status, 201);
    let doomed_writer = user(a.addr, "doomed_writer");

    // The load: one set of clients on A alone, one spread over B and C.
    let mut load = Load::new();
    clients(
        &mut load,
        &[('a', a.addr)],
        "on_a",
        doomed.text("access_token"),
        "doomed_visitor".into(),
        doomed.text("refresh_token"),
        doomed_writer.text("access_token"),
    );
    clients(
        &mut load,
        &[('b', b.addr), ('c', c.addr)],
        "on_bc",
        reader.text("access_token"),
        "visitor".into(),
        rotator.text("refresh_token"),
        writer.text("access_token"),
    );
    load.wait_for(
        "every client to succeed 3 times on A",
        Duration::from_secs(30),
        |s| each_kind(s, 3, |s| s.on == 'a' && s.ok()),
    );
    load.wait_for(
        "every client to succeed 3 times on B or C",
        Duration::from_secs(30),
        |s| each_kind(s, 3, |s| s.on != 'a' && s.ok()),
    );

    // `killed` is when the signal went: a request that ended after it may
    // have failed, one that ended before it may not.
    let killed = Instant::now();
    a.kill_9();
    load.wait_for(
        "every client on B and C to succeed 5 more times after the kill",
        Duration::from_secs(30),
        |s| each_kind(s, 5, |s| s.on != 'a' && s.started >= killed && s.ok()),
    );

    // A again, on the same database with the same key: it serves, and a
    // token it issued before it was killed works on it.
    let restarted = Instant::now();
    let a2 = serve_with(&dir, &[], &launch);
    let serving_after = restarted.elapsed();
    let me = call(a2.addr, "GET", "/me", Some(&kept.text("access_token")), None);
    assert_eq!(
        (me.status, me.body["username"].as_str()),
        (200, Some("kept")),
        "{me:?}"
    );
    let rotated = refresh(a2.addr, &kept.text("refresh_token"), None);
    assert_eq!(rotated.status, 200, "{rotated:?}");
    assert_eq!(call(a2.addr, "GET", "/readyz", None, None).status, 200);
    assert_eq!(login(a2.addr, "visitor").status, 200);
    // And what it issues now works on the others.
    let on_b = call(b.addr, "GET", "/me", Some(&rotated.text("access_token")), None);
    assert_eq!(on_b.status, 200, "{on_b:?}");

    let samples = load.finish();
    // B and C: not one error, before, during or after the kill.
    let survivors: Vec<_> = samples.iter().filter(|s| s.on != 'a').collect();
    for s in &survivors {
        assert!(
            s.ok(),
            "{:?} on {} failed: {:?}",
            s.kind,
            s.on,
            s.reply.as_ref().map(|r| (r.status, r.body.clone()))
        );
    }
    // A: everything succeeded until it was killed.
    let on_a: Vec<_> = samples.iter().filter(|s| s.on == 'a').collect();
    for s in on_a.iter().filter(|s| s.ended() < killed) {
        assert!(s.ok(), "{:?} on A before the kill: {:?}", s.kind, s.reply);
    }
    // Nothing acknowledged by any of the three, A included, was lost.
    let store = Store::open(&db).unwrap();
    let (users_bc, notes_bc) = nothing_acknowledged_is_lost(&store, survivors.iter().copied(), "writer");
    let (users_a, notes_a) = nothing_acknowledged_is_lost(&store, on_a.iter().copied(), "doomed_writer");
    assert!(users_bc > 0 && notes_bc > 0 && users_a > 0 && notes_a > 0);
    let around: Vec<_> = survivors
        .iter()
        .filter(|s| {
            s.started >= killed - Duration::from_secs(1) && s.started <= killed + Duration::from_secs(1)
        })
        .copied()
        .collect();
    let (p99, max) = p99_and_max(&around);
    let after = survivors.iter().filter(|s| s.started >= killed).count();
    say(format!(
        "{test}: B and C: {} requests, all 2xx ({after} after the kill; within 1 s of it: p99 {p99:?}, max {max:?}); \
         A: {} requests, {} after the kill unanswered; A restarted and serving in {serving_after:?}; \
         acknowledged and still there: {} users, {} notes",
        survivors.len(),
        on_a.len(),
        on_a.iter().filter(|s| s.started >= killed && s.reply.is_err()).count(),
        users_bc + users_a,
        notes_bc + notes_a,
    ));
    drop((b, c, a2));
}
