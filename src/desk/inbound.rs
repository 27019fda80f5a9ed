//! The rules for changes that arrive from the mall: announcements, recalls,
//! codes and conflicts, applied to the store in the transaction that also
//! stores the pull cursor.

use chrono::{DateTime, Duration, Utc};
use rusqlite::Transaction;

use super::{MAX_NOTE_LEN, validate_barcode, validate_text};
use crate::protocol::{Change, ManifestParcel, ReturnCause};
use crate::store::parcels::{self, ParcelState};
use crate::store::{self, StoreError, sync_state};

/// Maximum length of the manifest's text fields (order id, customer name,
/// courier) and of ids (code, conflict), in characters.
const MAX_FIELD_LEN: usize = 64;
/// Maximum length of a conflict message, in characters.
const MAX_MESSAGE_LEN: usize = 500;
/// Maximum number of parcels one code unlocks.
const MAX_CODE_PARCELS: usize = 100;
/// How far a pulled deadline may lie from now, in either direction.
const MAX_DEADLINE_DISTANCE_DAYS: i64 = 366;
/// Maximum length of a skip reason as stored, in characters.
const MAX_REASON_LEN: usize = 300;

/// Outcome of one pulled change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    Applied,
    /// Not applied, and recorded with this reason in the skipped changes.
    Skipped(String),
}

/// Decodes, checks and applies one pulled change as JSON. A change that
/// does not decode, for example one of a type this terminal does not know,
/// or whose fields break the input rules, is recorded as skipped instead,
/// so the pull can move past it. Fails only when the store fails.
pub fn apply_pulled(
    tx: &Transaction<'_>,
    raw: &serde_json::Value,
    code_key_known: bool,
    now: DateTime<Utc>,
) -> Result<Pulled, StoreError> {
    let checked = serde_json::from_value::<Change>(raw.clone())
        .map_err(|error| format!("undecodable change: {error}"))
        .and_then(|change| validate_change(&change, now).map(|()| change));
    match checked {
        Ok(change) => {
            apply_change(tx, &change, code_key_known, now)?;
            Ok(Pulled::Applied)
        }
        Err(reason) => {
            let reason = clean_text(&reason, MAX_REASON_LEN);
            let change_type = readable_field(raw, "type");
            let barcode = readable_field(raw, "barcode")
                .or_else(|| raw.get("parcel").and_then(|parcel| readable_field(parcel, "barcode")));
            sync_state::insert_skipped_change(
                tx,
                change_type.as_deref(),
                barcode.as_deref(),
                &reason,
                now,
            )?;
            tracing::warn!(
                change_type = change_type.as_deref().unwrap_or("?"),
                barcode = barcode.as_deref().unwrap_or("?"),
                %reason,
                "sync: pulled change skipped"
            );
            Ok(Pulled::Skipped(reason))
        }
    }
}

/// Checks every field of a pulled change with the rules the desk applies
/// to the clerk's input, and returns what is wrong.
pub fn validate_change(change: &Change, now: DateTime<Utc>) -> Result<(), String> {
    match change {
        Change::ParcelAnnounced { parcel } => validate_manifest_parcel(parcel, now),
        Change::ParcelCancelled { barcode } => check_barcode(barcode),
        Change::ParcelRecalled { barcode, reason } => {
            check_barcode(barcode)?;
            check_text("recall reason", reason, MAX_NOTE_LEN)
        }
        Change::CodeIssued { code_id, code_hash, barcodes } => {
            check_id("code_id", code_id)?;
            let hash_ok = code_hash.len() == 64 && code_hash.chars().all(|c| c.is_ascii_hexdigit());
            if !hash_ok {
                return Err(format!("code {code_id}: code_hash is not 64 hex digits"));
            }
            if barcodes.is_empty() || barcodes.len() > MAX_CODE_PARCELS {
                return Err(format!(
                    "code {code_id} unlocks {} parcels; expected 1 to {MAX_CODE_PARCELS}",
                    barcodes.len()
                ));
            }
            barcodes.iter().try_for_each(|barcode| check_barcode(barcode))
        }
        Change::CodeRevoked { code_id } => check_id("code_id", code_id),
        Change::DeadlineSet { barcode, deadline } => {
            check_barcode(barcode)?;
            check_deadline(*deadline, now)
        }
        Change::Conflict { conflict_id, barcode, message, .. } => {
            check_id("conflict_id", conflict_id)?;
            check_barcode(barcode)?;
            check_text("conflict message", message, MAX_MESSAGE_LEN)
        }
    }
}

fn validate_manifest_parcel(parcel: &ManifestParcel, now: DateTime<Utc>) -> Result<(), String> {
    check_barcode(&parcel.barcode)?;
    check_text("order_id", &parcel.order_id, MAX_FIELD_LEN)?;
    check_text("customer_masked", &parcel.customer_masked, MAX_FIELD_LEN)?;
    check_text("courier", &parcel.courier, MAX_FIELD_LEN)?;
    let phone = &parcel.phone_last4;
    if phone.len() != 4 || !phone.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("parcel {}: phone_last4 is not four digits", parcel.barcode));
    }
    parcel.deadline.map_or(Ok(()), |deadline| check_deadline(deadline, now))
}

