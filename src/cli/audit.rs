//! `minijwt audit`: the server's audit trail, read from its database.

use minijwt::store::{display_location, is_database_url, Store};
use minijwt::time::{parse_utc, utc};

use super::{usage, CliError, Parsed};

pub const HELP: &str = "\
minijwt audit: the security events `minijwt serve` recorded

  minijwt audit [--db FILE] [--user NAME] [--since T]

  --db FILE|URL the server's database: a SQLite file or a
                postgres:// URL (as serve --db)            [minijwt.db]
  --user NAME   only this user's events (any case)
  --since T     only events from T on: Unix seconds, a UTC date
                (2026-12-01 or 2026-12-01T08:00:00Z), or an age (90m, 36h, 7d)

One line per event, oldest first: time, event, user, address, session.
Events: login_ok, login_failed, login_throttled (at most one a minute per
name and address), refresh, refresh_grace, reuse_detected, logout,
logout_all, session_revoked, password_changed, account_deleted. Never a
password or a token. The server keeps them --audit-days days (90).
";

pub fn run(args: &[&str]) -> Result<(), CliError> {
    let parsed = Parsed::new(args, &["db", "user", "since"])?;
    if parsed.help {
        print!("{HELP}");
        return Ok(());
    }
    parsed.no_positional()?;
    let db = parsed.get("db").unwrap_or("minijwt.db");
    let since = match parsed.get("since") {
        None => i64::MIN,
        Some(text) => since(text, minijwt::Validation::default().now()).ok_or_else(|| {
            usage(format!(
                "--since {text:?}: not Unix seconds, a UTC date or an age like 7d"
            ))
        })?,
    };
    let shown_db = display_location(db);
    // Opening creates a missing SQLite file: never here, where it is only read.
    if !is_database_url(db) && !std::path::Path::new(db).is_file() {
        return Err(usage(format!("no database at {shown_db}")));
    }
    let store = Store::open(db).map_err(|e| usage(format!("cannot open database {shown_db}: {e}")))?;
    let events = store
        .audit_trail(parsed.get("user"), since)
        .map_err(|e| usage(format!("cannot read the audit trail: {e}")))?;
    let or_dash = |field: Option<String>| field.unwrap_or_else(|| "-".to_owned());
    for event in events {
        let user = match (event.username, event.user_id) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            (Some(name), None) => name,
            (None, Some(id)) => format!("({id})"),
            (None, None) => "-".to_owned(),
        };
        println!(
            "{} {} user={} address={} session={}",
            utc(event.at),
            event.event,
            user.escape_debug(),
            or_dash(event.address),
            or_dash(event.session)
        );
    }
    Ok(())
}

/// `--since`: Unix seconds, a UTC date, or an age before `now`.
fn since(text: &str, now: i64) -> Option<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    if let Some(at) = parse_utc(text) {
        return Some(at);
    }
    let unit = match text.chars().last()? {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let amount: i64 = text[..text.len() - 1].parse().ok().filter(|n| *n >= 0)?;
    Some(now.saturating_sub(amount.saturating_mul(unit)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_reads_seconds_dates_and_ages() {
        assert_eq!(super::since("1700000000", 0), Some(1_700_000_000));
        assert_eq!(super::since("2000-02-29", 0), Some(951_782_400));
        assert_eq!(super::since("36h", 200_000), Some(200_000 - 36 * 3600));
        assert_eq!(super::since("7d", 1_000_000), Some(1_000_000 - 7 * 86_400));
        assert_eq!(super::since("yesterday", 0), None);
        assert_eq!(super::since("-3d", 0), None);
    }
}
