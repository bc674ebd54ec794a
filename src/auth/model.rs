//! The domain's types: what the rest of the program knows of a user, a
//! session, a refresh token, a note and an audit event. Every store maps its
//! rows to these; none of them names a database.

use std::prelude::rust_2021::*;

/// A user as the rest of the program sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id; the `sub` of the user's tokens.
    pub id: i64,
    /// The name as registered (compared without regard to case).
    pub username: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A user with the PHC string of their password hash, for logging in.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user.
    pub user: User,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// One refresh token as stored: never the token, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// The token's `jti`.
    pub jti: String,
    /// SHA-256 of the token's text.
    pub token_hash: [u8; 32],
    /// Whose token it is.
    pub user_id: i64,
    /// One family per login; rotation keeps it.
    pub family: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; a rotated token inherits its family's.
    pub expires_at: i64,
}

/// A live session: one login's refresh-token family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The family's id; access tokens carry it as `sid`.
    pub id: String,
    /// When the login happened (Unix seconds).
    pub created_at: i64,
    /// The last login or rotation.
    pub last_used_at: i64,
    /// When the family ends.
    pub expires_at: i64,
    /// The login's `User-Agent` (cut short by the caller).
    pub user_agent: String,
}

/// One entry of the audit trail: a security event. Never a password or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// What happened: `login_ok`, `login_failed`, `refresh`, `reuse_detected`, ...
    pub event: String,
    /// The user's id, when known.
    pub user_id: Option<i64>,
    /// The username, when known (kept after the user is deleted).
    pub username: Option<String>,
    /// The client's address, when known.
    pub address: Option<String>,
    /// The session (refresh-token family), when one is concerned.
    pub session: Option<String>,
}

/// What happened to a refresh token presented for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current; it is now rotated and `0` was stored in its place.
    Rotated(RefreshRecord),
    /// No stored token has this `jti` and hash.
    Unknown,
    /// The token (or its family) was revoked.
    Revoked,
    /// The token had been rotated moments ago (within the grace window) and
    /// its successor, `0`, has not been used: a retry, answered with that
    /// same successor. Nothing was changed.
    Retried(RefreshRecord),
    /// The token had already been rotated: its whole family is now revoked.
    Reused,
    /// The family's lifetime is over.
    Expired,
}

/// A note: the per-user resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Row id.
    pub id: i64,
    /// The text.
    pub text: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A stored refresh token and what has happened to it.
pub(crate) struct RefreshRow {
    pub(crate) record: RefreshRecord,
    pub(crate) rotated_at: Option<i64>,
    pub(crate) revoked: bool,
    /// The `jti` of the token it was rotated into.
    pub(crate) replaced_by: Option<String>,
}

/// What a rotation reads and writes, inside the transaction its store
/// opened: the port each store backend implements, so that
/// [`decide_rotation`] is written once, here, for all.
pub(crate) trait RotationTx {
    /// The row of `jti`, locked until the transaction ends where the
    /// backend locks rows (PostgreSQL: `FOR UPDATE`; SQLite locks the whole
    /// database for the transaction).
    fn refresh_row(&mut self, jti: &str) -> Result<Option<RefreshRow>, crate::store::StoreError>;
    /// Marks `old` rotated into `new` at `now`, stores `new`, and notes the
    /// session's last use.
    fn rotate(&mut self, old: &str, new: &RefreshRecord, now: i64) -> Result<(), crate::store::StoreError>;
    /// Revokes every token of `family` not yet revoked.
    fn revoke_family(&mut self, family: &str, now: i64) -> Result<(), crate::store::StoreError>;
}

/// The rotation rule, for every store backend: see
/// [`Store::rotate_refresh`](crate::store::Store::rotate_refresh).
pub(crate) fn decide_rotation(
    tx: &mut dyn RotationTx,
    jti: &str,
    token_hash: &[u8; 32],
    now: i64,
    grace: i64,
    next: &dyn Fn(&RefreshRecord) -> RefreshRecord,
) -> Result<Rotation, crate::store::StoreError> {
    Ok(match tx.refresh_row(jti)? {
        Some(row) if !crate::store::constant_time_eq(&row.record.token_hash, token_hash) => Rotation::Unknown,
        None => Rotation::Unknown,
        Some(row) if row.revoked => Rotation::Revoked,
        Some(RefreshRow {
            record,
            rotated_at: Some(rotated_at),
            replaced_by,
            ..
        }) => {
            // A retry of a rotation whose answer was lost (or two tabs at
            // once) within the grace window, while the successor is unused:
            // the same successor again.
            let unused_successor = match replaced_by {
                Some(successor) if now - rotated_at < grace => tx
                    .refresh_row(&successor)?
                    .filter(|s| s.rotated_at.is_none() && !s.revoked && s.record.expires_at > now),
                _ => None,
            };
            match unused_successor {
                Some(successor) => Rotation::Retried(successor.record),
                None => {
                    tx.revoke_family(&record.family, now)?;
                    Rotation::Reused
                }
            }
        }
        Some(row) if row.record.expires_at <= now => Rotation::Expired,
        Some(row) => {
            let new = next(&row.record);
            tx.rotate(jti, &new, now)?;
            Rotation::Rotated(new)
        }
    })
}
