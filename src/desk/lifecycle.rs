//! The parcel lifecycle: which clerk action may move a parcel from which
//! state, and what the clerk is told when it may not.
//!
//! ```text
//! expected --receive--> received --code known--> ready --hand over--> handed_over
//!     |                    |  \___________________/  |
//!     +--reject--> rejected|        refuse / overdue / recall
//!                          +------------> return_pending --return--> returned
//! ```
//!
//! A parcel the store does not know can still be received (it is flagged as
//! unexpected) or rejected. Everything here is pure: the desk loads the
//! parcel, asks [`plan`], and only then writes.

use chrono::{DateTime, Duration, Utc};

use crate::store::parcels::{Parcel, ParcelState};

/// A clerk action on one parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Receive,
    Reject,
    HandOver,
    Refuse,
    MarkOverdue,
    Return,
    MoveShelf,
    RequestReissue,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Receive => "received",
            Action::Reject => "rejected",
            Action::HandOver => "handed over",
            Action::Refuse => "refused",
            Action::MarkOverdue => "marked overdue",
            Action::Return => "returned to the courier",
            Action::MoveShelf => "moved to another shelf",
            Action::RequestReissue => "given a new code",
        }
    }
}

/// Effect of an action that the rules allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Move to this state and record an event.
    MoveTo(ParcelState),
    /// Record an event but keep the state.
    Keep,
    /// A repeated receipt: nothing is recorded.
    AlreadyReceived,
}

/// Reason the rules forbid an action, in words for the clerk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parcel {barcode} is {state} and cannot be {verb}: {hint}")]
pub struct Forbidden {
    pub barcode: String,
    pub state: String,
    pub verb: &'static str,
    pub hint: String,
}

/// Facts the rules need besides the parcel.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub now: DateTime<Utc>,
    /// True when a verification code for the parcel is known.
    pub has_code: bool,
    /// How long after a receipt the clerk may still reject the parcel as
    /// damaged, while the courier is at the door.
    pub reject_window: Duration,
}

/// Decides what `action` does to `parcel` (`None`: the store does not know
/// the barcode).
pub fn plan(
    barcode: &str,
    parcel: Option<&Parcel>,
    action: Action,
    context: Context,
) -> Result<Plan, Forbidden> {
    let Some(parcel) = parcel else {
        return plan_unknown(barcode, action, context);
    };
    let state = parcel.state;
    let forbid = |hint: String| Forbidden {
        barcode: barcode.to_owned(),
        state: state_label(parcel),
        verb: action.verb(),
        hint,
    };
    match (action, state) {
        (Action::Receive, ParcelState::Expected) => Ok(Plan::MoveTo(after_receipt(context))),
        (
            Action::Receive,
            ParcelState::Received | ParcelState::Ready | ParcelState::ReturnPending,
        ) => Ok(Plan::AlreadyReceived),
        (Action::Reject, ParcelState::Expected | ParcelState::Cancelled) => {
            Ok(Plan::MoveTo(ParcelState::Rejected))
        }
        (Action::Reject, ParcelState::Received | ParcelState::Ready) => {
            reject_after_receipt(parcel, context).map_err(forbid)
        }
        (Action::HandOver, ParcelState::Ready) => Ok(Plan::MoveTo(ParcelState::HandedOver)),
        (Action::Refuse | Action::MarkOverdue, ParcelState::Received | ParcelState::Ready) => {
            Ok(Plan::MoveTo(ParcelState::ReturnPending))
        }
        (Action::Return, ParcelState::ReturnPending) => Ok(Plan::MoveTo(ParcelState::Returned)),
        (Action::MoveShelf, state) if state.is_on_shelf() => Ok(Plan::Keep),
        (Action::RequestReissue, ParcelState::Received | ParcelState::Ready) => Ok(Plan::Keep),
        (action, _) => Err(forbid(hint(parcel, action))),
    }
}

fn after_receipt(context: Context) -> ParcelState {
    if context.has_code { ParcelState::Ready } else { ParcelState::Received }
}

fn reject_after_receipt(parcel: &Parcel, context: Context) -> Result<Plan, String> {
    let within_window =
        parcel.received_at.is_some_and(|at| context.now - at <= context.reject_window);
    if within_window {
        Ok(Plan::MoveTo(ParcelState::Rejected))
    } else {
        Err(format!(
            "it was received more than {} minutes ago; if the customer refuses it, \
             record a refusal so it goes back to the courier",
            context.reject_window.num_minutes()
        ))
    }
}

fn plan_unknown(barcode: &str, action: Action, context: Context) -> Result<Plan, Forbidden> {
    match action {
        Action::Receive => Ok(Plan::MoveTo(after_receipt(context))),
        Action::Reject => Ok(Plan::MoveTo(ParcelState::Rejected)),
        _ => Err(Forbidden {
            barcode: barcode.to_owned(),
            state: "unknown to this store".to_owned(),
            verb: action.verb(),
            hint: "check the label, or receive the parcel first".to_owned(),
        }),
    }
}

/// Names the state, with the detail that explains it.
pub fn state_label(parcel: &Parcel) -> String {
    match (parcel.state, parcel.reject_reason, parcel.return_cause) {
        (ParcelState::Rejected, Some(reason), _) => {
            format!("rejected ({})", reason.as_str().replace('_', " "))
        }
        (ParcelState::ReturnPending, _, Some(cause)) => {
            format!("to be returned ({})", format!("{cause:?}").to_lowercase())
        }
        (state, _, _) => state.to_string(),
    }
}

