//! `minijwt token encode | decode | verify | explain`.

use std::fmt::Write as _;

use minijwt::dangerous::{check_without_signature, decode_unverified};
use minijwt::jwt::strict_json_object;
use minijwt::{base64url, Error, Header, Segment, Validation};
use serde_json::Value;

use super::{load_verifier, read_input, require_key, usage, CliError, Parsed, Verifier, SECRET_ENV};
use minijwt::time::{relative, utc};

pub const HELP: &str = "\
minijwt token: make, read, check and explain HS256 tokens

  minijwt token encode  [--key-file F] [--typ T] [--exp-in SECONDS] CLAIMS_JSON|-
      Signs the claims (a JSON object) and prints the token. --exp-in sets
      \"exp\" to now + SECONDS; --typ sets the header's typ (default JWT).

  minijwt token decode  TOKEN|-
      Shows header and payload, with exp/nbf/iat as UTC dates. Does NOT verify.

  minijwt token verify  [--key-file F] [--typ T] [--issuer I] [--audience A] [--leeway S] TOKEN|-
      Exit 0 and print the claims, or exit 1 with the reason. exp is required.

  minijwt token explain [--key-file F] [--typ T] [--leeway S] TOKEN|-
      Walks through verification step by step. Without a key it shows every
      step but the signature.

The key: base64url text of >= 32 bytes, from --key-file or MINIJWT_SECRET.
";

const ENCODE_HELP: &str = "\
minijwt token encode [--key-file F] [--typ T] [--exp-in SECONDS] CLAIMS_JSON|-

Signs CLAIMS_JSON (a JSON object; `-` reads it from stdin) with HS256 and prints
the token. --exp-in SECONDS sets \"exp\" to now + SECONDS. --typ T sets the
header's typ (default JWT). The key comes from --key-file or MINIJWT_SECRET.
";

const DECODE_HELP: &str = "\
minijwt token decode TOKEN|-

Prints the header and payload of TOKEN (`-` reads stdin), with exp, nbf and iat
as UTC dates and relative times. The signature is NOT verified: anyone can
write any claims. Use `minijwt token verify` to check a token.
";

const VERIFY_HELP: &str = "\
minijwt token verify [--key-file F] [--typ T] [--issuer I] [--audience A] [--leeway S] TOKEN|-

Verifies TOKEN (`-` reads stdin) with the key from --key-file or MINIJWT_SECRET:
alg exactly HS256, signature, exp (required), nbf, iat, and the typ (default:
absent or JWT), issuer and audience when given. Exit 0 and print the claims, or
exit 1 with one line saying why.
";

const EXPLAIN_HELP: &str = "\
minijwt token explain [--key-file F] [--typ T] [--leeway S] TOKEN|-

Explains the verification of TOKEN step by step: the three segments, each
decoded, the signing input, the HMAC-SHA256 computed beside the token's
signature, then each time claim against the clock, judged by the same checks
as `verify` (--leeway S allows S seconds of clock difference). Without a key
(--key-file or MINIJWT_SECRET) it explains everything but the signature. Exit 0
when every step passes, 1 when one fails.
";

pub fn encode(args: &[&str]) -> Result<(), CliError> {
    let parsed = Parsed::new(args, &["key-file", "typ", "exp-in"])?;
    if parsed.help {
        print!("{ENCODE_HELP}");
        return Ok(());
    }
    let key = require_key(parsed.get("key-file"))?;
    let text = read_input(parsed.single("CLAIMS_JSON (or - to read stdin)")?, "claims")?;
    let mut claims = strict_json_object(text.as_bytes(), Segment::Payload).map_err(|e| match e {
        Error::Json { message, .. } => usage(format!("claims are not JSON: {message}")),
        Error::NotAnObject(_) => usage("claims must be a JSON object"),
        Error::DuplicateMember { name, .. } => usage(format!("claims have member {name:?} more than once")),
        other => usage(other.to_string()),
    })?;
    if let Some(seconds) = parsed.number::<u32>("exp-in")? {
        claims["exp"] = Value::from(Validation::default().now().saturating_add(i64::from(seconds)));
    }
    let header = match parsed.get("typ") {
        Some(typ) => Header::new().with_typ(typ),
        None => Header::new(),
    };
    let token = minijwt::encode_with_header(&key, &header, &claims).map_err(|e| usage(e.to_string()))?;
    println!("{token}");
    Ok(())
}

