//! Verification codes: issuing, revoking and hashing them, and the SMS
//! gateway that sends them to customers.
//!
//! The codes table never stores a code in plain text. Each code row keeps a
//! lookup hash, HMAC-SHA256 under the server secret, which keeps live codes
//! unique within a store. It also keeps the code sealed with a one-time pad.
//! The pad is HMAC-SHA256 of the code id under the server secret, reduced to
//! six digits, and it lets a terminal enrolled after the code was issued
//! still get the code's hash. The server secret lives in a file beside the
//! database, so the codes table alone reveals no code.
//!
//! Note that the bundled SMS outbox, in the same database, contains every
//! message with its code, because it takes the place of the customers'
//! phones.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::rngs::OsRng;
use rusqlite::Connection;
use sha2::Sha256;
use uuid::Uuid;

use super::changes;
use super::db::format_time;
use crate::protocol::{Change, code_hash};

/// How many random codes to draw before giving up on finding one that no
/// live code of the store uses.
const MAX_CODE_ATTEMPTS: usize = 64;

/// Number of distinct six-digit codes.
const CODE_SPACE: u32 = 1_000_000;

/// A six-digit verification code. `Debug` hides the digits, so a code cannot
/// reach a log through `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    fn from_number(number: u32) -> Code {
        Code(format!("{:06}", number % CODE_SPACE))
    }

    /// Draws a code from the operating system's CSPRNG.
    fn random() -> Code {
        Code::from_number(OsRng.gen_range(0..CODE_SPACE))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(******)")
    }
}

/// The server's 32-byte secret for code lookup hashes and sealed codes.
pub struct CodeSecret([u8; 32]);

impl fmt::Debug for CodeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeSecret(..)")
    }
}

impl CodeSecret {
    /// Returns the path of the secret file that belongs to a database:
    /// the database path with `.code-secret` appended.
    pub fn path_for(db_path: &Path) -> PathBuf {
        let mut name = db_path.as_os_str().to_owned();
        name.push(".code-secret");
        PathBuf::from(name)
    }

