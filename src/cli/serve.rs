//! `minijwt serve`: configuration, key and database set-up, signals.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use minijwt::auth::{Auth, AuthConfig, KeyRing, SystemClock, ThrottleLimits};
use minijwt::http::proxy::{Cidr, ProxyHeader, TrustedProxies};
use minijwt::http::server::{Options, RunningServer};
use minijwt::store::{display_location, Store};
use minijwt::Hs256Key;

use super::keygen::write_new_private_file;
use super::keys::load_ring;
use super::{usage, CliError, Parsed, SECRET_ENV};

const HELP: &str = "\
minijwt serve: the access/refresh token auth server

Options (each also read from the environment variable shown; the option wins):
  --addr ADDR          listen address                 MINIJWT_ADDR         [127.0.0.1:8080]
  --db FILE|URL        SQLite database file, created,  MINIJWT_DB           [minijwt.db]
                       or postgres://USER@HOST:PORT/DB (a build with --features postgres)
  --key-file FILE      HS256 key, created if missing   MINIJWT_KEY_FILE     [minijwt.key]
                       (MINIJWT_SECRET, base64url text, overrides the file)
  --access-ttl SECS    access token lifetime           MINIJWT_ACCESS_TTL   [3600]
  --refresh-ttl SECS   refresh token family lifetime   MINIJWT_REFRESH_TTL  [1209600 = 2 weeks]
  --refresh-grace SECS after a rotation, the previous refresh token presented
                       again (a lost answer, two tabs) gets the same successor
                       while that is unused; 0: strict   MINIJWT_REFRESH_GRACE [30]
  --issuer ISS         iss of every token              MINIJWT_ISSUER       [minijwt]
  --max-connections N  connections served at once; past it a new one gets
                       503 and is closed               MINIJWT_MAX_CONNECTIONS [1024]
  --workers N          accepted for old command lines, no effect: each
                       connection is served on its own thread
                                                       MINIJWT_WORKERS
  --trusted-proxy CIDR a reverse proxy (repeatable): only for connections
                       from it are Forwarded / X-Forwarded-For read, and the
                       client is the rightmost address not itself trusted
                                                       MINIJWT_TRUSTED_PROXIES
                                                       (comma-separated)    [none]
  --audit-days N       days the audit trail keeps an event
                       (read it with `minijwt audit`)  MINIJWT_AUDIT_DAYS   [90]
  --proxy-header H     the header the trusted proxies append the client to:
                       x-forwarded-for or forwarded (RFC 7239)
                                                       MINIJWT_PROXY_HEADER [x-forwarded-for]
  --failed-logins-per-address N
                       failed logins per client address per 15 min
                                                       MINIJWT_FAILED_LOGINS_PER_ADDRESS [100]
  --metrics-addr ADDR  serve GET /metrics (Prometheus text format) on this
                       address, a listener of its own; never on --addr
                                                       MINIJWT_METRICS_ADDR [off]
  --no-register        turn off POST /auth/register    MINIJWT_NO_REGISTER=1
  --demo               access tokens live 20 s, so the page at / shows
                       expiry and refresh within a minute (--access-ttl wins)

The page at http://ADDR/ walks through the access/refresh flow live. Its refresh
cookie is Secure: browsers keep it over plain HTTP on loopback only, so on any
other address put HTTPS in front.

Stops cleanly on SIGINT or SIGTERM: finishes requests in flight, then exits 0.
Re-reads the key file on SIGHUP (see minijwt keys --help) without dropping anyone.
";

/// The access token lifetime of `--demo`: short enough to watch expire.
const DEMO_ACCESS_TTL: u32 = 20;

/// One setting: the option, else the environment variable.
fn setting(parsed: &Parsed<'_>, option: &str, env: &str) -> Result<Option<String>, CliError> {
    if let Some(value) = parsed.get(option) {
        return Ok(Some(value.to_owned()));
    }
    match std::env::var(env) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(usage(format!("{env} is not valid UTF-8"))),
    }
}

fn number<T: std::str::FromStr>(
    parsed: &Parsed<'_>,
    option: &str,
    env: &str,
    default: T,
) -> Result<T, CliError> {
    match setting(parsed, option, env)? {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| usage(format!("--{option} ({env}) must be a whole number, not {text:?}"))),
    }
}