pub fn decode(args: &[&str]) -> Result<(), CliError> {
    let parsed = Parsed::new(args, &[])?;
    if parsed.help {
        print!("{DECODE_HELP}");
        return Ok(());
    }
    let token = read_input(parsed.single("TOKEN (or - to read stdin)")?, "token")?;
    let unverified = decode_unverified(&token).map_err(|e| usage(format!("cannot decode: {e}")))?;
    // decode_unverified has read the payload: it is canonical base64url.
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| base64url::decode(p).ok())
        .unwrap_or_default();

    let mut out = String::new();
    let _ = writeln!(out, "Header:\n{}", pretty(unverified.header()));
    let _ = writeln!(out, "Payload:\n{}", pretty(unverified.claims()));
    time_claims(&mut out, &payload, &Validation::default());
    let signature = unverified.signature();
    let _ = writeln!(out, "Signature: {} bytes: {}", signature.len(), hex(signature));
    let _ = writeln!(
        out,
        "The signature was NOT verified: use `minijwt token verify` with the key."
    );
    print!("{out}");
    Ok(())
}

pub fn verify(args: &[&str]) -> Result<(), CliError> {
    let parsed = Parsed::new(args, &["key-file", "typ", "issuer", "audience", "leeway"])?;
    if parsed.help {
        print!("{VERIFY_HELP}");
        return Ok(());
    }
    let verifier = load_verifier(parsed.get("key-file"))?.ok_or_else(|| {
        usage(format!(
            "no key: pass --key-file FILE or set {SECRET_ENV} (see `minijwt keygen`)"
        ))
    })?;
    let token = read_input(parsed.single("TOKEN (or - to read stdin)")?, "token")?;
    let mut validation = validation_from(&parsed)?;
    if let Some(issuer) = parsed.get("issuer") {
        validation = validation.with_issuer(issuer);
    }
    if let Some(audience) = parsed.get("audience") {
        validation = validation.with_audience(audience);
    }
    let claims = verifier
        .decode(&token, &validation)
        .map_err(|e| CliError::Rejected(rejection(&e)))?;
    println!("{}", pretty(&claims));
    Ok(())
}

/// Why a token was refused, with a hint where the fix is an option: the
/// server's own tokens are `at+jwt` and `refresh+jwt`, not the default `JWT`.
fn rejection(error: &minijwt::Error) -> String {
    match error {
        minijwt::Error::WrongType { found: Some(_), .. } => {
            format!("{error} (--typ sets the type to expect)")
        }
        _ => error.to_string(),
    }
}

/// The checks `--typ` and `--leeway` ask for, shared by `verify` and `explain`.
fn validation_from(parsed: &Parsed<'_>) -> Result<Validation, CliError> {
    let mut validation = Validation::default();
    if let Some(typ) = parsed.get("typ") {
        validation = validation.with_typ(typ);
    }
    if let Some(leeway) = parsed.number::<u64>("leeway")? {
        validation = validation.with_leeway(leeway);
    }
    Ok(validation)
}

pub fn explain(args: &[&str]) -> Result<(), CliError> {
    let parsed = Parsed::new(args, &["key-file", "typ", "leeway"])?;
    if parsed.help {
        print!("{EXPLAIN_HELP}");
        return Ok(());
    }
    let verifier = load_verifier(parsed.get("key-file"))?;
    let token = read_input(parsed.single("TOKEN (or - to read stdin)")?, "token")?;
    let validation = validation_from(&parsed)?;
    let mut out = String::new();
    let verdict = explain_into(&mut out, &token, verifier.as_ref(), &validation);
    print!("{out}");
    verdict
}