    /// Reads the secret from `path`, or creates the file (mode 0600 on Unix)
    /// with a new random secret when it does not exist.
    ///
    /// Fails when the file exists but does not hold 64 hex digits. Note that
    /// losing the file makes the live codes' sealed copies useless: terminals
    /// enrolled afterwards get no hash for them until they are re-issued.
    pub fn load_or_create(path: &Path) -> anyhow::Result<CodeSecret> {
        match fs::read_to_string(path) {
            Ok(text) => CodeSecret::parse(text.trim())
                .with_context(|| format!("invalid code secret file {}", path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let secret = CodeSecret(OsRng.r#gen());
                write_private(path, &hex::encode(secret.0))
                    .with_context(|| format!("failed to create code secret {}", path.display()))?;
                Ok(secret)
            }
            Err(err) => {
                Err(err).with_context(|| format!("failed to read code secret {}", path.display()))
            }
        }
    }

    fn parse(text: &str) -> anyhow::Result<CodeSecret> {
        let bytes = hex::decode(text)?;
        let Ok(bytes) = <[u8; 32]>::try_from(bytes) else {
            bail!("expected 64 hex digits");
        };
        Ok(CodeSecret(bytes))
    }

    fn mac(&self, label: &str, parts: &[&str]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        for part in parts {
            mac.update(&[0]);
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// Returns the keyed hash that identifies a code within a store.
    fn lookup_hash(&self, store_id: &str, code: &Code) -> String {
        hex::encode(self.mac("code-lookup", &[store_id, code.as_str()]))
    }

    /// Returns the one-time pad for a code id, a number below `CODE_SPACE`.
    fn pad(&self, code_id: &str) -> u32 {
        let mac = self.mac("code-seal", &[code_id]);
        let wide = u64::from_be_bytes(mac[..8].try_into().expect("8 bytes"));
        (wide % u64::from(CODE_SPACE)) as u32
    }

    fn seal(&self, code_id: &str, code: &Code) -> String {
        let number: u32 = code.as_str().parse().expect("codes are six digits");
        format!("{:06}", (number + self.pad(code_id)) % CODE_SPACE)
    }

    fn unseal(&self, code_id: &str, sealed: &str) -> anyhow::Result<Code> {
        let number: u32 =
            sealed.parse().with_context(|| format!("sealed code {code_id} is corrupt"))?;
        Ok(Code::from_number((number + CODE_SPACE - self.pad(code_id)) % CODE_SPACE))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    writeln!(file, "{text}")?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    writeln!(file, "{text}")?;
    file.sync_all()
}

/// One text message to a customer.
#[derive(Clone)]
pub struct SmsMessage {
    pub store_id: String,
    pub barcode: String,
    /// Last four digits of the recipient's phone, `None` for an unexpected
    /// parcel whose customer the mall does not know.
    pub phone_last4: Option<String>,
    /// The message text; it contains the verification code.
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsMessage")
            .field("store_id", &self.store_id)
            .field("barcode", &self.barcode)
            .field("phone_last4", &self.phone_last4)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Sends text messages to customers.
///
/// `send` runs inside the transaction that issues the code, with that
/// transaction's connection, so a batch that rolls back leaves no message
/// behind. A gateway to a real SMS provider would queue the message in a
/// table here and deliver it after the commit.
pub trait SmsGateway: Send + Sync {
    fn send(&self, conn: &Connection, message: &SmsMessage) -> anyhow::Result<()>;
}

/// The bundled gateway: writes each message into the `sms_outbox` table,
/// where the admin page shows it.
#[derive(Debug, Default, Clone, Copy)]
pub struct OutboxGateway;

impl SmsGateway for OutboxGateway {
    fn send(&self, conn: &Connection, message: &SmsMessage) -> anyhow::Result<()> {
        conn.execute(
            "INSERT INTO sms_outbox (store_id, barcode, phone_last4, text, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            (
                &message.store_id,
                &message.barcode,
                &message.phone_last4,
                &message.text,
                format_time(message.created_at),
            ),
        )?;
        Ok(())
    }
}

/// The server secret and SMS gateway that issuing a code uses.
#[derive(Clone, Copy)]
pub struct CodeIssuer<'a> {
    pub secret: &'a CodeSecret,
    pub sms: &'a dyn SmsGateway,
}

/// The parcel a code is for.
pub struct CodeTarget<'a> {
    pub store_id: &'a str,
    pub barcode: &'a str,
    pub phone_last4: Option<&'a str>,
    /// Every parcel of the order that the code unlocks, `barcode` among
    /// them; empty when the code unlocks `barcode` alone.
    pub order_barcodes: Vec<String>,
}

impl CodeTarget<'_> {
    fn barcodes(&self) -> Vec<&str> {
        if self.order_barcodes.is_empty() {
            return vec![self.barcode];
        }
        self.order_barcodes.iter().map(String::as_str).collect()
    }
}

impl CodeIssuer<'_> {
    /// Revokes the live codes of the target's parcels, issues a new unique
    /// code for all of them, texts it to the customer and publishes its hash
    /// to every terminal of the store. Returns the new code id.
    pub fn issue(
        &self,
        conn: &Connection,
        target: &CodeTarget<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let barcodes = target.barcodes();
        for barcode in &barcodes {
            revoke_codes(conn, target.store_id, barcode, now)?;
        }
        let (code, lookup_hash) = self.unused_code(conn, target.store_id)?;
        let code_id = Uuid::now_v7().to_string();
        conn.execute(
            "INSERT INTO codes (code_id, store_id, barcode, lookup_hash, sealed_code, issued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (
                &code_id,
                target.store_id,
                target.barcode,
                lookup_hash,
                self.secret.seal(&code_id, &code),
                format_time(now),
            ),
        )?;
        for barcode in &barcodes {
            conn.execute(
                "INSERT INTO code_parcels (code_id, store_id, barcode) VALUES (?1, ?2, ?3)",
                (&code_id, target.store_id, barcode),
            )?;
        }

        let message = SmsMessage {
            store_id: target.store_id.to_string(),
            barcode: target.barcode.to_string(),
            phone_last4: target.phone_last4.map(str::to_string),
            text: sms_text(target.store_id, &barcodes, &code),
            created_at: now,
        };
        self.sms.send(conn, &message).context("failed to send the code by SMS")?;

        let terminals = store_terminals(conn, target.store_id)?;
        for (terminal_id, code_key) in terminals {
            let change = code_issued(&code_id, &code, &code_key, &barcodes)?;
            changes::append(conn, target.store_id, Some(&terminal_id), &change, now)?;
        }
        tracing::info!(
            store_id = target.store_id,
            barcode = target.barcode,
            parcels = barcodes.len(),
            code_id,
            "code issued"
        );
        Ok(code_id)
    }