pub fn run(args: &[&str]) -> Result<(), CliError> {
    let parsed = Parsed::with_repeatable(
        args,
        &[
            "addr",
            "db",
            "key-file",
            "access-ttl",
            "refresh-ttl",
            "refresh-grace",
            "issuer",
            "workers",
            "max-connections",
            "failed-logins-per-address",
            "trusted-proxy",
            "proxy-header",
            "audit-days",
            "metrics-addr",
        ],
        &["no-register", "demo"],
        &["trusted-proxy"],
    )?;
    if parsed.help {
        print!("{HELP}");
        return Ok(());
    }
    parsed.no_positional()?;

    let addr = setting(&parsed, "addr", "MINIJWT_ADDR")?.unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let db = setting(&parsed, "db", "MINIJWT_DB")?.unwrap_or_else(|| "minijwt.db".to_owned());
    let key_file =
        setting(&parsed, "key-file", "MINIJWT_KEY_FILE")?.unwrap_or_else(|| "minijwt.key".to_owned());
    let demo = parsed.get("demo").is_some();
    let access_ttl: u32 = number(
        &parsed,
        "access-ttl",
        "MINIJWT_ACCESS_TTL",
        if demo { DEMO_ACCESS_TTL } else { 3600 },
    )?;
    let refresh_ttl: u32 = number(&parsed, "refresh-ttl", "MINIJWT_REFRESH_TTL", 14 * 24 * 3600)?;
    let refresh_grace: u32 = number(
        &parsed,
        "refresh-grace",
        "MINIJWT_REFRESH_GRACE",
        minijwt::auth::DEFAULT_REFRESH_GRACE as u32,
    )?;
    // Still parsed and checked, so that a command line that worked before
    // starts the same way; the transport has no worker pool any more.
    let workers: usize = number(&parsed, "workers", "MINIJWT_WORKERS", 1)?;
    let max_connections: usize = number(
        &parsed,
        "max-connections",
        "MINIJWT_MAX_CONNECTIONS",
        minijwt::http::server::MAX_CONNECTIONS,
    )?;
    let audit_days: u32 = number(&parsed, "audit-days", "MINIJWT_AUDIT_DAYS", 90)?;
    let per_address: usize = number(
        &parsed,
        "failed-logins-per-address",
        "MINIJWT_FAILED_LOGINS_PER_ADDRESS",
        100,
    )?;
    let proxies = match parsed.all("trusted-proxy") {
        given if !given.is_empty() => given.into_iter().map(str::to_owned).collect(),
        _ => match std::env::var("MINIJWT_TRUSTED_PROXIES") {
            Ok(list) => list
                .split(',')
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect(),
            Err(_) => Vec::new(),
        },
    };
    let proxy_header: ProxyHeader = setting(&parsed, "proxy-header", "MINIJWT_PROXY_HEADER")?
        .map(|h| h.parse().map_err(|e| usage(format!("--proxy-header: {e}"))))
        .transpose()?
        .unwrap_or_default();
    let trusted_proxies = TrustedProxies::new(
        proxies
            .iter()
            .map(|range| {
                range
                    .parse::<Cidr>()
                    .map_err(|e| usage(format!("--trusted-proxy: {e}")))
            })
            .collect::<Result<_, _>>()?,
    )
    .with_header(proxy_header);
    let metrics_addr =
        setting(&parsed, "metrics-addr", "MINIJWT_METRICS_ADDR")?.filter(|a| !a.trim().is_empty());
    let issuer = setting(&parsed, "issuer", "MINIJWT_ISSUER")?.unwrap_or_else(|| "minijwt".to_owned());
    let no_register = match setting(&parsed, "no-register", "MINIJWT_NO_REGISTER")? {
        None => false,
        Some(v) => matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        ),
    };
    if access_ttl == 0 || refresh_ttl == 0 || workers == 0 || max_connections == 0 || per_address == 0 {
        return Err(usage(
            "TTLs, --workers, --max-connections and --failed-logins-per-address must be at least 1",
        ));
    }

    return_large_buffers_to_the_os();
    let (keys, key_source) = load_or_create_keys(&key_file)?;
    // A URL may hold a password: shown without it, in errors as in the log.
    let shown_db = display_location(&db);
    let store = Store::open(&db).map_err(|e| usage(format!("cannot open database {shown_db}: {e}")))?;
    let config = AuthConfig {
        issuer,
        access_ttl: i64::from(access_ttl),
        refresh_ttl: i64::from(refresh_ttl),
        refresh_grace: i64::from(refresh_grace),
        audit_days: i64::from(audit_days),
        allow_register: !no_register,
        throttle: ThrottleLimits {
            per_address,
            ..ThrottleLimits::default()
        },
        ..AuthConfig::default()
    };
    let auth = Auth::new(store, keys, config, Arc::new(SystemClock)).map_err(usage)?;
    let auth = Arc::new(auth);

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| usage(format!("cannot install signal handler: {e}")))?;
    }
    let reload = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone())
        .map_err(|e| usage(format!("cannot install signal handler: {e}")))?;
    let options = Options {
        max_connections,
        log: true,
        trusted_proxies,
        metrics_addr: metrics_addr.clone(),
    };
    let server = RunningServer::start(auth.clone(), &addr, options).map_err(|e| match &metrics_addr {
        Some(metrics) => usage(format!("cannot listen on {addr} and {metrics} (metrics): {e}")),
        None => usage(format!("cannot listen on {addr}: {e}")),
    })?;
    eprintln!(
        "minijwt: listening on http://{}, database {shown_db}, key from {key_source}, up to {max_connections} connections",
        server.addr()
    );
    if let Some(at) = server.metrics_addr() {
        eprintln!("minijwt: metrics on http://{at}/metrics");
    }
    if demo {
        eprintln!(
            "minijwt: demo: access tokens live {access_ttl} s; open http://{}/",
            server.addr()
        );
    }
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if reload.swap(false, Ordering::SeqCst) {
            reload_keys(&auth, &key_file);
        }
    }
    say("minijwt: stopping: finishing requests in flight");
    server.shutdown();
    say("minijwt: stopped");
    Ok(())
}

