//! Applying a pushed batch of clerk events: at most once per event id, in
//! seq order, all in one transaction.

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::changes;
use super::codes::{CodeIssuer, SmsMessage, release_codes};
use super::db::format_time;
use super::enrol::Terminal;
use super::error::ApiFailure;
use super::parcels::{self, ParcelRecord, ParcelState};
use super::sessions;
use crate::protocol::{Change, Event, EventBody, EventOutcome, EventResult};

/// Collection period given to a received parcel that has no deadline yet.
pub const DEFAULT_HOLD_DAYS: i64 = 7;

/// Maximum length of a shelf label, in characters.
const MAX_SHELF_CHARS: usize = 64;

/// Outcome of a rule: `Err` contains the reason for a permanent rejection.
type Verdict = Result<(), String>;

/// Applies a batch from `terminal` and returns one result per event, in the
/// order sent. Events are applied in seq order; an event id seen before gets
/// its earlier outcome again (`duplicate`, or the same rejection).
///
/// Fails, applying nothing, with 403 when an event names another terminal or
/// a barcode of another store's manifest, with 409 `seq_behind` when the
/// first event not seen before has a seq at or below the terminal's last
/// applied seq, and with 500 when the database or the SMS gateway fails.
pub fn apply_batch(
    conn: &mut Connection,
    issuer: &CodeIssuer<'_>,
    terminal: &Terminal,
    events: &[Event],
    now: DateTime<Utc>,
) -> Result<Vec<EventResult>, ApiFailure> {
    check_terminal_ids(terminal, events)?;
    let tx = conn.transaction()?;
    check_foreign_barcodes(&tx, terminal, events)?;

    let mut last_seq: i64 = tx.query_row(
        "SELECT last_seq FROM terminals WHERE terminal_id = ?1",
        [&terminal.terminal_id],
        |row| row.get(0),
    )?;
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&index| events[index].seq);
    check_seq_ahead(&tx, terminal, events, &order, last_seq)?;

    let mut outcomes = vec![EventOutcome::Duplicate; events.len()];
    let context = Context { tx: &tx, issuer, terminal, now };
    for index in order {
        outcomes[index] = context.apply_once(&events[index], &mut last_seq)?;
    }
    tx.execute(
        "UPDATE terminals SET last_seq = ?2 WHERE terminal_id = ?1",
        (&terminal.terminal_id, last_seq),
    )?;
    tx.commit()?;

    let results = events
        .iter()
        .zip(outcomes)
        .map(|(event, outcome)| EventResult { event_id: event.event_id, outcome })
        .collect();
    Ok(results)
}

/// Fails with 409 `seq_behind` when the lowest-seq event that was never
/// recorded has a seq at or below `last_seq`. That happens when the terminal
/// lost its database (deleted, or restored from an old copy) and numbers
/// from 1 again. The response carries `last_seq` so the terminal can number
/// its unsent events above it and push them again. Events seen before are
/// recognised by their id, whatever their seq, so none is applied twice.
fn check_seq_ahead(
    conn: &Connection,
    terminal: &Terminal,
    events: &[Event],
    order: &[usize],
    last_seq: i64,
) -> Result<(), ApiFailure> {
    let mut known = conn.prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?;
    for &index in order {
        let event = &events[index];
        if known.exists([event.event_id.to_string()])? {
            continue;
        }
        if event.seq > last_seq {
            return Ok(());
        }
        tracing::warn!(
            terminal_id = terminal.terminal_id,
            seq = event.seq,
            last_seq,
            "push rejected: seq behind the last applied one"
        );
        let mut failure = ApiFailure::new(
            axum::http::StatusCode::CONFLICT,
            "seq_behind",
            format!(
                "event seq {} is not after {last_seq}, the last seq applied for terminal {}; \
                 number the unsent events above {last_seq} and push them again",
                event.seq, terminal.terminal_id
            ),
        );
        failure.last_seq = Some(last_seq);
        return Err(failure);
    }
    Ok(())
}

