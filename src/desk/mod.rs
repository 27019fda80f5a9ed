//! The parcel desk: every clerk action, checked against the lifecycle rules
//! and written durably before the caller hears it succeeded.
//!
//! Each action is one SQLite transaction that changes the parcel and appends
//! its outbox event; the action counts as done only once that transaction
//! has committed. Both front ends (the Slint UI and the command line) call
//! this type and nothing below it.

pub mod codes;
pub mod error;
pub mod inbound;
pub mod lifecycle;
pub mod operators;
pub mod photo;
pub mod report;
pub mod sessions;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

pub use self::codes::{Code, LockPolicy};
pub use self::error::{DeskError, Result};
use self::lifecycle::{Action, Context, Plan};
pub use self::report::{DailyReport, OperatorCounts};
pub use self::sessions::{
    DropSummary, ReturnOutcome, ReturnSummary, StocktakeSummary, courier_from_badge,
    courier_from_entry, validate_courier,
};
use crate::protocol::{EventBody, RejectReason, ReturnCause};
use crate::store::credentials::Credentials;
use crate::store::outbox::{self, OutboxEntry};
use crate::store::parcels::{self, Parcel, ParcelState};
use crate::store::sessions::{self as counter_sessions, ScanOutcome, SessionKind};
use crate::store::{self, format_time, parse_time, sign_in_failures, sync_state};

/// The source of the current time; tests substitute their own.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Settings of the desk's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskConfig {
    pub lock: LockPolicy,
    /// How long a sign-in lasts.
    pub shift: Duration,
    /// How long after receiving a parcel it may still be rejected as damaged.
    pub reject_window: Duration,
    /// Shelf slots in the order they are suggested; empty means no
    /// suggestion.
    pub shelves: Vec<String>,
    /// How long a parcel that has left the store is kept once the backend
    /// has every event about it.
    pub retention: Duration,
}

impl Default for DeskConfig {
    fn default() -> DeskConfig {
        DeskConfig {
            lock: LockPolicy::default(),
            shift: Duration::hours(8),
            reject_window: Duration::minutes(10),
            shelves: Vec::new(),
            retention: Duration::days(30),
        }
    }
}

/// A signed-in operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    pub id: String,
    pub name: String,
    pub signed_in_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The outcome of scanning a parcel in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Receipt {
    /// Recorded now, as event `seq`.
    Received { parcel: Parcel, seq: i64 },
    /// It was received before; nothing was recorded. `parcel.received_at` and
    /// `parcel.received_by` give the time and the operator.
    AlreadyReceived { parcel: Parcel },
}

/// Maximum length of a barcode, in characters.
pub const MAX_BARCODE_LEN: usize = 64;

/// Wrong PINs for one operator id within [`WRONG_PIN_WINDOW`] that lock its
/// sign-in.
pub const MAX_WRONG_PINS: u32 = 5;
/// How far back wrong PINs count towards the lock.
pub const WRONG_PIN_WINDOW: chrono::Duration = chrono::Duration::minutes(10);
/// How long sign-in stays locked after the wrong PIN that locked it.
pub const PIN_LOCK: chrono::Duration = chrono::Duration::minutes(5);
/// Maximum length of a free-text note, in characters.
pub const MAX_NOTE_LEN: usize = 200;

/// The desk over one terminal database.
pub struct Desk {
    conn: Connection,
    data_dir: PathBuf,
    config: DeskConfig,
    clock: Arc<dyn Clock>,
    on_event: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Desk {
    /// Opens the desk on the database in `data_dir`, creating both if needed.
    pub fn open(data_dir: &Path, config: DeskConfig) -> Result<Desk> {
        std::fs::create_dir_all(data_dir).map_err(|error| {
            DeskError::Invalid(format!(
                "data directory {} cannot be created: {error}",
                data_dir.display()
            ))
        })?;
        let conn = store::open(&data_dir.join(store::DB_FILE))?;
        Ok(Desk {
            conn,
            data_dir: data_dir.to_owned(),
            config,
            clock: Arc::new(SystemClock),
            on_event: None,
        })
    }

    /// Replaces the clock, for tests.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Desk {
        self.clock = clock;
        self
    }