/// Accepts a barcode only as the desk would take it from a scan, untrimmed.
fn check_barcode(barcode: &str) -> Result<(), String> {
    match validate_barcode(barcode) {
        Ok(clean) if clean == barcode => Ok(()),
        Ok(_) => Err("barcode has leading or trailing spaces".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

fn check_text(what: &str, text: &str, max: usize) -> Result<(), String> {
    validate_text(what, text, max).map(|_| ()).map_err(|error| error.to_string())
}

/// Accepts an id of 1 to [`MAX_FIELD_LEN`] ASCII letters, digits, `-`, `_`
/// or `.`.
fn check_id(what: &str, id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.len() > MAX_FIELD_LEN || !id.chars().all(allowed) {
        return Err(format!("{what} is not 1 to {MAX_FIELD_LEN} letters, digits, '-', '_' or '.'"));
    }
    Ok(())
}

fn check_deadline(deadline: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    let distance = Duration::days(MAX_DEADLINE_DISTANCE_DAYS);
    if deadline < now - distance || deadline > now + distance {
        return Err(format!(
            "deadline {} is more than {MAX_DEADLINE_DISTANCE_DAYS} days from now",
            deadline.to_rfc3339()
        ));
    }
    Ok(())
}

/// Returns a string field of untrusted JSON when it is short, printable
/// text, for the record of a skipped change.
fn readable_field(value: &serde_json::Value, name: &str) -> Option<String> {
    let text = value.get(name)?.as_str()?;
    let printable = text.chars().all(|c| c.is_ascii_graphic());
    (printable && !text.is_empty() && text.len() <= MAX_FIELD_LEN).then(|| text.to_owned())
}

/// Replaces control characters and cuts the text to `max` characters.
fn clean_text(text: &str, max: usize) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(max).collect()
}

/// Applies one pulled change. Changes about parcels the store never heard of
/// are kept where they make sense (codes, conflicts) and skipped otherwise.
pub fn apply_change(
    tx: &Transaction<'_>,
    change: &Change,
    code_key_known: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    match change {
        Change::ParcelAnnounced { parcel } => parcels::announce(tx, parcel, now),
        Change::ParcelCancelled { barcode } => cancel(tx, barcode, now),
        Change::ParcelRecalled { barcode, reason } => recall(tx, barcode, reason, now),
        Change::CodeIssued { code_id, code_hash, barcodes } => {
            let hash = hex::decode(code_hash)
                .map_err(|_| StoreError::Corrupt(format!("code {code_id}: hash is not hex")))?;
            if !code_key_known {
                tracing::warn!(code_id = %code_id, "sync: code received before enrolment finished");
            }
            store::codes::insert(tx, code_id, &hash, barcodes, now)?;
            barcodes.iter().try_for_each(|barcode| refresh_readiness(tx, barcode, now))
        }
        Change::CodeRevoked { code_id } => {
            let barcodes = barcodes_of_code(tx, code_id)?;
            store::codes::revoke(tx, code_id)?;
            barcodes.iter().try_for_each(|barcode| refresh_readiness(tx, barcode, now))
        }
        Change::DeadlineSet { barcode, deadline } => {
            let Some(mut parcel) = parcels::get(tx, barcode)? else { return Ok(()) };
            parcel.deadline = Some(*deadline);
            parcels::save(tx, &parcel, now)
        }
        Change::Conflict { conflict_id, barcode, event_id, message } => {
            let event_id = event_id.map(|id| id.to_string());
            sync_state::insert_conflict(tx, conflict_id, barcode, event_id.as_deref(), message, now)
        }
    }
}

fn barcodes_of_code(tx: &Transaction<'_>, code_id: &str) -> Result<Vec<String>, StoreError> {
    let mut statement = tx.prepare_cached("SELECT barcode FROM code_parcels WHERE code_id = ?1")?;
    let rows = statement.query_map([code_id], |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Moves a received parcel to ready when a code unlocks it, and a ready one
/// back to received when no code does any more.
fn refresh_readiness(
    tx: &Transaction<'_>,
    barcode: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(mut parcel) = parcels::get(tx, barcode)? else { return Ok(()) };
    let has_code = store::codes::parcel_has_code(tx, barcode)?;
    parcel.state = match (parcel.state, has_code) {
        (ParcelState::Received, true) => ParcelState::Ready,
        (ParcelState::Ready, false) => ParcelState::Received,
        (state, _) => {
            tracing::trace!(state = state.as_str(), "sync: readiness unchanged");
            return Ok(());
        }
    };
    parcels::save(tx, &parcel, now)
}

fn cancel(tx: &Transaction<'_>, barcode: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let Some(mut parcel) = parcels::get(tx, barcode)? else { return Ok(()) };
    if parcel.state != ParcelState::Expected {
        tracing::warn!(
            barcode,
            state = parcel.state.as_str(),
            "sync: cancellation of a parcel already at the store"
        );
        return Ok(());
    }
    parcel.state = ParcelState::Cancelled;
    parcels::save(tx, &parcel, now)
}

/// A recall makes an expected parcel cancelled and a parcel on the shelf due
/// for return. A parcel already gone is left alone; the backend reports any
/// clash as a conflict.
fn recall(
    tx: &Transaction<'_>,
    barcode: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(mut parcel) = parcels::get(tx, barcode)? else { return Ok(()) };
    match parcel.state {
        ParcelState::Expected => parcel.state = ParcelState::Cancelled,
        ParcelState::Received | ParcelState::Ready => {
            parcel.state = ParcelState::ReturnPending;
            parcel.return_cause = Some(ReturnCause::Recalled);
            parcel.return_note = Some(reason.chars().take(MAX_NOTE_LEN).collect());
        }
        _ => return Ok(()),
    }
    parcels::save(tx, &parcel, now)
}