fn check_terminal_ids(terminal: &Terminal, events: &[Event]) -> Result<(), ApiFailure> {
    let foreign: Vec<Uuid> = events
        .iter()
        .filter(|event| event.terminal_id != terminal.terminal_id)
        .map(|event| event.event_id)
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    tracing::warn!(
        terminal_id = terminal.terminal_id,
        events = foreign.len(),
        "push rejected: events name another terminal"
    );
    Err(ApiFailure::new(
        axum::http::StatusCode::FORBIDDEN,
        "wrong_terminal",
        format!(
            "{} event(s) name another terminal than {}, the owner of this token; nothing was applied",
            foreign.len(),
            terminal.terminal_id
        ),
    )
    .with_event_ids(foreign))
}

/// Fails with 403 when an event's barcode is in another store's manifest and
/// not in this store's.
fn check_foreign_barcodes(
    conn: &Connection,
    terminal: &Terminal,
    events: &[Event],
) -> Result<(), ApiFailure> {
    let mut foreign = Vec::new();
    for event in events {
        if parcels::find(conn, &terminal.store_id, &event.barcode)?.is_some() {
            continue;
        }
        if !parcels::other_stores_with(conn, &terminal.store_id, &event.barcode)?.is_empty() {
            foreign.push(event.event_id);
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    tracing::warn!(
        terminal_id = terminal.terminal_id,
        events = foreign.len(),
        "push rejected: events name parcels of another store"
    );
    Err(ApiFailure::new(
        axum::http::StatusCode::FORBIDDEN,
        "foreign_parcel",
        format!(
            "{} event(s) are about parcels of another store than {}; nothing was applied",
            foreign.len(),
            terminal.store_id
        ),
    )
    .with_event_ids(foreign))
}

/// The transaction and facts every rule needs.
struct Context<'a> {
    tx: &'a Connection,
    issuer: &'a CodeIssuer<'a>,
    terminal: &'a Terminal,
    /// The server's receive time of the batch.
    now: DateTime<Utc>,
}

impl Context<'_> {
    /// Applies one event unless its id was recorded before, records it with
    /// its outcome, and returns the outcome.
    fn apply_once(&self, event: &Event, last_seq: &mut i64) -> anyhow::Result<EventOutcome> {
        if let Some(earlier) = self.recorded_outcome(event.event_id)? {
            return Ok(earlier);
        }
        let verdict = if event.seq <= *last_seq {
            Err(format!(
                "seq {} is not after {}, the last seq recorded for terminal {}",
                event.seq, last_seq, self.terminal.terminal_id
            ))
        } else {
            *last_seq = event.seq;
            self.apply_rules(event)?
        };
        self.record(event, &verdict)?;
        Ok(match verdict {
            Ok(()) => EventOutcome::Accepted,
            Err(reason) => EventOutcome::Rejected { reason },
        })
    }

    fn recorded_outcome(&self, event_id: Uuid) -> rusqlite::Result<Option<EventOutcome>> {
        let row = self
            .tx
            .prepare_cached("SELECT outcome, reason FROM events WHERE event_id = ?1")?
            .query_row([event_id.to_string()], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
            })
            .optional()?;
        Ok(row.map(|(outcome, reason)| match outcome.as_str() {
            "rejected" => EventOutcome::Rejected { reason: reason.unwrap_or_default() },
            _ => EventOutcome::Duplicate,
        }))
    }

    fn record(&self, event: &Event, verdict: &Verdict) -> anyhow::Result<()> {
        let (outcome, reason) = match verdict {
            Ok(()) => ("accepted", None),
            Err(reason) => ("rejected", Some(reason.as_str())),
        };
        self.tx.prepare_cached(
            "INSERT INTO events (event_id, terminal_id, store_id, seq, kind, barcode, operator_id,
                 body, device_time, server_time, outcome, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(rusqlite::params![
            event.event_id.to_string(),
            self.terminal.terminal_id,
            self.terminal.store_id,
            event.seq,
            event.body.kind(),
            event.barcode,
            event.operator_id,
            serde_json::to_string(event)?,
            format_time(event.device_time),
            format_time(self.now),
            outcome,
            reason,
        ])?;
        if let Err(reason) = verdict {
            tracing::info!(
                terminal_id = self.terminal.terminal_id,
                event_id = %event.event_id,
                reason,
                "event rejected"
            );
        }
        Ok(())
    }

    fn apply_rules(&self, event: &Event) -> anyhow::Result<Verdict> {
        if event.body.is_session() {
            return Ok(sessions::check_session_event(event));
        }
        if let Err(reason) = parcels::check_barcode(&event.barcode) {
            return Ok(Err(reason));
        }
        if let Err(reason) = check_event_text(event) {
            return Ok(Err(reason));
        }
        if event.seq < 1 {
            return Ok(Err(format!("seq {} is invalid: sequence numbers start at 1", event.seq)));
        }
        let store_id = &self.terminal.store_id;
        let Some(parcel) = parcels::find(self.tx, store_id, &event.barcode)? else {
            return self.apply_to_unknown(event);
        };
        match &event.body {
            EventBody::Received { shelf, .. } => self.receive(&parcel, event, shelf.as_deref()),
            EventBody::Rejected { photo_jpeg, .. } => match sessions::check_photo(photo_jpeg) {
                Ok(()) => self.reject(&parcel),
                Err(reason) => Ok(Err(reason)),
            },
            EventBody::HandedOver => self.hand_over(&parcel, event),
            EventBody::ReturnPending { .. } => self.move_to(
                &parcel,
                &[ParcelState::Received, ParcelState::Recalled],
                ParcelState::ReturnPending,
            ),
            EventBody::Returned { .. } => self.move_to(
                &parcel,
                &[ParcelState::ReturnPending, ParcelState::Recalled, ParcelState::Received],
                ParcelState::Returned,
            ),
            EventBody::ShelfChanged { shelf } => self.change_shelf(&parcel, shelf),
            EventBody::CodeReissueRequested => self.reissue(&parcel),
            EventBody::DropClosed { .. }
            | EventBody::ReturnSessionClosed { .. }
            | EventBody::StocktakeClosed { .. } => Ok(Ok(())),
        }
    }

    /// Handles an event for a barcode that no manifest has: a receipt or a
    /// rejection at the door creates the parcel as unexpected.
    fn apply_to_unknown(&self, event: &Event) -> anyhow::Result<Verdict> {
        let store_id = &self.terminal.store_id;
        match &event.body {
            EventBody::Received { shelf, .. } => {
                let shelf = shelf.as_deref();
                if let Err(reason) = check_shelf(shelf) {
                    return Ok(Err(reason));
                }
                parcels::insert_unexpected(
                    self.tx,
                    store_id,
                    &event.barcode,
                    ParcelState::Received,
                    shelf,
                    self.now,
                )?;
                let parcel = parcels::find(self.tx, store_id, &event.barcode)?
                    .expect("the parcel was inserted in this transaction");
                self.flag_unexpected(&parcel, event)?;
                Ok(Ok(()))
            }
            EventBody::Rejected { photo_jpeg, .. } => {
                if let Err(reason) = sessions::check_photo(photo_jpeg) {
                    return Ok(Err(reason));
                }
                parcels::insert_unexpected(
                    self.tx,
                    store_id,
                    &event.barcode,
                    ParcelState::Rejected,
                    None,
                    self.now,
                )?;
                Ok(Ok(()))
            }
            other => Ok(Err(format!(
                "unknown parcel {}: it is not in the manifest of store {store_id} and was never \
                 received there, so it cannot be {}",
                event.barcode,
                past_tense(other)
            ))),
        }
    }

    fn receive(
        &self,
        parcel: &ParcelRecord,
        event: &Event,
        shelf: Option<&str>,
    ) -> anyhow::Result<Verdict> {
        if let Err(reason) = check_shelf(shelf) {
            return Ok(Err(reason));
        }
        match parcel.state {
            ParcelState::Announced | ParcelState::Rejected => {
                parcels::set_state(self.tx, parcel, ParcelState::Received, shelf, self.now)?;
                if parcel.unexpected {
                    self.flag_unexpected(parcel, event)?;
                } else {
                    self.issue_first_code(parcel)?;
                }
                Ok(Ok(()))
            }
            ParcelState::Cancelled => {
                // The parcel is physically here, so the receipt is kept. It
                // must go back, so it gets no code, and the conflict message
                // gives the terminal the reason.
                parcels::set_state(self.tx, parcel, ParcelState::Recalled, shelf, self.now)?;
                let reason = "order cancelled by the mall";
                self.tx.execute(
                    "UPDATE parcels SET recall_reason = ?3 WHERE store_id = ?1 AND barcode = ?2",
                    (&parcel.store_id, &parcel.barcode, reason),
                )?;
                let recalled = Change::ParcelRecalled {
                    barcode: parcel.barcode.clone(),
                    reason: reason.into(),
                };
                changes::append(self.tx, &parcel.store_id, None, &recalled, self.now)?;
                let message = format!(
                    "parcel {} was received after the mall cancelled its order; return it to the courier",
                    parcel.barcode
                );
                parcels::record_conflict(
                    self.tx,
                    parcel,
                    Some(event.event_id),
                    &message,
                    self.now,
                )?;
                Ok(Ok(()))
            }
            other => Ok(Err(format!(
                "parcel {} is already {}; a parcel is received only once",
                parcel.barcode,
                other.as_str()
            ))),
        }
    }

    /// Rejects a parcel at the door. The terminal also rejects a parcel
    /// found damaged just after its receipt, whose code the customer has
    /// been texted already. That code is revoked and the customer is texted.
    fn reject(&self, parcel: &ParcelRecord) -> anyhow::Result<Verdict> {
        let from = [ParcelState::Announced, ParcelState::Cancelled, ParcelState::Received];
        let verdict = self.move_to(parcel, &from, ParcelState::Rejected)?;
        let texted = parcel.state == ParcelState::Received && parcel.phone_last4.is_some();
        if verdict.is_ok() && texted {
            let message = SmsMessage {
                store_id: parcel.store_id.clone(),
                barcode: parcel.barcode.clone(),
                phone_last4: parcel.phone_last4.clone(),
                text: format!(
                    "Your parcel {} arrived damaged at store {} and goes back to the sender. \
                     Its pickup code no longer unlocks it.",
                    parcel.barcode, parcel.store_id
                ),
                created_at: self.now,
            };
            self.issuer.sms.send(self.tx, &message).context("failed to text the rejection")?;
        }
        Ok(verdict)
    }

    fn hand_over(&self, parcel: &ParcelRecord, event: &Event) -> anyhow::Result<Verdict> {
        match parcel.state {
            ParcelState::Received => {
                parcels::set_state(self.tx, parcel, ParcelState::Collected, None, self.now)?;
                release_codes(self.tx, &parcel.store_id, &parcel.barcode, self.now)?;
                Ok(Ok(()))
            }
            ParcelState::Recalled => {
                // The customer has the parcel, so the handover is kept and
                // the clash with the recall goes to the mall and terminals.
                parcels::set_state(self.tx, parcel, ParcelState::Collected, None, self.now)?;
                release_codes(self.tx, &parcel.store_id, &parcel.barcode, self.now)?;
                let reason =
                    parcel.recall_reason.as_deref().unwrap_or(parcels::DEFAULT_RECALL_REASON);
                let message = format!(
                    "parcel {} was handed over after the mall recalled it ({reason})",
                    parcel.barcode
                );
                parcels::record_conflict(
                    self.tx,
                    parcel,
                    Some(event.event_id),
                    &message,
                    self.now,
                )?;
                Ok(Ok(()))
            }
            other => Ok(Err(format!(
                "parcel {} is {}, not on the shelf, so it cannot be handed over",
                parcel.barcode,
                other.as_str()
            ))),
        }
    }

    /// Moves the parcel to `to` when it is in one of `from`, revoking its
    /// codes when it leaves the shelf. A code shared with other parcels of
    /// the order stays live while one of them is on the shelf.
    fn move_to(
        &self,
        parcel: &ParcelRecord,
        from: &[ParcelState],
        to: ParcelState,
    ) -> anyhow::Result<Verdict> {
        if !from.contains(&parcel.state) {
            return Ok(Err(format!(
                "parcel {} is {}, so it cannot become {}",
                parcel.barcode,
                parcel.state.as_str(),
                to.as_str()
            )));
        }
        parcels::set_state(self.tx, parcel, to, None, self.now)?;
        release_codes(self.tx, &parcel.store_id, &parcel.barcode, self.now)?;
        Ok(Ok(()))
    }

    fn change_shelf(&self, parcel: &ParcelRecord, shelf: &str) -> anyhow::Result<Verdict> {
        if let Err(reason) = check_shelf(Some(shelf)) {
            return Ok(Err(reason));
        }
        let at_store = [ParcelState::Received, ParcelState::Recalled, ParcelState::ReturnPending];
        if !at_store.contains(&parcel.state) {
            return Ok(Err(format!(
                "parcel {} is {}, not at the store, so it has no shelf",
                parcel.barcode,
                parcel.state.as_str()
            )));
        }
        parcels::set_state(self.tx, parcel, parcel.state, Some(shelf), self.now)?;
        Ok(Ok(()))
    }

    fn reissue(&self, parcel: &ParcelRecord) -> anyhow::Result<Verdict> {
        if parcel.unexpected {
            return Ok(Err(format!(
                "parcel {} is in no manifest, so there is no customer to send a code to",
                parcel.barcode
            )));
        }
        if parcel.state != ParcelState::Received {
            return Ok(Err(format!(
                "parcel {} is {}; only received parcels get a new code",
                parcel.barcode,
                parcel.state.as_str()
            )));
        }
        self.issuer.issue(self.tx, &parcels::shelf_code_target(self.tx, parcel)?, self.now)?;
        Ok(Ok(()))
    }

    /// Records a parcel that no manifest announced. It has no customer, so
    /// no code is issued or texted. It gets the default collection period,
    /// so it falls due for return, and a conflict, so the terminal lists it
    /// as a problem for the mall to settle.
    fn flag_unexpected(&self, parcel: &ParcelRecord, event: &Event) -> anyhow::Result<()> {
        let deadline = self.now + Duration::days(DEFAULT_HOLD_DAYS);
        parcels::set_deadline(self.tx, parcel, deadline, self.now)?;
        let message = format!(
            "parcel {} is in no manifest, so it has no customer and no code; \
             keep it apart and ask the mall who it is for",
            parcel.barcode
        );
        parcels::record_conflict(self.tx, parcel, Some(event.event_id), &message, self.now)
    }

    /// Issues the code of a newly received parcel and gives it the default
    /// collection period when the mall set no deadline. A parcel of an order
    /// with several parcels gets its code only once no parcel of the order
    /// is still to arrive, and then one code unlocks all of them that are
    /// on the shelf; the customer gets one text.
    fn issue_first_code(&self, parcel: &ParcelRecord) -> anyhow::Result<()> {
        let order = parcels::order_parcels(self.tx, parcel)?;
        let still_coming = order
            .iter()
            .any(|mate| mate.barcode != parcel.barcode && mate.state == ParcelState::Announced);
        if !still_coming {
            let target = parcels::shelf_code_target(self.tx, parcel)?;
            self.issuer.issue(self.tx, &target, self.now)?;
        }
        if parcel.deadline.is_none() {
            let deadline = self.now + Duration::days(DEFAULT_HOLD_DAYS);
            parcels::set_deadline(self.tx, parcel, deadline, self.now)?;
        }
        Ok(())
    }
}