    /// Sets a function called after every committed event, so a sync engine
    /// can push it without waiting for its timer.
    pub fn set_on_event(&mut self, notify: Arc<dyn Fn() + Send + Sync>) {
        self.on_event = Some(notify);
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn config(&self) -> &DeskConfig {
        &self.config
    }

    /// Replaces the rule settings, e.g. after the clerk saves Settings. A
    /// sign-in made earlier keeps the end time it was given.
    pub fn set_config(&mut self, config: DeskConfig) {
        self.config = config;
    }

    /// Gives read access to the database, for reports and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    // ---- operators -------------------------------------------------------

    /// Adds an operator or replaces the name and PIN of an existing one.
    pub fn add_operator(&mut self, id: &str, name: &str, pin: &str) -> Result<()> {
        operators::validate_operator_id(id).map_err(DeskError::Invalid)?;
        operators::validate_pin(pin).map_err(DeskError::Invalid)?;
        let name = validate_text("operator name", name, 64)?.unwrap_or_else(|| id.to_owned());
        let pin_hash = operators::hash_pin(pin).map_err(DeskError::Invalid)?;
        self.conn.execute(
            "INSERT INTO operators (id, name, pin_hash, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, pin_hash = excluded.pin_hash",
            params![id, name, pin_hash, format_time(self.now())],
        )?;
        tracing::info!(operator = id, "desk: operator saved");
        Ok(())
    }

    /// Lists operators as (id, name).
    pub fn operators(&self) -> Result<Vec<(String, String)>> {
        let mut statement = self.conn.prepare("SELECT id, name FROM operators ORDER BY id")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Signs an operator in for one shift, replacing any earlier sign-in.
    /// [`MAX_WRONG_PINS`] wrong PINs for one operator id within
    /// [`WRONG_PIN_WINDOW`] lock its sign-in for [`PIN_LOCK`], even with the
    /// right PIN, and each wrong PIN after that while the window holds them
    /// locks it again.
    pub fn sign_in(&mut self, id: &str, pin: &str) -> Result<Operator> {
        let now = self.now();
        if operators::validate_operator_id(id).is_err() {
            return Err(DeskError::BadSignIn);
        }
        let (failures, latest) = sign_in_failures::since(&self.conn, id, now - WRONG_PIN_WINDOW)?;
        if let Some(latest) = latest.filter(|_| failures >= MAX_WRONG_PINS) {
            let remaining = latest + PIN_LOCK - now;
            if remaining > chrono::Duration::zero() {
                tracing::warn!(operator = id, failures, "desk: sign-in locked");
                let remaining = remaining.to_std().unwrap_or_default();
                return Err(DeskError::SignInLocked { operator: id.to_owned(), remaining });
            }
        }
        let stored: Option<(String, String)> = self
            .conn
            .query_row("SELECT name, pin_hash FROM operators WHERE id = ?1", [id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        let Some((name, pin_hash)) = stored.filter(|(_, hash)| operators::verify_pin(pin, hash))
        else {
            sign_in_failures::record(&self.conn, id, now)?;
            tracing::warn!(operator = id, failures = failures + 1, "desk: sign-in failed");
            return Err(DeskError::BadSignIn);
        };
        sign_in_failures::forget(&self.conn, id, now - WRONG_PIN_WINDOW)?;
        let signed_in_at = now;
        let expires_at = signed_in_at + self.config.shift;
        self.conn.execute(
            "INSERT OR REPLACE INTO session (id, operator_id, signed_in_at, expires_at) \
             VALUES (1, ?1, ?2, ?3)",
            params![id, format_time(signed_in_at), format_time(expires_at)],
        )?;
        drop(pin_hash);
        tracing::info!(operator = id, "desk: signed in");
        Ok(Operator { id: id.to_owned(), name, signed_in_at, expires_at })
    }

    pub fn sign_out(&mut self) -> Result<()> {
        self.conn.execute("DELETE FROM session", [])?;
        tracing::info!("desk: signed out");
        Ok(())
    }

    /// Returns the signed-in operator, or `None` when no operator is signed in or
    /// the shift has ended.
    pub fn current_operator(&self) -> Result<Option<Operator>> {
        let row: Option<(String, String, String, String)> = self
            .conn
            .prepare_cached(
                "SELECT s.operator_id, o.name, s.signed_in_at, s.expires_at \
                 FROM session s JOIN operators o ON o.id = s.operator_id",
            )?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .optional()?;
        let Some((id, name, signed_in_at, expires_at)) = row else {
            return Ok(None);
        };
        let operator = Operator {
            id,
            name,
            signed_in_at: parse_time(&signed_in_at)?,
            expires_at: parse_time(&expires_at)?,
        };
        Ok((operator.expires_at > self.now()).then_some(operator))
    }

    fn operator_id(&self) -> Result<String> {
        self.current_operator()?.map(|operator| operator.id).ok_or(DeskError::NotSignedIn)
    }

    // ---- receiving -------------------------------------------------------

    /// Receives an intact parcel. A parcel that is not in the manifest is
    /// received and flagged as unexpected; a repeated scan records nothing.
    pub fn receive(&mut self, barcode: &str) -> Result<Receipt> {
        let barcode = validate_barcode(barcode)?;
        let operator = self.operator_id()?;
        let parcel = self.known_parcel(&barcode)?;
        let plan = self.plan(&barcode, parcel.as_ref(), Action::Receive)?;
        let now = self.now();
        let mut parcel = parcel.unwrap_or_else(|| Parcel::unannounced(&barcode));
        let state = match plan {
            Plan::AlreadyReceived => return Ok(Receipt::AlreadyReceived { parcel }),
            Plan::MoveTo(state) => state,
            Plan::Keep => parcel.state,
        };
        parcel.state = state;
        parcel.received_at = Some(now);
        parcel.received_by = Some(operator.clone());
        if parcel.shelf.is_none() {
            parcel.shelf = self.suggest_shelf()?;
        }
        let body =
            EventBody::Received { unexpected: parcel.unexpected, shelf: parcel.shelf.clone() };
        let drop_id = self.open_session_id(SessionKind::Drop)?;
        let entry = self.record_with(&parcel, &operator, body, |tx, now| {
            attach_to_drop(tx, drop_id.as_deref(), &barcode, ScanOutcome::Received, now)
        })?;
        Ok(Receipt::Received { parcel, seq: entry.seq })
    }

    /// Suggests the configured shelf slot that contains the fewest parcels,
    /// the earliest in the layout on a tie.
    fn suggest_shelf(&self) -> Result<Option<String>> {
        if self.config.shelves.is_empty() {
            return Ok(None);
        }
        let used = parcels::shelf_load(&self.conn)?;
        let best =
            self.config.shelves.iter().min_by_key(|slot| used.get(*slot).copied().unwrap_or(0));
        Ok(best.cloned())
    }

    /// Looks a barcode up, telling the clerk when only its case-inverted form
    /// is known (the scanner typed with Caps Lock on).
    fn known_parcel(&self, barcode: &str) -> Result<Option<Parcel>> {
        if let Some(parcel) = parcels::get(&self.conn, barcode)? {
            return Ok(Some(parcel));
        }
        let swapped = swap_case(barcode);
        if swapped != barcode && parcels::get(&self.conn, &swapped)?.is_some() {
            return Err(DeskError::Invalid(format!(
                "barcode {barcode} is unknown but {swapped} is expected: Caps Lock seems to be on; \
                 turn it off and scan again"
            )));
        }
        Ok(None)
    }

    /// Rejects a parcel at the door; it goes back with the courier.
    pub fn reject(
        &mut self,
        barcode: &str,
        reason: RejectReason,
        note: Option<&str>,
    ) -> Result<Parcel> {
        self.reject_with_photo(barcode, reason, note, None)
    }

    /// Rejects a parcel at the door with an optional JPEG photo of the
    /// damage, which is stored in the rejection's event and sent with it.
    /// Fails with [`DeskError::Invalid`] when the photo is not a JPEG or is
    /// larger than [`crate::protocol::MAX_PHOTO_BYTES`].
    pub fn reject_with_photo(
        &mut self,
        barcode: &str,
        reason: RejectReason,
        note: Option<&str>,
        photo: Option<&[u8]>,
    ) -> Result<Parcel> {
        let barcode = validate_barcode(barcode)?;
        let note = validate_optional_note(note)?;
        let photo_jpeg = photo.map(photo::encode_checked).transpose()?;
        let operator = self.operator_id()?;
        let parcel = self.known_parcel(&barcode)?;
        let plan = self.plan(&barcode, parcel.as_ref(), Action::Reject)?;
        let mut parcel = parcel.unwrap_or_else(|| Parcel::unannounced(&barcode));
        apply_plan(&mut parcel, plan);
        parcel.reject_reason = Some(reason);
        parcel.reject_note = note.clone();
        parcel.returned_at = Some(self.now());
        let body = EventBody::Rejected { reason, note, photo_jpeg };
        let drop_id = self.open_session_id(SessionKind::Drop)?;
        self.record_with(&parcel, &operator, body, |tx, now| {
            attach_to_drop(tx, drop_id.as_deref(), &barcode, ScanOutcome::Rejected, now)
        })?;
        Ok(parcel)
    }

    // ---- handing over ----------------------------------------------------

    /// Returns how long code entry stays locked, if it is.
    pub fn code_lock_remaining(&self) -> Result<Option<std::time::Duration>> {
        let now = self.now();
        let (failures, latest) =
            store::codes::failures_since(&self.conn, now - self.config.lock.window)?;
        Ok(self.config.lock.locked_for(failures, latest, now).and_then(|left| left.to_std().ok()))
    }

    /// Returns the parcels a code unlocks that can be handed over now, with
    /// their shelves. A wrong code counts towards the lock.
    pub fn parcels_for_code(&mut self, code: &str) -> Result<Vec<Parcel>> {
        let code = Code::parse(code).map_err(DeskError::Invalid)?;
        let barcodes = self.check_code(&code)?;
        let mut unlocked = Vec::new();
        for barcode in &barcodes {
            if let Some(parcel) = parcels::get(&self.conn, barcode)? {
                unlocked.push(parcel);
            }
        }
        let ready: Vec<Parcel> =
            unlocked.iter().filter(|parcel| parcel.state == ParcelState::Ready).cloned().collect();
        if !ready.is_empty() {
            return Ok(ready);
        }
        if unlocked.iter().any(|parcel| parcel.state == ParcelState::HandedOver) {
            return Err(DeskError::CodeUsed);
        }
        match unlocked.first() {
            Some(parcel) => Err(self.plan(&parcel.barcode, Some(parcel), Action::HandOver).unwrap_err()),
            None => Err(DeskError::Invalid(
                "this code unlocks parcels that have not reached the store yet: ask the customer to wait for the arrival text".to_owned(),
            )),
        }
    }

    /// Hands over the parcel with `barcode` to the holder of `code`. A barcode
    /// that the code does not unlock is a wrong parcel: nothing is recorded.
    pub fn hand_over(&mut self, code: &str, barcode: &str) -> Result<Parcel> {
        let barcode = validate_barcode(barcode)?;
        let operator = self.operator_id()?;
        let ready = self.parcels_for_code(code)?;
        let Some(parcel) = ready.into_iter().find(|parcel| parcel.barcode == barcode) else {
            let code = Code::parse(code).map_err(DeskError::Invalid)?;
            let expected = self.check_code(&code)?;
            tracing::warn!(barcode = %barcode, "desk: wrong parcel scanned at handover");
            return Err(DeskError::WrongParcel { scanned: barcode, expected });
        };
        let plan = self.plan(&barcode, Some(&parcel), Action::HandOver)?;
        let mut parcel = parcel;
        apply_plan(&mut parcel, plan);
        parcel.handed_over_at = Some(self.now());
        parcel.handed_over_by = Some(operator.clone());
        self.record(&parcel, &operator, EventBody::HandedOver)?;
        Ok(parcel)
    }

    /// Checks a code against the stored hashes and returns the barcodes it
    /// unlocks. While code entry is locked the code is not evaluated at all.
    fn check_code(&mut self, code: &Code) -> Result<Vec<String>> {
        if let Some(remaining) = self.code_lock_remaining()? {
            return Err(DeskError::CodeLocked { remaining, after_wrong_code: false });
        }
        let credentials = Credentials::load(&self.data_dir)?.ok_or(DeskError::NotEnrolled)?;
        let key = credentials.code_key_bytes().map_err(DeskError::Invalid)?;
        let hash = codes::hash(&key, code);
        if let Some(barcodes) = store::codes::barcodes_for_hash(&self.conn, &hash)? {
            return Ok(barcodes);
        }
        Err(self.count_wrong_code()?)
    }

    fn count_wrong_code(&mut self) -> Result<DeskError> {
        let now = self.now();
        let window_start = now - self.config.lock.window;
        let tx = self.conn.transaction()?;
        store::codes::forget_failures(&tx, window_start)?;
        store::codes::record_failure(&tx, now)?;
        tx.commit()?;
        let (failures, latest) = store::codes::failures_since(&self.conn, window_start)?;
        tracing::warn!(failures, "desk: wrong verification code entered");
        if let Some(remaining) = self.config.lock.locked_for(failures, latest, now) {
            let remaining = remaining.to_std().unwrap_or_default();
            return Ok(DeskError::CodeLocked { remaining, after_wrong_code: true });
        }
        Ok(DeskError::WrongCode { tries_left: self.config.lock.tries_left(failures) })
    }

    // ---- returns and shelves ---------------------------------------------

    /// Records that the customer refused the parcel at the counter; it is to
    /// go back to the courier.
    pub fn refuse(&mut self, barcode: &str, note: Option<&str>) -> Result<Parcel> {
        self.mark_return(barcode, Action::Refuse, ReturnCause::Refused, note)
    }

    /// Marks every parcel whose collection deadline has passed as to be
    /// returned, one event each, and returns them.
    pub fn mark_overdue(&mut self) -> Result<Vec<Parcel>> {
        let overdue = parcels::overdue(&self.conn, self.now())?;
        let mut marked = Vec::with_capacity(overdue.len());
        for parcel in overdue {
            marked.push(self.mark_return(
                &parcel.barcode,
                Action::MarkOverdue,
                ReturnCause::Overdue,
                None,
            )?);
        }
        Ok(marked)
    }

    fn mark_return(
        &mut self,
        barcode: &str,
        action: Action,
        cause: ReturnCause,
        note: Option<&str>,
    ) -> Result<Parcel> {
        let barcode = validate_barcode(barcode)?;
        let note = validate_optional_note(note)?;
        let operator = self.operator_id()?;
        let parcel = self.known_parcel(&barcode)?;
        let plan = self.plan(&barcode, parcel.as_ref(), action)?;
        let mut parcel = known_or_error(parcel, &barcode)?;
        apply_plan(&mut parcel, plan);
        parcel.return_cause = Some(cause);
        parcel.return_note = note.clone();
        self.record(&parcel, &operator, EventBody::ReturnPending { cause, note })?;
        Ok(parcel)
    }

    /// Gives a parcel that is to be returned back to the courier.
    pub fn return_to_courier(&mut self, barcode: &str, courier_id: Option<&str>) -> Result<Parcel> {
        let barcode = validate_barcode(barcode)?;
        let courier_id = validate_text("courier id", courier_id.unwrap_or(""), 32)?;
        let operator = self.operator_id()?;
        let parcel = self.known_parcel(&barcode)?;
        let plan = self.plan(&barcode, parcel.as_ref(), Action::Return)?;
        let mut parcel = known_or_error(parcel, &barcode)?;
        apply_plan(&mut parcel, plan);
        parcel.returned_at = Some(self.now());
        self.record(&parcel, &operator, EventBody::Returned { courier_id })?;
        Ok(parcel)
    }

    /// Puts a parcel on another shelf.
    pub fn move_to_shelf(&mut self, barcode: &str, shelf: &str) -> Result<Parcel> {
        let barcode = validate_barcode(barcode)?;
        let shelf = validate_text("shelf", shelf, 32)?
            .ok_or_else(|| DeskError::Invalid("shelf is empty: scan the shelf label".to_owned()))?;
        let operator = self.operator_id()?;
        let parcel = self.known_parcel(&barcode)?;
        self.plan(&barcode, parcel.as_ref(), Action::MoveShelf)?;
        let mut parcel = known_or_error(parcel, &barcode)?;
        parcel.shelf = Some(shelf.clone());
        self.record(&parcel, &operator, EventBody::ShelfChanged { shelf })?;
        Ok(parcel)
    }

    /// Asks the mall to text the customer a new code; the old one stops
    /// working once the backend has issued the new one.
    pub fn request_reissue(&mut self, barcode: &str) -> Result<Parcel> {
        let barcode = validate_barcode(barcode)?;
        let operator = self.operator_id()?;
        let parcel = self.known_parcel(&barcode)?;
        self.plan(&barcode, parcel.as_ref(), Action::RequestReissue)?;
        let parcel = known_or_error(parcel, &barcode)?;
        self.record(&parcel, &operator, EventBody::CodeReissueRequested)?;
        Ok(parcel)
    }

    // ---- retention ---------------------------------------------------------

    /// Deletes the parcels that left the store more than the retention time
    /// ago and whose events the backend has all acknowledged. Returns how
    /// many were deleted; [`store::retention`] lists what is kept back.
    pub fn purge_expired(&mut self) -> Result<usize> {
        let cutoff = self.now() - self.config.retention;
        let purged = store::retention::purge(&mut self.conn, cutoff)?;
        if purged > 0 {
            tracing::info!(parcels = purged, cutoff = %format_time(cutoff), "desk: old parcels purged");
        }
        Ok(purged)
    }

    // ---- reading -----------------------------------------------------------

    pub fn parcel(&self, barcode: &str) -> Result<Option<Parcel>> {
        Ok(parcels::get(&self.conn, barcode)?)
    }

    pub fn parcels(&self, state: Option<ParcelState>) -> Result<Vec<Parcel>> {
        Ok(parcels::list(&self.conn, state)?)
    }

    /// Returns the events not yet applied by the backend, in order.
    pub fn queue(&self) -> Result<Vec<OutboxEntry>> {
        Ok(outbox::pending(&self.conn, usize::MAX >> 1)?)
    }

    pub fn quarantined(&self) -> Result<Vec<OutboxEntry>> {
        Ok(outbox::quarantined(&self.conn)?)
    }

    pub fn conflicts(&self) -> Result<Vec<sync_state::Conflict>> {
        Ok(sync_state::conflicts(&self.conn)?)
    }

    /// Returns the pulled changes that were skipped as unusable.
    pub fn skipped_changes(&self) -> Result<Vec<sync_state::SkippedChange>> {
        Ok(sync_state::skipped_changes(&self.conn)?)
    }

    pub fn credentials(&self) -> Result<Option<Credentials>> {
        Ok(Credentials::load(&self.data_dir)?)
    }

    /// Returns the figures of the home screen and `status`.
    pub fn status(&self) -> Result<Status> {
        Status::read(self)
    }

    // ---- helpers -----------------------------------------------------------

    fn plan(&self, barcode: &str, parcel: Option<&Parcel>, action: Action) -> Result<Plan> {
        let has_code = store::codes::parcel_has_code(&self.conn, barcode)?;
        let context =
            Context { now: self.now(), has_code, reject_window: self.config.reject_window };
        Ok(lifecycle::plan(barcode, parcel, action, context)?)
    }

    /// Saves the parcel and appends its event in one transaction.
    fn record(&mut self, parcel: &Parcel, operator: &str, body: EventBody) -> Result<OutboxEntry> {
        self.record_with(parcel, operator, body, |_, _| Ok(()))
    }

    /// Saves the parcel, appends its event and runs `also` in one
    /// transaction.
    fn record_with(
        &mut self,
        parcel: &Parcel,
        operator: &str,
        body: EventBody,
        also: impl FnOnce(&Transaction<'_>, DateTime<Utc>) -> Result<()>,
    ) -> Result<OutboxEntry> {
        let now = self.now();
        let tx = self.conn.transaction()?;
        let entry = record_in(&tx, parcel, operator, body, now)?;
        also(&tx, now)?;
        tx.commit()?;
        tracing::info!(
            barcode = %parcel.barcode,
            event_id = %entry.event_id,
            seq = entry.seq,
            kind = entry.body.kind(),
            state = parcel.state.as_str(),
            "desk: action recorded"
        );
        self.notify_event();
        Ok(entry)
    }

    fn notify_event(&self) {
        if let Some(notify) = &self.on_event {
            notify();
        }
    }

    fn open_session_id(&self, kind: SessionKind) -> Result<Option<String>> {
        let session = counter_sessions::open_session(&self.conn, kind)?;
        Ok(session.map(|session| session.session_id))
    }
}

/// Counts a receipt or rejection in the open drop session, if there is one.
/// A rejection after a receipt in the same drop replaces it.
fn attach_to_drop(
    tx: &Transaction<'_>,
    drop_id: Option<&str>,
    barcode: &str,
    outcome: ScanOutcome,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(drop_id) = drop_id {
        counter_sessions::set_scan(tx, drop_id, barcode, outcome, now)?;
    }
    Ok(())
}

fn record_in(
    tx: &Transaction<'_>,
    parcel: &Parcel,
    operator: &str,
    body: EventBody,
    now: DateTime<Utc>,
) -> Result<OutboxEntry> {
    parcels::save(tx, parcel, now)?;
    Ok(outbox::append(tx, &parcel.barcode, operator, now, body)?)
}

/// Returns the parcel of an action that the rules allow only on known
/// parcels, or an error instead of a panic should that rule ever change.
fn known_or_error(parcel: Option<Parcel>, barcode: &str) -> Result<Parcel> {
    parcel.ok_or_else(|| {
        DeskError::Invalid(format!("parcel {barcode} is unknown to this store: receive it first"))
    })
}

fn apply_plan(parcel: &mut Parcel, plan: Plan) {
    if let Plan::MoveTo(state) = plan {
        parcel.state = state;
    }
}

fn swap_case(text: &str) -> String {
    text.chars()
        .map(
            |c| {
                if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() }
            },
        )
        .collect()
}

/// Checks a barcode typed or scanned by the clerk and returns it trimmed.
pub fn validate_barcode(raw: &str) -> Result<String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(DeskError::Invalid("barcode is empty: scan the parcel label again".to_owned()));
    }
    let length = text.chars().count();
    if length > MAX_BARCODE_LEN {
        return Err(DeskError::Invalid(format!(
            "barcode is {length} characters long, more than {MAX_BARCODE_LEN}: scan the parcel label again"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(DeskError::Invalid(
            "barcode contains control characters: scan the parcel label again".to_owned(),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    if let Some(bad) = text.chars().find(|&c| !allowed(c)) {
        return Err(DeskError::Invalid(format!(
            "barcode contains {bad:?}, which no parcel label has: scan the parcel label again"
        )));
    }
    check_not_other_label(text)?;
    Ok(text.to_owned())
}

/// Fails for text that the counter uses for something other than a parcel:
/// a pickup code, a courier badge or a shelf label. The message leaves a
/// code's digits out, because a code is never shown or logged.
fn check_not_other_label(text: &str) -> Result<()> {
    if text.len() == 6 && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(DeskError::Invalid(
            "barcode has six digits, the shape of a pickup code, not a parcel label: \
             enter codes at hand over, and scan the parcel label here"
                .to_owned(),
        ));
    }
    if courier_from_badge(text).is_some() {
        return Err(DeskError::Invalid(format!(
            "{text} is a courier badge, not a parcel label: scan the parcel label"
        )));
    }
    if text.len() > 6 && text[..6].eq_ignore_ascii_case("SHELF-") {
        return Err(DeskError::Invalid(format!(
            "{text} is a shelf label, not a parcel label: scan the parcel label"
        )));
    }
    Ok(())
}

/// Checks free text: trimmed, at most `max` characters, no control
/// characters. Empty text is `None`.
pub(crate) fn validate_text(what: &str, raw: &str, max: usize) -> Result<Option<String>> {
    let text = raw.trim();
    if text.chars().any(char::is_control) {
        return Err(DeskError::Invalid(format!(
            "{what} contains control characters: type it again"
        )));
    }
    let length = text.chars().count();
    if length > max {
        return Err(DeskError::Invalid(format!(
            "{what} is {length} characters long, more than {max}: shorten it"
        )));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

fn validate_optional_note(note: Option<&str>) -> Result<Option<String>> {
    validate_text("note", note.unwrap_or(""), MAX_NOTE_LEN)
}

/// The figures of the home screen and of `status --json`. Field names are
/// stable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Parcels per state, every state listed.
    pub counts: std::collections::BTreeMap<String, u64>,
    pub expected: u64,
    /// Parcels in the store: received, ready and to be returned.
    pub on_shelf: u64,
    pub ready: u64,
    pub to_return: u64,
    pub queue_depth: u64,
    pub oldest_unsent_age_s: Option<i64>,
    pub quarantined: u64,
    pub conflicts: u64,
    /// Pulled changes skipped because they could not be used.
    pub skipped_changes: u64,
    pub online: bool,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_sync_error: Option<String>,
    /// Id of the signed-in operator.
    pub operator: Option<String>,
    /// Display name of the signed-in operator, for the screen's header.
    pub operator_name: Option<String>,
    pub enrolled: bool,
    pub terminal_id: Option<String>,
    pub store_id: Option<String>,
    pub backend_url: Option<String>,
    pub code_entry_locked_s: Option<u64>,
}

impl Status {
    fn read(desk: &Desk) -> Result<Status> {
        let mut counts: std::collections::BTreeMap<String, u64> =
            ParcelState::ALL.iter().map(|state| (state.as_str().to_owned(), 0)).collect();
        for (state, count) in parcels::count_by_state(&desk.conn)? {
            counts.insert(state.as_str().to_owned(), count);
        }
        let count = |state: ParcelState| counts[state.as_str()];
        let queue = outbox::summary(&desk.conn)?;
        let sync = sync_state::get(&desk.conn)?;
        let credentials = desk.credentials()?;
        let unacknowledged = desk.conflicts()?.iter().filter(|c| !c.acknowledged).count() as u64;
        let operator = desk.current_operator()?;
        Ok(Status {
            expected: count(ParcelState::Expected),
            on_shelf: count(ParcelState::Received)
                + count(ParcelState::Ready)
                + count(ParcelState::ReturnPending),
            ready: count(ParcelState::Ready),
            to_return: count(ParcelState::ReturnPending),
            queue_depth: queue.depth,
            oldest_unsent_age_s: queue
                .oldest_unsent
                .map(|at| (desk.now() - at).num_seconds().max(0)),
            quarantined: queue.quarantined,
            conflicts: unacknowledged,
            skipped_changes: desk.skipped_changes()?.iter().filter(|c| !c.acknowledged).count()
                as u64,
            online: sync.online,
            last_sync_at: sync.last_sync_at,
            last_sync_error: sync.last_error,
            operator_name: operator.as_ref().map(|operator| operator.name.clone()),
            operator: operator.map(|operator| operator.id),
            enrolled: credentials.is_some(),
            terminal_id: credentials.as_ref().map(|c| c.terminal_id.clone()),
            store_id: credentials.as_ref().map(|c| c.store_id.clone()),
            backend_url: credentials.as_ref().map(|c| c.backend_url.clone()),
            code_entry_locked_s: desk.code_lock_remaining()?.map(|left| left.as_secs().max(1)),
            counts,
        })
    }
}

#[cfg(test)]
mod tests;
