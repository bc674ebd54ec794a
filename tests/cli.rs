//! The `minijwt` binary, run as a user runs it: arguments, stdin, exit codes,
//! and one readable line on stderr for every error.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// base64url of "minijwt-test-key-0123456789abcdef" (33 bytes).
const KEY: &str = "bWluaWp3dC10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGVm";

fn minijwt(args: &[&str]) -> Output {
    run(args, None, &[("MINIJWT_SECRET", Some(KEY))])
}

fn run(args: &[&str], stdin: Option<&str>, env: &[(&str, Option<&str>)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minijwt"));
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let mut child = command.spawn().expect("the binary runs");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Exit code `code`, and for failures exactly one line on stderr, never a panic.
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "stderr: {}", stderr(output));
    let err = stderr(output);
    assert!(!err.contains("panicked"), "{err}");
    if code != 0 {
        assert_eq!(err.lines().count(), 1, "one line on stderr, got {err:?}");
        assert!(err.starts_with("minijwt: "), "{err}");
    }
}

fn encode(claims: &str) -> String {
    let output = minijwt(&["token", "encode", claims]);
    assert_exit(&output, 0);
    stdout(&output).trim().to_owned()
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minijwt-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    dir
}

#[test]
fn encode_then_verify_prints_the_claims() {
    let token = encode(r#"{"sub":"42","exp":4102444800}"#);
    let output = minijwt(&["token", "verify", &token]);
    assert_exit(&output, 0);
    let claims: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(claims, serde_json::json!({"sub": "42", "exp": 4102444800u64}));
}

#[test]
fn encode_exp_in_sets_a_future_exp_and_typ() {
    let output = minijwt(&["token", "encode", "--typ", "at+jwt", "--exp-in", "60", "{}"]);
    assert_exit(&output, 0);
    let token = stdout(&output).trim().to_owned();
    let header = minijwt::base64url::decode(token.split('.').next().unwrap()).unwrap();
    assert_eq!(header, br#"{"alg":"HS256","typ":"at+jwt"}"#);
    // A plain-JWT verifier refuses it; one expecting at+jwt accepts it.
    let refused = minijwt(&["token", "verify", &token]);
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused)
            .contains(r#"token type is "at+jwt", expected "JWT" (--typ sets the type to expect)"#),
        "{}",
        stderr(&refused)
    );
    assert_exit(&minijwt(&["token", "verify", "--typ", "at+jwt", &token]), 0);
}

#[test]
fn verify_reads_stdin_and_a_key_file() {
    let token = encode(r#"{"exp":4102444800}"#);
    let key_file = temp_path("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let output = run(
        &["token", "verify", "--key-file", key_file.to_str().unwrap(), "-"],
        Some(&format!("{token}\n")),
        &[("MINIJWT_SECRET", None)],
    );
    assert_exit(&output, 0);
    std::fs::remove_file(key_file).unwrap();
}

#[test]
fn verify_failure_is_exit_1_with_the_reason() {
    let expired = encode(r#"{"exp":1}"#);
    let output = minijwt(&["token", "verify", &expired]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("token rejected: token expired at 1"),
        "{}",
        stderr(&output)
    );

    let other_key = minijwt::base64url::encode(&[9u8; 32]);
    let output = run(
        &["token", "verify", &encode(r#"{"exp":4102444800}"#)],
        None,
        &[("MINIJWT_SECRET", Some(&other_key))],
    );
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("signature does not match"));

    let output = minijwt(&["token", "verify", "eyJhbGciOiJub25lIn0.e30."]);
    assert_exit(&output, 1);
}

#[test]
fn usage_errors_are_exit_2() {
    let cases: &[&[&str]] = &[
        &["frobnicate"],
        &["token", "frobnicate"],
        &["token", "verify"],
        &["token", "verify", "a", "b"],
        &["token", "verify", "--bogus", "x"],
        &["token", "encode", "not json"],
        &["token", "encode", "[1,2]"],
        &["token", "encode", r#"{"a":1,"a":2}"#],
        &["token", "encode", "--exp-in", "soon", "{}"],
        &["token", "decode", "not-a-token"],
        &["token", "verify", "--key-file", "/nonexistent/key", "x.y.z"],
        &["keygen", "extra"],
    ];
    for args in cases {
        let output = minijwt(args);
        assert_exit(&output, 2);
    }
}

#[test]
fn missing_or_weak_key_is_a_usage_error_that_never_echoes_the_key() {
    let output = run(&["token", "encode", "{}"], None, &[("MINIJWT_SECRET", None)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("no key"));

    let weak = "c2hvcnQtc2VjcmV0"; // "short-secret"
    let output = run(
        &["token", "encode", "{}"],
        None,
        &[("MINIJWT_SECRET", Some(weak))],
    );
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("at least 32"));
    assert!(!stderr(&output).contains(weak));
}

#[test]
fn decode_shows_dates_and_says_not_verified() {
    let token = encode(r#"{"sub":"42","exp":4102444800,"iat":1700000000}"#);
    let output = run(&["token", "decode", &token], None, &[("MINIJWT_SECRET", None)]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("2100-01-01T00:00:00Z"), "{text}");
    assert!(text.contains("2023-11-14T22:13:20Z"), "{text}");
    assert!(text.contains("expires in"), "{text}");
    assert!(text.contains("NOT verified"), "{text}");
    assert!(text.contains("\"alg\": \"HS256\""), "{text}");
}

#[test]
fn explain_shows_every_step_and_the_hmac() {
    let token = encode(r#"{"sub":"42","exp":4102444800}"#);
    let output = minijwt(&["token", "explain", &token]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for step in 1..=6 {
        assert!(
            text.contains(&format!("Step {step}.")),
            "step {step} missing:\n{text}"
        );
    }
    let signature = token.rsplit('.').next().unwrap();
    let hex: String = minijwt::base64url::decode(signature)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(text.contains(&format!("computed    {hex}")), "{text}");
    assert!(text.contains(&format!("computed {signature}")), "{text}");
    assert!(text.contains("Verdict: VALID"), "{text}");
}

#[test]
fn explain_without_key_skips_only_the_signature() {
    let token = encode(r#"{"exp":4102444800}"#);
    let output = run(&["token", "explain", &token], None, &[("MINIJWT_SECRET", None)]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("skipped: no key"), "{text}");
    assert!(text.contains("NOT verified"), "{text}");
}

#[test]
fn explain_reports_a_tampered_token() {
    let token = encode(r#"{"sub":"42","exp":4102444800}"#);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = minijwt::base64url::encode(br#"{"sub":"0","exp":4102444800}"#);
    let output = minijwt(&["token", "explain", &parts.join(".")]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(text.contains("NO MATCH"), "{text}");
    assert!(
        text.contains("Verdict: REJECTED: signature does not match"),
        "{text}"
    );
}

#[test]
fn explain_survives_hostile_tokens() {
    for token in [
        "",
        "...",
        "a.b",
        "%%%.%%%.%%%",
        "eyJhbGciOiJub25lIn0.e30.",
        "e30.W10.AAAA",
    ] {
        let output = minijwt(&["token", "explain", token]);
        assert!(
            matches!(output.status.code(), Some(1 | 2)),
            "{token:?}: {:?}",
            output.status
        );
        assert!(!stderr(&output).contains("panicked"));
    }
}

#[cfg(unix)]
#[test]
fn keygen_writes_a_private_file_once() {
    use std::os::unix::fs::PermissionsExt;

    let path = temp_path("keygen");
    let output = minijwt(&["keygen", "--out", path.to_str().unwrap()]);
    assert_exit(&output, 0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(minijwt::base64url::decode(text.trim()).unwrap().len(), 32);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let again = minijwt(&["keygen", "--out", path.to_str().unwrap()]);
    assert_exit(&again, 2);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "never overwritten");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn keygen_prints_distinct_keys() {
    let a = stdout(&minijwt(&["keygen"]));
    let b = stdout(&minijwt(&["keygen"]));
    assert_eq!(a.trim().len(), 43);
    assert_ne!(a, b);
}

#[test]
fn help_everywhere() {
    for args in [
        &["--help"][..],
        &["token", "--help"],
        &["token", "encode", "--help"],
        &["token", "decode", "--help"],
        &["token", "verify", "--help"],
        &["token", "explain", "--help"],
        &["keygen", "--help"],
    ] {
        let output = minijwt(args);
        assert_exit(&output, 0);
        assert!(stdout(&output).contains("minijwt"), "{args:?}");
    }
}

/// A key ring file from `minijwt keys rotate`: `token verify` and `explain`
/// check each token with the key its `kid` names, legacy tokens with the
/// legacy key, and refuse an unknown kid.
#[test]
fn verify_and_explain_accept_a_key_ring() {
    let dir = std::env::temp_dir().join(format!("minijwt-cli-ring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ring = dir.join("ring.key");
    let ring = ring.to_str().unwrap();
    let legacy = "bWluaWp3dC10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGVm";
    std::fs::write(ring, format!("{legacy}\n")).unwrap();
    let minijwt = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_minijwt"))
            .args(args)
            .env_remove("MINIJWT_SECRET")
            .output()
            .unwrap()
    };
    let claims = r#"{"sub":"42","exp":4102444800}"#;
    let old = minijwt(&["token", "encode", "--key-file", ring, claims]);
    assert!(old.status.success(), "{old:?}");
    let old = String::from_utf8(old.stdout).unwrap().trim().to_owned();
    assert!(minijwt(&["keys", "rotate", "--key-file", ring]).status.success());

    // The ring's signing key, with its kid, as the server would sign.
    let listed = String::from_utf8(minijwt(&["keys", "list", "--key-file", ring]).stdout).unwrap();
    let kid = listed.split(' ').next().unwrap().to_owned();
    let text = std::fs::read_to_string(ring).unwrap();
    let line = text.lines().find(|l| l.starts_with(&kid)).unwrap();
    let key = minijwt::Hs256Key::from_base64url(line.rsplit(' ').next().unwrap()).unwrap();
    let header = minijwt::Header::new().with_kid(kid.clone());
    let new = minijwt::encode_with_header(
        &key,
        &header,
        &serde_json::json!({"sub": "42", "exp": 4102444800i64}),
    )
    .unwrap();
    let unknown = minijwt::encode_with_header(
        &key,
        &minijwt::Header::new().with_kid("nope"),
        &serde_json::json!({"exp": 4102444800i64}),
    )
    .unwrap();

    for token in [&old, &new] {
        let verified = minijwt(&["token", "verify", "--key-file", ring, token]);
        assert!(verified.status.success(), "{verified:?}");
        let explained = minijwt(&["token", "explain", "--key-file", ring, token]);
        assert!(explained.status.success(), "{explained:?}");
    }
    let refused = minijwt(&["token", "verify", "--key-file", ring, &unknown]);
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8(refused.stderr).unwrap();
    assert!(message.contains("unknown key id \"nope\""), "{message}");
    let explained = minijwt(&["token", "explain", "--key-file", ring, &unknown]);
    assert_eq!(explained.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}
