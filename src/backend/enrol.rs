//! Enrolment tokens, terminals and their bearer tokens.
//!
//! Tokens are 32 random bytes in hex. The database keeps only their SHA-256,
//! so a copy of it does not let anyone act as a terminal.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use rand::rngs::OsRng;
use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::codes::CodeIssuer;
use super::db::{self, format_time, parse_time};
use super::error::ApiFailure;
use crate::protocol::EnrollResponse;

/// How long an enrolment token stays valid.
pub const ENROLMENT_TOKEN_LIFETIME: Duration = Duration::days(7);

/// An enrolled terminal, as a bearer token identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminal {
    pub terminal_id: String,
    pub store_id: String,
}

/// Returns 32 random bytes from the operating system's CSPRNG, in hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Returns the SHA-256 of a token in hex, the form tokens are stored in.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a one-time enrolment token for the store, creating the store if
/// needed, and returns the token. Only its hash is stored.
pub fn create_token(
    conn: &Connection,
    store_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    db::ensure_store(conn, store_id, now)?;
    let token = random_token();
    let expires_at = now + ENROLMENT_TOKEN_LIFETIME;
    conn.execute(
        "INSERT INTO enrolments (token_hash, store_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        (token_hash(&token), store_id, format_time(now), format_time(expires_at)),
    )?;
    tracing::info!(store_id, "enrolment token created");
    Ok(token)
}

/// Uses up an enrolment token: creates a terminal of the token's store with
/// a new bearer token and code key, and queues the hashes of the store's
/// live codes for it.
///
/// Fails with 401 when the token is unknown, expired or already used.
pub fn enroll(
    conn: &Connection,
    issuer: &CodeIssuer<'_>,
    enrolment_token: &str,
    now: DateTime<Utc>,
) -> Result<EnrollResponse, ApiFailure> {
    let hash = token_hash(enrolment_token.trim());
    let row = conn
        .query_row(
            "SELECT store_id, expires_at, used_at FROM enrolments WHERE token_hash = ?1",
            [&hash],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            },
        )
        .optional()?;
    let Some((store_id, expires_at, used_at)) = row else {
        return Err(ApiFailure::unauthorized(
            "invalid_enrolment_token",
            "unknown enrolment token; check it or ask the mall admin for a new one",
        ));
    };
    if used_at.is_some() {
        return Err(ApiFailure::unauthorized(
            "enrolment_token_used",
            "enrolment token was already used; ask the mall admin for a new one",
        ));
    }
    if parse_time(&expires_at)? <= now {
        return Err(ApiFailure::unauthorized(
            "enrolment_token_expired",
            format!("enrolment token expired at {expires_at}; ask the mall admin for a new one"),
        ));
    }

    let terminal_id = next_terminal_id(conn, &store_id)?;
    let token = random_token();
    let code_key = random_token();
    conn.execute(
        "INSERT INTO terminals (terminal_id, store_id, token_hash, code_key, enrolled_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        (&terminal_id, &store_id, token_hash(&token), &code_key, format_time(now)),
    )?;
    conn.execute(
        "UPDATE enrolments SET used_at = ?2, terminal_id = ?3 WHERE token_hash = ?1",
        (&hash, format_time(now), &terminal_id),
    )?;
    issuer.publish_live_codes(conn, &store_id, &terminal_id, &code_key, now)?;
    tracing::info!(store_id, terminal_id, "terminal enrolled");
    Ok(EnrollResponse { terminal_id, store_id, token, code_key })
}

/// Returns `<store>-T01`, `<store>-T02`, … for the store's next terminal.
fn next_terminal_id(conn: &Connection, store_id: &str) -> rusqlite::Result<String> {
    let count: i64 =
        conn.query_row("SELECT COUNT(*) FROM terminals WHERE store_id = ?1", [store_id], |row| {
            row.get(0)
        })?;
    Ok(format!("{store_id}-T{:02}", count + 1))
}

/// Returns the terminal that a bearer token belongs to.
pub fn authenticate(conn: &Connection, token: &str) -> rusqlite::Result<Option<Terminal>> {
    conn.prepare_cached("SELECT terminal_id, store_id FROM terminals WHERE token_hash = ?1")?
        .query_row([token_hash(token)], |row| {
            Ok(Terminal { terminal_id: row.get(0)?, store_id: row.get(1)? })
        })
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::codes::{CodeSecret, OutboxGateway};

    fn enroll_once(
        conn: &Connection,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<EnrollResponse, ApiFailure> {
        let dir = tempfile::tempdir().unwrap();
        let secret = CodeSecret::load_or_create(&dir.path().join("secret")).unwrap();
        let issuer = CodeIssuer { secret: &secret, sms: &OutboxGateway };
        enroll(conn, &issuer, token, now)
    }

    #[test]
    fn token_is_stored_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(&dir.path().join("mall.db")).unwrap();
        let token = create_token(&conn, "S1", Utc::now()).unwrap();
        let stored: String =
            conn.query_row("SELECT token_hash FROM enrolments", [], |row| row.get(0)).unwrap();
        assert_ne!(stored, token);
        assert_eq!(stored, token_hash(&token));
    }

    #[test]
    fn expired_token_is_unauthorized() {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(&dir.path().join("mall.db")).unwrap();
        let created = Utc::now();
        let token = create_token(&conn, "S1", created).unwrap();
        let later = created + ENROLMENT_TOKEN_LIFETIME + Duration::seconds(1);
        let err = enroll_once(&conn, &token, later).unwrap_err();
        assert_eq!(err.code, "enrolment_token_expired");
    }

    #[test]
    fn terminal_ids_count_up_per_store() {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(&dir.path().join("mall.db")).unwrap();
        let now = Utc::now();
        let first = create_token(&conn, "S1", now).unwrap();
        let second = create_token(&conn, "S1", now).unwrap();
        assert_eq!(enroll_once(&conn, &first, now).unwrap().terminal_id, "S1-T01");
        assert_eq!(enroll_once(&conn, &second, now).unwrap().terminal_id, "S1-T02");
    }

    #[test]
    fn bearer_token_finds_terminal() {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(&dir.path().join("mall.db")).unwrap();
        let token = create_token(&conn, "S1", Utc::now()).unwrap();
        let enrolled = enroll_once(&conn, &token, Utc::now()).unwrap();
        let found = authenticate(&conn, &enrolled.token).unwrap();
        assert_eq!(found, Some(Terminal { terminal_id: "S1-T01".into(), store_id: "S1".into() }));
    }
}