    /// Draws codes until one is not live in the store; returns it with its
    /// lookup hash.
    fn unused_code(&self, conn: &Connection, store_id: &str) -> anyhow::Result<(Code, String)> {
        let mut statement = conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM codes
             WHERE store_id = ?1 AND lookup_hash = ?2 AND revoked_at IS NULL)",
        )?;
        for _ in 0..MAX_CODE_ATTEMPTS {
            let code = Code::random();
            let lookup_hash = self.secret.lookup_hash(store_id, &code);
            let taken: bool = statement.query_row((store_id, &lookup_hash), |row| row.get(0))?;
            if !taken {
                return Ok((code, lookup_hash));
            }
        }
        bail!("store {store_id}: no unused code after {MAX_CODE_ATTEMPTS} attempts")
    }

    /// Publishes the hash of every live code of the store to one terminal,
    /// for a terminal that enrolled after those codes were issued.
    pub fn publish_live_codes(
        &self,
        conn: &Connection,
        store_id: &str,
        terminal_id: &str,
        code_key: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mut statement = conn.prepare(
            "SELECT code_id, barcode, sealed_code FROM codes
             WHERE store_id = ?1 AND revoked_at IS NULL ORDER BY issued_at",
        )?;
        let rows = statement
            .query_map([store_id], |row| Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<Vec<(String, String, String)>>>()?;
        for (code_id, barcode, sealed) in rows {
            let code = self.secret.unseal(&code_id, &sealed)?;
            let mut barcodes = code_barcodes(conn, &code_id)?;
            if barcodes.is_empty() {
                barcodes.push(barcode);
            }
            let barcodes: Vec<&str> = barcodes.iter().map(String::as_str).collect();
            let change = code_issued(&code_id, &code, code_key, &barcodes)?;
            changes::append(conn, store_id, Some(terminal_id), &change, now)?;
        }
        Ok(())
    }
}

/// Condition on `codes` (parameters `?1` store, `?2` barcode): a live code
/// that unlocks the parcel, alone or with others of its order. The two
/// look-ups are a `UNION ALL` of indexed searches because with
/// `barcode = ?2 OR code_id IN (...)` SQLite searched `codes` by store
/// alone, so every receipt read every code of the store.
const CODE_OF_PARCEL: &str = "revoked_at IS NULL AND code_id IN
    (SELECT code_id FROM codes WHERE store_id = ?1 AND barcode = ?2
     UNION ALL SELECT code_id FROM code_parcels WHERE store_id = ?1 AND barcode = ?2)";

fn revoke_sql() -> String {
    format!("UPDATE codes SET revoked_at = ?3 WHERE {CODE_OF_PARCEL} RETURNING code_id")
}

fn release_sql() -> String {
    format!(
        "UPDATE codes SET revoked_at = ?3 WHERE {CODE_OF_PARCEL} AND NOT EXISTS
             (SELECT 1 FROM code_parcels shared JOIN parcels waiting
                 ON waiting.store_id = shared.store_id AND waiting.barcode = shared.barcode
              WHERE shared.code_id = codes.code_id AND shared.barcode <> ?2
                 AND waiting.state = 'received')
         RETURNING code_id"
    )
}

/// Revokes every live code of a parcel, including a code shared with other
/// parcels of its order, and publishes a `CodeRevoked` change for each.
/// Returns how many were revoked.
pub fn revoke_codes(
    conn: &Connection,
    store_id: &str,
    barcode: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    revoke_where(conn, &revoke_sql(), store_id, barcode, now)
}

/// Revokes the codes of a parcel that left the shelf, except a code that
/// still unlocks another parcel of the order waiting at the store: the
/// customer who took only some parcels collects the rest with the same
/// code. Call after the parcel's new state is written. Returns how many
/// codes were revoked.
pub fn release_codes(
    conn: &Connection,
    store_id: &str,
    barcode: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    revoke_where(conn, &release_sql(), store_id, barcode, now)
}

