//! Schema migrations, numbered by `PRAGMA user_version`.
//!
//! Each entry upgrades the schema from version `i` to `i + 1`. Append new
//! entries; never edit one that has shipped.

use std::prelude::rust_2021::*;

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 0 -> 1: users, refresh tokens, notes.
    "CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE COLLATE NOCASE,  -- names are ASCII only
        password_hash TEXT NOT NULL,                        -- Argon2id PHC string
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE refresh_tokens (
        jti        TEXT PRIMARY KEY,
        token_hash BLOB NOT NULL UNIQUE,                    -- SHA-256 of the token, never the token
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        family     TEXT NOT NULL,                           -- one per login
        issued_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        rotated_at INTEGER,
        revoked_at INTEGER
    );
    CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family);
    CREATE INDEX refresh_tokens_by_user ON refresh_tokens(user_id);
    CREATE TABLE notes (
        id         INTEGER PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        text       TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX notes_by_user ON notes(user_id, created_at DESC, id DESC);",
    // 1 -> 2: a rotated refresh token names its successor, so that a retry
    // within the grace window can be answered with that same successor.
    "ALTER TABLE refresh_tokens ADD COLUMN replaced_by TEXT;",
    // 2 -> 3: sessions. A session is one refresh-token family (one login on
    // one device); the tokens' rows say whether it is still alive.
    "CREATE TABLE sessions (
        id           TEXT PRIMARY KEY,                      -- the family
        user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        user_agent   TEXT NOT NULL                          -- the login's, cut short
    );
    CREATE INDEX sessions_by_user ON sessions(user_id);
    INSERT INTO sessions (id, user_id, created_at, last_used_at, user_agent)
        SELECT family, user_id, MIN(issued_at), MAX(issued_at), ''
        FROM refresh_tokens GROUP BY family;",
    // 3 -> 4: the audit trail. No foreign key: a deleted user's events stay,
    // by name, until they are older than the retention.
    "CREATE TABLE audit (
        id       INTEGER PRIMARY KEY,
        at       INTEGER NOT NULL,
        event    TEXT NOT NULL,
        user_id  INTEGER,
        username TEXT,
        address  TEXT,
        session  TEXT
    );
    CREATE INDEX audit_by_time ON audit(at);
    CREATE INDEX audit_by_user ON audit(username COLLATE NOCASE, at);",
];

/// Brings the schema to the latest version, one transaction per step.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let Some(step) = usize::try_from(version).ok().and_then(|v| MIGRATIONS.get(v)) else {
            if version != MIGRATIONS.len() as i64 {
                return Err(StoreError::Internal(format!(
                    "database schema version {version} is newer than this program ({})",
                    MIGRATIONS.len()
                )));
            }
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
