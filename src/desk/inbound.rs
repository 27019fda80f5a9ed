//! The rules for changes that arrive from the mall: announcements, recalls,
//! codes and conflicts, applied to the store in the transaction that also
//! stores the pull cursor.

use chrono::{DateTime, Utc};
use rusqlite::Transaction;

use crate::protocol::{Change, ReturnCause};
use crate::store::parcels::{self, ParcelState};
use crate::store::{self, StoreError, sync_state};

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
            parcel.return_note = Some(reason.chars().take(200).collect());
        }
        _ => return Ok(()),
    }
    parcels::save(tx, &parcel, now)
}