fn revoke_where(
    conn: &Connection,
    sql: &str,
    store_id: &str,
    barcode: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut statement = conn.prepare_cached(sql)?;
    let revoked = statement
        .query_map((store_id, barcode, format_time(now)), |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for code_id in &revoked {
        changes::append(
            conn,
            store_id,
            None,
            &Change::CodeRevoked { code_id: code_id.clone() },
            now,
        )?;
    }
    Ok(revoked.len())
}

fn code_issued(
    code_id: &str,
    code: &Code,
    code_key: &str,
    barcodes: &[&str],
) -> anyhow::Result<Change> {
    let key = hex::decode(code_key).context("terminal code key is not hex")?;
    Ok(Change::CodeIssued {
        code_id: code_id.to_string(),
        code_hash: code_hash(&key, code.as_str()),
        barcodes: barcodes.iter().map(|barcode| barcode.to_string()).collect(),
    })
}

fn code_barcodes(conn: &Connection, code_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn
        .prepare_cached("SELECT barcode FROM code_parcels WHERE code_id = ?1 ORDER BY barcode")?;
    statement.query_map([code_id], |row| row.get(0))?.collect()
}

fn store_terminals(conn: &Connection, store_id: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut statement = conn.prepare_cached(
        "SELECT terminal_id, code_key FROM terminals WHERE store_id = ?1 ORDER BY terminal_id",
    )?;
    statement.query_map([store_id], |row| Ok((row.get(0)?, row.get(1)?)))?.collect()
}

fn sms_text(store_id: &str, barcodes: &[&str], code: &Code) -> String {
    let parcels = match barcodes {
        [barcode] => format!("Your parcel {barcode} is"),
        several => format!("Your {} parcels {} are", several.len(), several.join(", ")),
    };
    format!(
        "{parcels} ready for pickup at store {store_id}. \
         Pickup code: {}. Show this code at the counter.",
        code.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every receipt revokes and every handover releases the codes of one
    /// parcel, so a plan that reads the store's codes by store alone makes
    /// a push grow with the square of its length.
    #[test]
    fn code_revocations_search_by_parcel() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::backend::db::open(&dir.path().join("mall.db")).unwrap();
        for sql in [revoke_sql(), release_sql()] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(("S1", "JJD0001", "now"), |row| row.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(
                plan.contains("codes USING INDEX sqlite_autoindex_codes_1 (code_id=?)"),
                "{plan}"
            );
            assert!(plan.contains("codes_parcel (store_id=? AND barcode=?)"), "{plan}");
            assert!(!plan.contains("SCAN"), "{plan}");
        }
    }

    fn secret() -> CodeSecret {
        CodeSecret([7; 32])
    }

    #[test]
    fn sealed_code_unseals_to_itself() {
        let code = Code::from_number(42);
        let sealed = secret().seal("code-1", &code);
        assert_eq!(secret().unseal("code-1", &sealed).unwrap(), code);
    }

    #[test]
    fn sealed_code_differs_from_code() {
        let code = Code::from_number(123_456);
        assert_ne!(secret().seal("code-1", &code), "123456");
    }

    #[test]
    fn lookup_hash_depends_on_store() {
        let code = Code::from_number(5);
        assert_ne!(secret().lookup_hash("S1", &code), secret().lookup_hash("S2", &code));
    }

    #[test]
    fn code_debug_hides_digits() {
        assert_eq!(format!("{:?}", Code::from_number(987_654)), "Code(******)");
    }

    #[test]
    fn code_has_six_digits() {
        assert_eq!(Code::from_number(7).as_str(), "000007");
    }

    #[test]
    fn secret_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mall.db.code-secret");
        let first = CodeSecret::load_or_create(&path).unwrap();
        let second = CodeSecret::load_or_create(&path).unwrap();
        assert_eq!(first.0, second.0);
    }

    #[test]
    fn corrupt_secret_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mall.db.code-secret");
        fs::write(&path, "not hex").unwrap();
        assert!(CodeSecret::load_or_create(&path).is_err());
    }

    #[test]
    fn sms_text_contains_code() {
        let text = sms_text("S1", &["JJD0001"], &Code::from_number(314_159));
        assert!(text.contains("314159"), "{text}");
    }
}