/// A line on stderr that does not hold up the stop: stderr may be a pipe
/// whose reader stopped reading (the request log filled it), and a stopping
/// server must still stop. Written by a thread of its own, waited for 1 s.
fn say(line: impl Into<String>) {
    let line = line.into();
    let Ok(writer) = std::thread::Builder::new().spawn(move || eprintln!("{line}")) else {
        return;
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while !writer.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// SIGHUP: the key file again. A file that cannot be read keeps the keys in
/// use, with one line saying why; `MINIJWT_SECRET` is a single key and has
/// nothing to reload.
fn reload_keys(auth: &Auth, path: &str) {
    if std::env::var_os(SECRET_ENV).is_some() {
        say(format!(
            "minijwt: SIGHUP: the key comes from {SECRET_ENV}, nothing reloaded"
        ));
        return;
    }
    match load_ring(path) {
        Ok(ring) => {
            let signing = ring.signing_kid.as_deref().unwrap_or("- (legacy)").to_owned();
            auth.set_keys(KeyRing::new(ring.signing_kid, ring.signing, ring.verify));
            say(format!(
                "minijwt: SIGHUP: keys reloaded from {path}; signing key {signing}"
            ));
        }
        Err(e) => say(format!(
            "minijwt: SIGHUP: keys not reloaded, the keys in use stay: {e}"
        )),
    }
}

/// The key from `MINIJWT_SECRET`, else the key ring in `path`, which is
/// created with one random 32-byte key (mode 0600) when missing. Returns
/// where it came from.
fn load_or_create_keys(path: &str) -> Result<(KeyRing, String), CliError> {
    if let Ok(text) = std::env::var(SECRET_ENV) {
        let key = Hs256Key::from_base64url(&text).map_err(|e| usage(format!("{SECRET_ENV}: {e}")))?;
        return Ok((key.into(), SECRET_ENV.to_owned()));
    }
    if std::path::Path::new(path).exists() {
        let ring = load_ring(path)?;
        let keys = KeyRing::new(ring.signing_kid, ring.signing, ring.verify);
        return Ok((keys, path.to_owned()));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| usage(format!("the OS random source failed: {e}")))?;
    let text = minijwt::base64url::encode(&secret);
    write_new_private_file(path, format!("{text}\n").as_bytes())?;
    let key = Hs256Key::new(&secret).map_err(|e| usage(e.to_string()))?;
    Ok((key.into(), format!("{path} (created)")))
}

/// Makes freed Argon2 buffers go back to the operating system.
///
/// glibc serves large allocations with mmap, but after the first large free it
/// raises that threshold, and from then on each worker thread's arena keeps
/// its 19 MiB Argon2 buffer resident: measured here, one login took the server
/// from 5 MB to 44 MB resident, and 16 workers could pin 300 MB. A fixed
/// threshold turns the adjustment off (same machine: 5 MB after logins,
/// 12 MB under a `GET /me` load).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_to_the_os() {
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    /// From glibc's malloc.h.
    const M_MMAP_THRESHOLD: i32 = -3;
    // SAFETY: mallopt only sets a tuning parameter of glibc's allocator, with
    // a value in its documented range, before any worker thread exists.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_os() {}
