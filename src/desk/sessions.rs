//! Counter sessions: a courier drop, a return to a courier and a stocktake.
//!
//! Opening or closing a session is one transaction; closing appends the
//! session's event with its summary. Receipts and rejections made while a
//! drop is open count towards it and still send their own events. Scans into
//! a return session or a stocktake change no parcel, so they stay local
//! until the session closes: closing a return session records each parcel
//! returned, and closing a stocktake records what was missing or extra.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::Transaction;
use serde::Serialize;
use uuid::Uuid;

use super::lifecycle::Action;
use super::{Desk, DeskError, Result, apply_plan, record_in, validate_barcode, validate_text};
use crate::protocol::EventBody;
use crate::store::outbox;
use crate::store::parcels::{self, Parcel, ParcelState};
use crate::store::sessions::{self, ScanOutcome, Session, SessionKind};

/// Prefix of a courier's badge barcode, followed by the courier id.
pub const COURIER_BADGE_PREFIX: &str = "COURIER-";

/// Maximum length of a courier id, in characters.
pub const MAX_COURIER_ID_LEN: usize = 32;

/// Maximum parcel count a courier may declare for one drop.
pub const MAX_DECLARED: u32 = 10_000;

/// The running or final figures of a courier drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropSummary {
    pub session: Session,
    pub declared: u32,
    /// Barcodes received in this drop, in scan order.
    pub received: Vec<String>,
    /// Barcodes rejected at the door in this drop, in scan order.
    pub rejected: Vec<String>,
    /// Received plus rejected.
    pub scanned: u32,
    /// Declared parcels not scanned: `declared - scanned`, or 0.
    pub missing: u32,
    /// Parcels scanned beyond the declared count: `scanned - declared`, or 0.
    pub extra: u32,
}

/// The running or final figures of a return session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReturnSummary {
    pub session: Session,
    pub courier_id: String,
    /// Barcodes scanned into the session, in scan order.
    pub parcels: Vec<String>,
    pub count: u32,
}

/// Outcome of scanning a parcel for return.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReturnOutcome {
    /// No return session is open, so the parcel was returned now.
    Returned { parcel: Parcel },
    /// The parcel joined the open return session; `new` is false when it
    /// was scanned into it before.
    Scanned { summary: ReturnSummary, new: bool },
}

/// The running or final figures of a stocktake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StocktakeSummary {
    pub session: Session,
    /// Distinct barcodes scanned.
    pub seen: u32,
    /// Parcels the store expects on the shelves that were not scanned.
    pub missing: Vec<String>,
    /// Barcodes scanned that the store does not expect on the shelves.
    pub unexpected: Vec<String>,
}