fn hint(parcel: &Parcel, action: Action) -> String {
    let when = |time: Option<DateTime<Utc>>| {
        time.map(|time| format!(" on {}", time.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default()
    };
    match (parcel.state, action) {
        (ParcelState::Expected, Action::HandOver | Action::Refuse | Action::RequestReissue) => {
            "it has not been received at this store yet; scan it in first".to_owned()
        }
        (ParcelState::Expected, _) => "receive it first".to_owned(),
        (ParcelState::Received, Action::HandOver) => {
            "no verification code has arrived for it yet; sync, or request a new code".to_owned()
        }
        (ParcelState::Received | ParcelState::Ready, Action::Return) => {
            "it is not marked for return; record a refusal first".to_owned()
        }
        (ParcelState::Rejected, _) => format!(
            "it was rejected at the door{} and went back with the courier",
            when(parcel.received_at.or(parcel.returned_at))
        ),
        (ParcelState::HandedOver, _) => format!(
            "it was handed to the customer{}; check the label of the parcel in hand",
            when(parcel.handed_over_at)
        ),
        (ParcelState::ReturnPending, Action::HandOver) => {
            "it is waiting to go back to the courier; call the mall's customer service if the \
             customer disputes this"
                .to_owned()
        }
        (ParcelState::ReturnPending, _) => {
            "give it back to the courier on the returns screen".to_owned()
        }
        (ParcelState::Returned, _) => {
            format!("it went back to the courier{}", when(parcel.returned_at))
        }
        (ParcelState::Cancelled, _) => {
            "the mall cancelled it; reject it so the courier takes it back".to_owned()
        }
        (ParcelState::Received | ParcelState::Ready, _) => {
            "it is on the shelf; no further action of this kind applies".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parcel(state: ParcelState, received_minutes_ago: Option<i64>) -> Parcel {
        let mut parcel = Parcel::unannounced("JJD0001");
        parcel.unexpected = false;
        parcel.state = state;
        parcel.received_at = received_minutes_ago.map(|minutes| now() - Duration::minutes(minutes));
        parcel
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn context(has_code: bool) -> Context {
        Context { now: now(), has_code, reject_window: Duration::minutes(10) }
    }

    fn outcome(state: ParcelState, action: Action) -> Result<Plan, Forbidden> {
        plan("JJD0001", Some(&parcel(state, Some(1))), action, context(false))
    }

    const ACTIONS: [Action; 8] = [
        Action::Receive,
        Action::Reject,
        Action::HandOver,
        Action::Refuse,
        Action::MarkOverdue,
        Action::Return,
        Action::MoveShelf,
        Action::RequestReissue,
    ];

    /// Every (state, action) pair and what it must give; a pair missing from
    /// this table must be forbidden.
    fn allowed(state: ParcelState, action: Action) -> Option<Plan> {
        use ParcelState::*;
        match (state, action) {
            (Expected, Action::Receive) => Some(Plan::MoveTo(Received)),
            (Expected | Cancelled, Action::Reject) => Some(Plan::MoveTo(Rejected)),
            (Received | Ready | ReturnPending, Action::Receive) => Some(Plan::AlreadyReceived),
            (Received | Ready, Action::Reject) => Some(Plan::MoveTo(Rejected)),
            (Ready, Action::HandOver) => Some(Plan::MoveTo(HandedOver)),
            (Received | Ready, Action::Refuse | Action::MarkOverdue) => {
                Some(Plan::MoveTo(ReturnPending))
            }
            (ReturnPending, Action::Return) => Some(Plan::MoveTo(Returned)),
            (Received | Ready | ReturnPending, Action::MoveShelf) => Some(Plan::Keep),
            (Received | Ready, Action::RequestReissue) => Some(Plan::Keep),
            _ => None,
        }
    }

    #[test]
    fn every_state_and_action_pair() {
        for state in ParcelState::ALL {
            for action in ACTIONS {
                let result = outcome(state, action);
                match allowed(state, action) {
                    Some(expected) => assert_eq!(result, Ok(expected), "{state:?} {action:?}"),
                    None => assert!(result.is_err(), "{state:?} {action:?} must be forbidden"),
                }
            }
        }
    }

    #[test]
    fn receipt_with_known_code_is_ready() {
        let result = plan(
            "JJD0001",
            Some(&parcel(ParcelState::Expected, None)),
            Action::Receive,
            context(true),
        );
        assert_eq!(result, Ok(Plan::MoveTo(ParcelState::Ready)));
    }

    #[test]
    fn unknown_parcel_can_be_received_or_rejected() {
        assert_eq!(
            plan("X1", None, Action::Receive, context(false)),
            Ok(Plan::MoveTo(ParcelState::Received))
        );
        assert_eq!(
            plan("X1", None, Action::Reject, context(false)),
            Ok(Plan::MoveTo(ParcelState::Rejected))
        );
        assert!(plan("X1", None, Action::HandOver, context(false)).is_err());
    }

    #[test]
    fn late_rejection_after_receipt_is_forbidden() {
        let old = parcel(ParcelState::Received, Some(11));
        let error = plan("JJD0001", Some(&old), Action::Reject, context(false)).unwrap_err();
        assert!(error.hint.contains("refusal"), "{error}");
    }

    #[test]
    fn forbidden_message_names_parcel_state_and_remedy() {
        let mut rejected = parcel(ParcelState::Rejected, Some(1));
        rejected.reject_reason = Some(crate::protocol::RejectReason::Crushed);
        let error = plan("JJD0001", Some(&rejected), Action::HandOver, context(false)).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("parcel JJD0001 is rejected (crushed)"), "{message}");
        assert!(message.contains("went back with the courier"), "{message}");
    }

    #[test]
    fn handed_over_parcel_cannot_be_received() {
        let error = outcome(ParcelState::HandedOver, Action::Receive).unwrap_err();
        assert!(error.to_string().contains("handed to the customer"), "{error}");
    }
}
