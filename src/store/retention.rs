//! Data retention: parcels that have left the store are deleted some days
//! after their last change, together with their sent events, code links and
//! acknowledged conflicts.
//!
//! A parcel is purged only when it is handed over, returned, rejected at the
//! door or cancelled, and its last change is older than the cut-off. Every
//! outbox event about it must be `sent`, so a pending or quarantined event
//! blocks the purge, and no conflict about it may be unacknowledged.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Result, format_time};

/// Parcel states that end a parcel's time at the store.
const FINAL_STATES: &str = "'handed_over', 'returned', 'rejected', 'cancelled'";

/// Deletes every parcel that may go, in one transaction, and returns how
/// many were deleted. `cutoff` is the time before which the last change must
/// lie.
pub fn purge(conn: &mut Connection, cutoff: DateTime<Utc>) -> Result<usize> {
    let tx = conn.transaction()?;
    tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS purged (barcode TEXT PRIMARY KEY)")?;
    tx.execute("DELETE FROM temp.purged", [])?;
    let count = tx.execute(
        &format!(
            "INSERT INTO temp.purged (barcode) \
             SELECT p.barcode FROM parcels p \
             WHERE p.state IN ({FINAL_STATES}) AND p.updated_at < ?1 \
             AND NOT EXISTS (SELECT 1 FROM outbox o \
                             WHERE o.barcode = p.barcode AND o.status <> 'sent') \
             AND NOT EXISTS (SELECT 1 FROM conflicts c \
                             WHERE c.barcode = p.barcode AND c.acknowledged = 0)"
        ),
        params![format_time(cutoff)],
    )?;
    if count > 0 {
        tx.execute_batch(
            "
            -- Codes that unlocked only purged parcels go with them.
            CREATE TEMP TABLE IF NOT EXISTS purged_codes (code_id TEXT PRIMARY KEY);
            DELETE FROM temp.purged_codes;
            INSERT INTO temp.purged_codes (code_id)
                SELECT DISTINCT code_id FROM code_parcels
                WHERE barcode IN (SELECT barcode FROM temp.purged);
            DELETE FROM code_parcels WHERE barcode IN (SELECT barcode FROM temp.purged);
            DELETE FROM codes WHERE code_id IN (SELECT code_id FROM temp.purged_codes)
                AND code_id NOT IN (SELECT code_id FROM code_parcels);
            DELETE FROM outbox WHERE barcode IN (SELECT barcode FROM temp.purged);
            DELETE FROM conflicts WHERE barcode IN (SELECT barcode FROM temp.purged);
            DELETE FROM parcels WHERE barcode IN (SELECT barcode FROM temp.purged);
            DELETE FROM temp.purged_codes;
            ",
        )?;
    }
    tx.execute("DELETE FROM temp.purged", [])?;
    tx.commit()?;
    Ok(count)
}