/// Maximum length of an event's operator id and courier id, in characters.
const MAX_ID_CHARS: usize = 64;
/// Maximum length of an event's note, in characters; the terminal's own
/// limit on notes.
const MAX_NOTE_CHARS: usize = 200;

/// Checks the free text of an event: the operator id, notes and courier
/// id are bounded in length and free of control characters, so a terminal
/// cannot store arbitrary text in the mall's records.
fn check_event_text(event: &Event) -> Result<(), String> {
    let (note, courier) = match &event.body {
        EventBody::Rejected { note, .. } | EventBody::ReturnPending { note, .. } => {
            (note.as_deref(), None)
        }
        EventBody::Returned { courier_id } => (None, courier_id.as_deref()),
        _ => (None, None),
    };
    let fields = [
        ("operator_id", Some(event.operator_id.as_str()), MAX_ID_CHARS),
        ("note", note, MAX_NOTE_CHARS),
        ("courier_id", courier, MAX_ID_CHARS),
    ];
    for (name, value, max) in fields {
        let Some(value) = value else { continue };
        if value.chars().count() > max {
            return Err(format!("{name} is longer than {max} characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("{name} contains control characters"));
        }
    }
    Ok(())
}

fn check_shelf(shelf: Option<&str>) -> Result<(), String> {
    match shelf {
        Some(shelf) if shelf.chars().count() > MAX_SHELF_CHARS => {
            Err(format!("shelf label is longer than {MAX_SHELF_CHARS} characters"))
        }
        Some(shelf) if shelf.chars().any(char::is_control) => {
            Err("shelf label contains control characters".to_owned())
        }
        _ => Ok(()),
    }
}

fn past_tense(body: &EventBody) -> &'static str {
    match body {
        EventBody::Received { .. } => "received",
        EventBody::Rejected { .. } => "rejected",
        EventBody::HandedOver => "handed over",
        EventBody::ReturnPending { .. } => "marked for return",
        EventBody::Returned { .. } => "returned",
        EventBody::ShelfChanged { .. } => "moved to another shelf",
        EventBody::CodeReissueRequested => "given a new code",
        EventBody::DropClosed { .. }
        | EventBody::ReturnSessionClosed { .. }
        | EventBody::StocktakeClosed { .. } => "recorded as a counter session",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::backend::codes::{CodeSecret, OutboxGateway, SmsGateway, SmsMessage};
    use crate::backend::{db, enrol, seed};
    use crate::protocol::RejectReason;

    /// Sends `working` messages through the outbox, then fails every send.
    struct FailingGateway {
        working: usize,
        sent: AtomicUsize,
    }

    impl SmsGateway for FailingGateway {
        fn send(&self, conn: &Connection, message: &SmsMessage) -> anyhow::Result<()> {
            if self.sent.fetch_add(1, Ordering::SeqCst) >= self.working {
                anyhow::bail!("gateway unreachable");
            }
            OutboxGateway.send(conn, message)
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        conn: Connection,
        secret: CodeSecret,
        terminal: Terminal,
        next_seq: i64,
    }

    impl Fixture {
        fn new(parcels: usize) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("mall.db");
            seed::seed(&path, "S1", parcels, 1).unwrap();
            let conn = db::open(&path).unwrap();
            let secret = CodeSecret::load_or_create(&dir.path().join("secret")).unwrap();
            let token = enrol::create_token(&conn, "S1", Utc::now()).unwrap();
            let issuer = CodeIssuer { secret: &secret, sms: &OutboxGateway };
            let enrolled = enrol::enroll(&conn, &issuer, &token, Utc::now()).unwrap();
            let terminal =
                Terminal { terminal_id: enrolled.terminal_id, store_id: enrolled.store_id };
            Fixture { _dir: dir, conn, secret, terminal, next_seq: 1 }
        }

        fn event(&mut self, barcode: &str, body: EventBody) -> Event {
            self.next_seq += 1;
            Event {
                event_id: Uuid::new_v4(),
                terminal_id: self.terminal.terminal_id.clone(),
                seq: self.next_seq - 1,
                device_time: Utc::now(),
                operator_id: "clerk".into(),
                barcode: barcode.into(),
                body,
            }
        }

        fn push_with(
            &mut self,
            sms: &dyn SmsGateway,
            events: &[Event],
        ) -> Result<Vec<EventResult>, ApiFailure> {
            let issuer = CodeIssuer { secret: &self.secret, sms };
            apply_batch(&mut self.conn, &issuer, &self.terminal, events, Utc::now())
        }

        fn push(&mut self, events: &[Event]) -> Vec<EventOutcome> {
            let results = self.push_with(&OutboxGateway, events).unwrap();
            results.into_iter().map(|result| result.outcome).collect()
        }

        fn count(&self, table: &str) -> i64 {
            self.conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get(0))
                .unwrap()
        }

        fn state(&self, barcode: &str) -> ParcelState {
            parcels::find(&self.conn, "S1", barcode).unwrap().unwrap().state
        }
    }

    fn received() -> EventBody {
        EventBody::Received { unexpected: false, shelf: Some("B2".into()) }
    }

    #[test]
    fn failing_sms_rolls_back_batch() {
        let mut fixture = Fixture::new(3);
        let events: Vec<_> = ["JJD0001", "JJD0002", "JJD0003"]
            .iter()
            .map(|b| fixture.event(b, received()))
            .collect();
        let changes_before = fixture.count("changes");
        let gateway = FailingGateway { working: 2, sent: AtomicUsize::new(0) };

        let err = fixture.push_with(&gateway, &events).unwrap_err();

        assert_eq!(err.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(fixture.count("events"), 0);
        assert_eq!(fixture.count("sms_outbox"), 0);
        assert_eq!(fixture.count("codes"), 0);
        assert_eq!(fixture.count("changes"), changes_before);
        assert_eq!(fixture.state("JJD0001"), ParcelState::Announced);
    }

    #[test]
    fn rolled_back_batch_applies_on_resend() {
        let mut fixture = Fixture::new(1);
        let events = [fixture.event("JJD0001", received())];
        let gateway = FailingGateway { working: 0, sent: AtomicUsize::new(0) };
        fixture.push_with(&gateway, &events).unwrap_err();

        let outcomes = fixture.push(&events);

        assert_eq!(outcomes, vec![EventOutcome::Accepted]);
    }

    #[test]
    fn rejected_at_door_then_received() {
        let mut fixture = Fixture::new(1);
        let rejection = fixture.event(
            "JJD0001",
            EventBody::Rejected { reason: RejectReason::Wet, note: None, photo_jpeg: None },
        );
        let receipt = fixture.event("JJD0001", received());

        let outcomes = fixture.push(&[rejection, receipt]);

        assert_eq!(outcomes, vec![EventOutcome::Accepted; 2]);
        assert_eq!(fixture.state("JJD0001"), ParcelState::Received);
    }

    #[test]
    fn rejection_after_receipt_revokes_code() {
        let mut fixture = Fixture::new(1);
        let receipt = fixture.event("JJD0001", received());
        let rejection = fixture.event(
            "JJD0001",
            EventBody::Rejected { reason: RejectReason::Crushed, note: None, photo_jpeg: None },
        );

        let outcomes = fixture.push(&[receipt, rejection]);

        assert_eq!(outcomes, vec![EventOutcome::Accepted; 2]);
        assert_eq!(fixture.state("JJD0001"), ParcelState::Rejected);
        assert_eq!(fixture.count("codes"), 1);
        assert_eq!(fixture.count("codes WHERE revoked_at IS NULL"), 0, "the code still works");
        assert_eq!(fixture.count("changes WHERE body LIKE '%code_revoked%'"), 1);
        let texts: Vec<String> = fixture
            .conn
            .prepare("SELECT text FROM sms_outbox ORDER BY sms_id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts[1].contains("no longer unlocks"), "{}", texts[1]);
    }

    #[test]
    fn second_receipt_is_rejected() {
        let mut fixture = Fixture::new(1);
        let first = fixture.event("JJD0001", received());
        let second = fixture.event("JJD0001", received());

        let outcomes = fixture.push(&[first, second]);

        assert_eq!(outcomes[0], EventOutcome::Accepted);
        assert!(matches!(&outcomes[1], EventOutcome::Rejected { reason }
                if reason.contains("already received")));
    }

    #[test]
    fn receipt_after_cancellation_is_conflict() {
        let mut fixture = Fixture::new(1);
        let parcel = parcels::find(&fixture.conn, "S1", "JJD0001").unwrap().unwrap();
        parcels::recall(&fixture.conn, &parcel, "order cancelled", Utc::now()).unwrap();
        let receipt = fixture.event("JJD0001", received());

        let outcomes = fixture.push(&[receipt]);

        assert_eq!(outcomes, vec![EventOutcome::Accepted]);
        assert_eq!(fixture.state("JJD0001"), ParcelState::Recalled);
        assert_eq!(fixture.count("conflicts"), 1);
        assert_eq!(fixture.count("codes"), 0, "a cancelled parcel gets no code");
    }

    #[test]
    fn return_flow_revokes_code() {
        let mut fixture = Fixture::new(1);
        let receipt = fixture.event("JJD0001", received());
        let pending = fixture.event(
            "JJD0001",
            EventBody::ReturnPending { cause: crate::protocol::ReturnCause::Refused, note: None },
        );
        let returned = fixture.event("JJD0001", EventBody::Returned { courier_id: None });

        let outcomes = fixture.push(&[receipt, pending, returned]);

        assert_eq!(outcomes, vec![EventOutcome::Accepted; 3]);
        assert_eq!(fixture.state("JJD0001"), ParcelState::Returned);
        let live: i64 = fixture
            .conn
            .query_row("SELECT COUNT(*) FROM codes WHERE revoked_at IS NULL", [], |row| row.get(0))
            .unwrap();
        assert_eq!(live, 0);
    }

    #[test]
    fn shelf_change_moves_parcel() {
        let mut fixture = Fixture::new(1);
        let receipt = fixture.event("JJD0001", received());
        let moved = fixture.event("JJD0001", EventBody::ShelfChanged { shelf: "C3".into() });

        fixture.push(&[receipt, moved]);

        let parcel = parcels::find(&fixture.conn, "S1", "JJD0001").unwrap().unwrap();
        assert_eq!(parcel.shelf.as_deref(), Some("C3"));
    }

    #[test]
    fn other_terminal_id_is_forbidden() {
        let mut fixture = Fixture::new(1);
        let mut event = fixture.event("JJD0001", received());
        event.terminal_id = "S1-T99".into();

        let err = fixture.push_with(&OutboxGateway, std::slice::from_ref(&event)).unwrap_err();

        assert_eq!(err.code, "wrong_terminal");
        assert_eq!(err.event_ids, vec![event.event_id]);
    }

    #[test]
    fn live_codes_stay_unique() {
        let mut fixture = Fixture::new(300);
        let barcodes: Vec<String> = (1..=300).map(|n| format!("JJD{n:04}")).collect();
        let events: Vec<_> = barcodes.iter().map(|b| fixture.event(b, received())).collect();
        fixture.push(&events);

        let distinct: i64 = fixture
            .conn
            .query_row(
                "SELECT COUNT(DISTINCT lookup_hash) FROM codes WHERE revoked_at IS NULL",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(distinct, 300);
    }
}