/// Returns the courier id of a badge scan such as `COURIER-ZTO-0042`, or
/// `None` when the scan is not a courier badge. The prefix is matched
/// without regard to case.
pub fn courier_from_badge(scan: &str) -> Option<&str> {
    let scan = scan.trim();
    let prefix = scan.get(..COURIER_BADGE_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(COURIER_BADGE_PREFIX) {
        return None;
    }
    let id = &scan[COURIER_BADGE_PREFIX.len()..];
    (!id.is_empty()).then_some(id)
}

/// Returns the courier id in a clerk's entry: the id of a badge scan
/// (`COURIER-<id>`), or else the entry itself, trimmed. The id is checked
/// when a session starts.
pub fn courier_from_entry(entry: &str) -> &str {
    courier_from_badge(entry).unwrap_or(entry.trim())
}

/// Checks a courier id as a session needs it: not empty, at most
/// [`MAX_COURIER_ID_LEN`] characters of letters, digits, `-`, `_` and `.`.
/// Returns it trimmed.
pub fn validate_courier(raw: &str) -> Result<String> {
    let id = validate_text("courier id", raw, MAX_COURIER_ID_LEN)?.ok_or_else(|| {
        DeskError::Invalid("courier id is empty: scan the courier's badge".to_owned())
    })?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if let Some(bad) = id.chars().find(|&c| !allowed(c)) {
        return Err(DeskError::Invalid(format!(
            "courier id {id:?} contains {bad:?}: use letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(id)
}

impl Desk {
    // ---- courier drops ---------------------------------------------------

    /// Opens a drop session for a courier who declares `declared` parcels.
    /// Fails with [`DeskError::Session`] while another drop is open.
    pub fn start_drop(&mut self, courier_id: &str, declared: u32) -> Result<DropSummary> {
        let courier_id = validate_courier(courier_id)?;
        if declared == 0 {
            return Err(DeskError::Invalid(
                "declared count 0: a courier drop has at least one parcel; enter the courier's \
                 count"
                    .to_owned(),
            ));
        }
        if declared > MAX_DECLARED {
            return Err(DeskError::Invalid(format!(
                "declared count {declared} is more than {MAX_DECLARED}: check the courier's count"
            )));
        }
        let session = self.open_new_session(SessionKind::Drop, Some(courier_id), Some(declared))?;
        self.drop_summary(session)
    }

    /// Opens a drop session from a courier badge scan (`COURIER-<id>`).
    pub fn start_drop_from_badge(&mut self, scan: &str, declared: u32) -> Result<DropSummary> {
        let courier_id = courier_from_badge(scan).ok_or_else(|| {
            DeskError::Invalid(format!(
                "{:?} is not a courier badge: badges start with {COURIER_BADGE_PREFIX}",
                scan.trim()
            ))
        })?;
        let courier_id = courier_id.to_owned();
        self.start_drop(&courier_id, declared)
    }

    /// Returns the figures of the open drop, or `None` when none is open.
    pub fn drop_status(&self) -> Result<Option<DropSummary>> {
        match sessions::open_session(&self.conn, SessionKind::Drop)? {
            Some(session) => Ok(Some(self.drop_summary(session)?)),
            None => Ok(None),
        }
    }

    /// Closes the open drop after the clerk confirmed its summary, and
    /// sends the summary to the backend.
    pub fn close_drop(&mut self) -> Result<DropSummary> {
        let summary = self.drop_status()?.ok_or_else(|| no_session(SessionKind::Drop))?;
        let body = EventBody::DropClosed {
            session_id: summary.session.session_id.clone(),
            courier_id: summary.session.courier_id.clone().unwrap_or_default(),
            declared: summary.declared,
            received: summary.received.clone(),
            rejected: summary.rejected.clone(),
            missing: summary.missing,
            extra: summary.extra,
        };
        let closed = self.close_session(&summary.session, body, |_, _, _| Ok(()))?;
        Ok(DropSummary { session: closed, ..summary })
    }

    fn drop_summary(&self, session: Session) -> Result<DropSummary> {
        let mut received = Vec::new();
        let mut rejected = Vec::new();
        for scan in sessions::scans(&self.conn, &session.session_id)? {
            match scan.outcome {
                ScanOutcome::Rejected => rejected.push(scan.barcode),
                _ => received.push(scan.barcode),
            }
        }
        let declared = session.declared.unwrap_or(0);
        let scanned = (received.len() + rejected.len()) as u32;
        Ok(DropSummary {
            session,
            declared,
            received,
            rejected,
            scanned,
            missing: declared.saturating_sub(scanned),
            extra: scanned.saturating_sub(declared),
        })
    }

    // ---- returns to a courier --------------------------------------------

    /// Opens a return session with a courier. Fails with
    /// [`DeskError::Session`] while another return session is open.
    pub fn start_return(&mut self, courier_id: &str) -> Result<ReturnSummary> {
        let courier_id = validate_courier(courier_id)?;
        let session = self.open_new_session(SessionKind::Return, Some(courier_id), None)?;
        self.return_summary(session)
    }

    /// Returns the figures of the open return session, if any.
    pub fn return_status(&self) -> Result<Option<ReturnSummary>> {
        match sessions::open_session(&self.conn, SessionKind::Return)? {
            Some(session) => Ok(Some(self.return_summary(session)?)),
            None => Ok(None),
        }
    }

    /// Scans a parcel for return: into the open return session, or, when
    /// none is open, straight back to `courier_id`.
    pub fn return_parcel(
        &mut self,
        barcode: &str,
        courier_id: Option<&str>,
    ) -> Result<ReturnOutcome> {
        let Some(session) = sessions::open_session(&self.conn, SessionKind::Return)? else {
            let parcel = self.return_to_courier(barcode, courier_id)?;
            return Ok(ReturnOutcome::Returned { parcel });
        };
        let barcode = validate_barcode(barcode)?;
        self.operator_id()?;
        if let Some(courier_id) = courier_id {
            let courier_id = validate_courier(courier_id)?;
            if session.courier_id.as_deref() != Some(courier_id.as_str()) {
                return Err(DeskError::Session(format!(
                    "the open return session is with courier {}, not {courier_id}: close it first",
                    session.courier_id.as_deref().unwrap_or("?")
                )));
            }
        }
        let parcel = self.known_parcel(&barcode)?;
        self.plan(&barcode, parcel.as_ref(), Action::Return)?;
        let now = self.now();
        let tx = self.conn.transaction()?;
        let new = sessions::add_scan(&tx, &session.session_id, &barcode, ScanOutcome::Return, now)?;
        tx.commit()?;
        tracing::info!(barcode = %barcode, session_id = %session.session_id, new, "desk: parcel scanned for return");
        Ok(ReturnOutcome::Scanned { summary: self.return_summary(session)?, new })
    }

    /// Closes the open return session: every parcel scanned into it is
    /// recorded as returned to the session's courier, one event each, then
    /// the session's own event, all in one transaction. A parcel that the
    /// rules no longer let go back (for example one recalled and then
    /// handed over since) fails the whole close, naming the parcel.
    pub fn close_return(&mut self) -> Result<ReturnSummary> {
        let summary = self.return_status()?.ok_or_else(|| no_session(SessionKind::Return))?;
        let mut returning = Vec::with_capacity(summary.parcels.len());
        for barcode in &summary.parcels {
            let parcel = parcels::get(&self.conn, barcode)?;
            let plan = self.plan(barcode, parcel.as_ref(), Action::Return)?;
            let mut parcel = super::known_or_error(parcel, barcode)?;
            apply_plan(&mut parcel, plan);
            returning.push(parcel);
        }
        let courier_id = summary.courier_id.clone();
        let body = EventBody::ReturnSessionClosed {
            session_id: summary.session.session_id.clone(),
            courier_id: courier_id.clone(),
            returned: summary.parcels.clone(),
        };
        let closed = self.close_session(&summary.session, body, |tx, operator, now| {
            for parcel in &mut returning {
                parcel.returned_at = Some(now);
                let body = EventBody::Returned { courier_id: Some(courier_id.clone()) };
                record_in(tx, parcel, operator, body, now)?;
            }
            Ok(())
        })?;
        Ok(ReturnSummary { session: closed, ..summary })
    }

    fn return_summary(&self, session: Session) -> Result<ReturnSummary> {
        let parcels: Vec<String> = sessions::scans(&self.conn, &session.session_id)?
            .into_iter()
            .map(|scan| scan.barcode)
            .collect();
        Ok(ReturnSummary {
            courier_id: session.courier_id.clone().unwrap_or_default(),
            count: parcels.len() as u32,
            parcels,
            session,
        })
    }

    // ---- stocktake -------------------------------------------------------

    /// Opens a stocktake. Fails with [`DeskError::Session`] while another is
    /// open.
    pub fn start_stocktake(&mut self) -> Result<StocktakeSummary> {
        let session = self.open_new_session(SessionKind::Stocktake, None, None)?;
        self.stocktake_summary(session)
    }

    /// Returns the running figures of the open stocktake, if any.
    pub fn stocktake_status(&self) -> Result<Option<StocktakeSummary>> {
        match sessions::open_session(&self.conn, SessionKind::Stocktake)? {
            Some(session) => Ok(Some(self.stocktake_summary(session)?)),
            None => Ok(None),
        }
    }

    /// Records that a parcel was seen on the shelves. A barcode the store
    /// does not know is kept too and shows as unexpected at the close.
    pub fn scan_stocktake(&mut self, barcode: &str) -> Result<StocktakeSummary> {
        let barcode = validate_barcode(barcode)?;
        self.operator_id()?;
        let session = sessions::open_session(&self.conn, SessionKind::Stocktake)?
            .ok_or_else(|| no_session(SessionKind::Stocktake))?;
        self.known_parcel(&barcode)?;
        let now = self.now();
        let tx = self.conn.transaction()?;
        sessions::add_scan(&tx, &session.session_id, &barcode, ScanOutcome::Seen, now)?;
        tx.commit()?;
        self.stocktake_summary(session)
    }

    /// Closes the open stocktake and sends its result to the backend.
    pub fn close_stocktake(&mut self) -> Result<StocktakeSummary> {
        let summary = self.stocktake_status()?.ok_or_else(|| no_session(SessionKind::Stocktake))?;
        let body = EventBody::StocktakeClosed {
            session_id: summary.session.session_id.clone(),
            seen: summary.seen,
            missing_barcodes: summary.missing.clone(),
            unexpected_barcodes: summary.unexpected.clone(),
        };
        let closed = self.close_session(&summary.session, body, |_, _, _| Ok(()))?;
        Ok(StocktakeSummary { session: closed, ..summary })
    }

    fn stocktake_summary(&self, session: Session) -> Result<StocktakeSummary> {
        let seen: Vec<String> = sessions::scans(&self.conn, &session.session_id)?
            .into_iter()
            .map(|scan| scan.barcode)
            .collect();
        let seen_set: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
        let mut on_shelf = BTreeSet::new();
        for state in ParcelState::ALL.into_iter().filter(|state| state.is_on_shelf()) {
            for parcel in parcels::list(&self.conn, Some(state))? {
                on_shelf.insert(parcel.barcode);
            }
        }
        let missing = on_shelf
            .iter()
            .filter(|barcode| !seen_set.contains(barcode.as_str()))
            .cloned()
            .collect();
        let unexpected =
            seen.iter().filter(|barcode| !on_shelf.contains(*barcode)).cloned().collect();
        Ok(StocktakeSummary { seen: seen.len() as u32, missing, unexpected, session })
    }

    // ---- shared ----------------------------------------------------------

    fn open_new_session(
        &mut self,
        kind: SessionKind,
        courier_id: Option<String>,
        declared: Option<u32>,
    ) -> Result<Session> {
        let operator = self.operator_id()?;
        if let Some(open) = sessions::open_session(&self.conn, kind)? {
            return Err(already_open(&open));
        }
        let session = Session {
            session_id: Uuid::now_v7().to_string(),
            kind,
            courier_id,
            declared,
            operator_id: operator,
            opened_at: self.now(),
            closed_at: None,
        };
        let tx = self.conn.transaction()?;
        sessions::insert(&tx, &session)?;
        tx.commit()?;
        tracing::info!(session_id = %session.session_id, kind = kind.as_str(), "desk: session opened");
        Ok(session)
    }

    /// Closes a session, runs `also` and appends the session's event, in one
    /// transaction. Returns the session as closed.
    fn close_session(
        &mut self,
        session: &Session,
        body: EventBody,
        also: impl FnOnce(&Transaction<'_>, &str, DateTime<Utc>) -> Result<()>,
    ) -> Result<Session> {
        let operator = self.operator_id()?;
        let now = self.now();
        let tx = self.conn.transaction()?;
        also(&tx, &operator, now)?;
        sessions::close(&tx, &session.session_id, &operator, now)?;
        let entry = outbox::append(&tx, "", &operator, now, body)?;
        tx.commit()?;
        tracing::info!(
            session_id = %session.session_id,
            kind = session.kind.as_str(),
            seq = entry.seq,
            "desk: session closed"
        );
        self.notify_event();
        Ok(Session { closed_at: Some(now), ..session.clone() })
    }
}

fn no_session(kind: SessionKind) -> DeskError {
    let start = match kind {
        SessionKind::Drop => "drop start --courier ID --declared N",
        SessionKind::Return => "return start --courier ID",
        SessionKind::Stocktake => "stocktake start",
    };
    DeskError::Session(format!("no {kind} session is open: start one with `{start}`"))
}

fn already_open(open: &Session) -> DeskError {
    let with = open
        .courier_id
        .as_deref()
        .map(|courier| format!(" with courier {courier}"))
        .unwrap_or_default();
    DeskError::Session(format!(
        "a {} session{with} is already open since {}: close it first",
        open.kind,
        open.opened_at.format("%Y-%m-%d %H:%M UTC")
    ))
}