/// Writes the step-by-step explanation; the verdict comes from the library
/// itself, so the explanation can never pass a token that `decode` refuses.
fn explain_into(
    out: &mut String,
    token: &str,
    verifier: Option<&Verifier>,
    validation: &Validation,
) -> Result<(), CliError> {
    // One reading of the clock for the whole explanation: the verdict and
    // every line of step 6 are judged at the same second.
    let pinned = validation.clone().at_time(validation.now());
    let validation = &pinned;
    let now = validation.now();
    let verdict = match verifier {
        Some(verifier) => verifier.decode(token, validation).map(drop),
        None => check_without_signature(token, validation),
    };
    // With a ring, the key the token's kid selects (none: no HMAC shown).
    let key = verifier.and_then(|v| v.key_for(token));

    let _ = writeln!(out, "Step 1. Split the token at '.' into three segments");
    let parts: Vec<&str> = token.split('.').collect();
    if let [header, payload, signature] = parts[..] {
        for (name, text) in [("header", header), ("payload", payload), ("signature", signature)] {
            let _ = writeln!(out, "  {name:<9} {} ({} chars)", shorten(text), text.len());
        }
        let _ = writeln!(out);

        explain_json_segment(out, 2, Segment::Header, header);
        let claims = explain_json_segment(out, 3, Segment::Payload, payload);

        let signing_input = &token[..header.len() + 1 + payload.len()];
        let _ = writeln!(
            out,
            "Step 4. The signing input is the first two segments exactly as received"
        );
        let _ = writeln!(
            out,
            "  {} ({} bytes of ASCII)",
            shorten(signing_input),
            signing_input.len()
        );
        let _ = writeln!(out);

        let _ = writeln!(
            out,
            "Step 5. HMAC-SHA256(key, signing input) must equal the signature"
        );
        match base64url::decode(signature) {
            Ok(bytes) => {
                let _ = writeln!(out, "  token's     {} ({} bytes)", hex(&bytes), bytes.len());
                match key {
                    Some(key) => {
                        let computed = key.sign(signing_input.as_bytes());
                        let _ = writeln!(out, "  computed    {} (32 bytes)", hex(&computed));
                        let _ = writeln!(out, "  as base64url: computed {}", base64url::encode(&computed));
                        let _ = writeln!(out, "                token's  {signature}");
                        let same = key.verify(signing_input.as_bytes(), &bytes);
                        let _ = writeln!(
                            out,
                            "  {} (compared in constant time, all 32 bytes)",
                            if same {
                                "match: the token was made with this key"
                            } else {
                                "NO MATCH"
                            }
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "  skipped: no key (pass --key-file or set MINIJWT_SECRET); NOT verified"
                        );
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  the signature segment is not base64url: {e}");
            }
        }
        let _ = writeln!(out);

        let _ = writeln!(
            out,
            "Step 6. Check the claims against the clock (now {} = {now}, leeway {} s)",
            utc(now),
            validation.leeway()
        );
        match &claims {
            Some(payload) => time_claims(out, payload, validation),
            None => {
                let _ = writeln!(out, "  skipped: the payload is not a JSON object");
            }
        }
        let _ = writeln!(out);
    } else {
        let _ = writeln!(out, "  found {} segments: a JWS has exactly 3\n", parts.len());
    }

    match verdict {
        Ok(()) if key.is_some() => {
            let _ = writeln!(out, "Verdict: VALID. Every check passed.");
            Ok(())
        }
        Ok(()) => {
            let _ = writeln!(
                out,
                "Verdict: every check but the signature passed; without the key the token is NOT verified."
            );
            Ok(())
        }
        Err(e) => {
            let _ = writeln!(out, "Verdict: REJECTED: {}", rejection(&e));
            Err(CliError::Rejected(rejection(&e)))
        }
    }
}

/// Explains one JSON segment; returns its bytes when they are a strict JSON object.
fn explain_json_segment(out: &mut String, step: u8, segment: Segment, text: &str) -> Option<Vec<u8>> {
    let _ = writeln!(
        out,
        "Step {step}. Decode the {segment}: base64url -> bytes -> JSON object"
    );
    let bytes = match base64url::decode(text) {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = writeln!(out, "  not base64url: {e}\n");
            return None;
        }
    };
    let _ = writeln!(
        out,
        "  bytes ({}): {}",
        bytes.len(),
        shorten(&String::from_utf8_lossy(&bytes))
    );
    let value = match strict_json_object(&bytes, segment) {
        Ok(value) => value,
        Err(e) => {
            let _ = writeln!(out, "  {e}\n");
            return None;
        }
    };
    if segment == Segment::Header {
        let alg = match value.get("alg") {
            Some(Value::String(alg)) if alg == "HS256" => "\"HS256\": the only algorithm accepted".to_owned(),
            Some(other) => format!("{other}: refused, only \"HS256\" is accepted"),
            None => "missing: refused".to_owned(),
        };
        let _ = writeln!(out, "  alg  {alg}");
        let typ = value.get("typ").map_or("absent".to_owned(), Value::to_string);
        let _ = writeln!(out, "  typ  {typ}");
        if value.get("crit").is_some() {
            let _ = writeln!(out, "  crit present: refused, no extension is implemented");
        }
        for name in ["kid", "jku", "jwk", "x5u", "x5c"] {
            if value.get(name).is_some() {
                let _ = writeln!(out, "  {name:<4} present: ignored, a token never chooses its key");
            }
        }
    } else {
        let _ = writeln!(out, "  {}", pretty(&value).replace('\n', "\n  "));
    }
    let _ = writeln!(out);
    Some(bytes)
}

/// One line for each of exp, nbf, iat: the value, its UTC date, and how it
/// stands against the clock. Each verdict is the library's own
/// ([`Validation::judge_times`]), so it cannot contradict the token's.
fn time_claims(out: &mut String, payload: &[u8], validation: &Validation) {
    // Each line's verdict and its wording read the same second.
    let validation = &validation.clone().at_time(validation.now());
    let (Ok(times), Ok(raw)) = (
        validation.judge_times(payload),
        serde_json::from_slice::<Value>(payload),
    ) else {
        let _ = writeln!(out, "  skipped: the payload is not a strict JSON object");
        return;
    };
    let now = validation.now();
    let leeway = validation.leeway();
    for claim in times {
        let name = claim.name;
        let value = raw.get(name).map(Value::to_string).unwrap_or_default();
        let Some(seconds) = claim.seconds else {
            let line = match &claim.verdict {
                Ok(()) => "absent".to_owned(),
                Err(minijwt::Error::MissingClaim(_)) => "absent: refused, exp is required".to_owned(),
                Err(e) => format!("{value}: refused, {e}"),
            };
            let _ = writeln!(out, "  {name}  {line}");
            continue;
        };
        // A fraction is read the strict way: say so, or the numbers will not add up.
        let read_as = if raw[name].as_i64() == Some(seconds) {
            seconds.to_string()
        } else {
            format!("{value} (read as {seconds})")
        };
        let when = relative(seconds, now);
        let within_leeway = format!("accepted: within the {leeway} s leeway");
        let verdict = match (name, &claim.verdict) {
            (_, Err(e)) => format!("REFUSED: {e}"),
            ("exp", Ok(())) if seconds > now => format!("expires {when}"),
            ("exp", Ok(())) => format!("expired {when}, {within_leeway}"),
            ("nbf", Ok(())) if seconds <= now => format!("valid since {when}"),
            ("nbf", Ok(())) => format!("valid {when}, {within_leeway}"),
            (_, Ok(())) if seconds <= now => format!("issued {when}"),
            (_, Ok(())) => format!("issued {when}, {within_leeway}"),
        };
        let _ = writeln!(out, "  {name}  {read_as}  {}  {verdict}", utc(seconds));
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Long segments are cut in the middle so each step stays readable.
fn shorten(text: &str) -> String {
    const KEEP: usize = 48;
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 2 * KEEP + 5 {
        return text.to_owned();
    }
    let head: String = chars[..KEEP].iter().collect();
    let tail: String = chars[chars.len() - KEEP..].iter().collect();
    format!("{head} ... {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijwt::Hs256Key;

    /// Explains a token signed with a test key for `claims`, at `now`.
    fn explained(claims: &str, validation: &Validation) -> (String, Result<(), CliError>) {
        let key = Hs256Key::new(&[7; 32]).unwrap();
        let claims: Value = serde_json::from_str(claims).unwrap();
        let token = minijwt::encode(&key, &claims).unwrap();
        let mut out = String::new();
        let verdict = explain_into(&mut out, &token, Some(&Verifier::Key(key)), validation);
        (out, verdict)
    }

    fn line_of<'o>(out: &'o str, claim: &str) -> &'o str {
        let prefix = format!("  {claim}  ");
        out.lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {claim} line in\n{out}"))
    }

    /// Tokens on which the old narrative (no leeway, fractions truncated)
    /// contradicted the verdict below it: each line now agrees with it.
    #[test]
    fn each_time_line_agrees_with_the_verdict() {
        let at_1000 = Validation::default().at_time(1_000);

        // nbf 1000.5 at 1000: valid from 1001, so not yet (was "valid since").
        let (out, verdict) = explained(r#"{"exp": 2000, "nbf": 1000.5}"#, &at_1000);
        assert!(verdict.is_err(), "{out}");
        let nbf = line_of(&out, "nbf");
        assert!(
            nbf.contains("1000.5 (read as 1001)") && nbf.contains("REFUSED"),
            "{nbf}"
        );
        assert!(
            out.contains("Verdict: REJECTED: token not valid before 1001"),
            "{out}"
        );

        // iat 1000.2 at 1000: issued at 1001, in the future (was "issued").
        let (out, verdict) = explained(r#"{"exp": 2000, "iat": 1000.2}"#, &at_1000);
        assert!(verdict.is_err(), "{out}");
        assert!(line_of(&out, "iat").contains("REFUSED"), "{out}");

        // exp 995 with 10 s of leeway at 1000: accepted (was "expired").
        let (out, verdict) = explained(r#"{"exp": 995}"#, &at_1000.clone().with_leeway(10));
        assert!(verdict.is_ok(), "{out}");
        let exp = line_of(&out, "exp");
        assert!(
            exp.contains("accepted: within the 10 s leeway") && !exp.contains("REFUSED"),
            "{exp}"
        );
        assert!(out.contains("leeway 10 s"), "{out}");

        // exp 1000.9 at 1000: read as 1000, expired; the line shows why.
        let (out, verdict) = explained(r#"{"exp": 1000.9}"#, &at_1000);
        assert!(verdict.is_err(), "{out}");
        assert!(line_of(&out, "exp").contains("1000.9 (read as 1000)"), "{out}");

        // exp absent: refused because required, as the verdict says.
        let (out, verdict) = explained(r#"{"sub": "1"}"#, &at_1000);
        assert!(verdict.is_err(), "{out}");
        assert!(line_of(&out, "exp").contains("refused, exp is required"), "{out}");

        // A date out of range, and a valid token for contrast.
        let (out, _) = explained(r#"{"exp": 1e300}"#, &at_1000);
        assert!(line_of(&out, "exp").contains("out of range"), "{out}");
        let (out, verdict) = explained(r#"{"exp": 2000, "nbf": 999, "iat": 999}"#, &at_1000);
        assert!(verdict.is_ok() && !out.contains("REFUSED"), "{out}");
    }
}
