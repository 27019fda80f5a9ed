//! Turning desk data into the text that the screens show.

use chrono::{DateTime, Local, Utc};

use super::ParcelCard;
use super::text::{tr, tr_args};
use crate::protocol::RejectReason;
use crate::store::parcels::{Parcel, ParcelState};

/// Formats a time as the clerk's local wall-clock time, with the date when
/// it is not today.
pub fn local_time(time: DateTime<Utc>) -> String {
    let local = time.with_timezone(&Local);
    if local.date_naive() == Local::now().date_naive() {
        local.format("%H:%M").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// Returns the state as the counter names it, with the damage reason of a
/// rejected parcel.
pub fn state_text(parcel: &Parcel) -> String {
    match parcel.state {
        ParcelState::Expected => tr("Expected"),
        ParcelState::Received => tr("On shelf, code not yet sent"),
        ParcelState::Ready => tr("On shelf, ready for pickup"),
        ParcelState::Rejected => match parcel.reject_reason {
            Some(reason) => {
                tr_args("Rejected ({}), back with the courier", &[&reject_reason_text(reason)])
            }
            None => tr("Rejected, back with the courier"),
        },
        ParcelState::HandedOver => tr("Handed over"),
        ParcelState::ReturnPending => tr("To return to the courier"),
        ParcelState::Returned => tr("Returned to the courier"),
        ParcelState::Cancelled => tr("Cancelled by the mall"),
    }
}

/// Returns the damage reason as the reason picker on the receive screen
/// names it, translated.
pub fn reject_reason_text(reason: RejectReason) -> String {
    match reason {
        RejectReason::Crushed => tr("Crushed"),
        RejectReason::Wet => tr("Wet"),
        RejectReason::Torn => tr("Torn"),
        RejectReason::Opened => tr("Opened"),
        RejectReason::WrongAddress => tr("Wrong address"),
        RejectReason::Other => tr("Other"),
    }
}

/// Returns an outbox event kind (`EventBody::kind`) as the clerk reads it:
/// the wire name with spaces, translated.
pub fn event_kind_text(kind: &str) -> String {
    match kind {
        "received" => tr("received"),
        "rejected" => tr("rejected"),
        "handed_over" => tr("handed over"),
        "return_pending" => tr("return pending"),
        "returned" => tr("returned"),
        "shelf_changed" => tr("shelf changed"),
        "code_reissue_requested" => tr("code reissue requested"),
        "drop_closed" => tr("drop closed"),
        "return_session_closed" => tr("return session closed"),
        "stocktake_closed" => tr("stocktake closed"),
        other => other.replace('_', " "),
    }
}

fn or_dash(text: &str) -> String {
    if text.is_empty() { "-".to_owned() } else { text.to_owned() }
}

/// Builds the card of a parcel. A rejected or returned parcel went back with
/// the courier, so its card shows no shelf even when it had one.
pub fn card(parcel: &Parcel) -> ParcelCard {
    let shelf = match parcel.state {
        ParcelState::Rejected | ParcelState::Returned => String::new(),
        _ => parcel.shelf.clone().unwrap_or_else(|| "-".to_owned()),
    };
    ParcelCard {
        barcode: parcel.barcode.clone().into(),
        customer: or_dash(&parcel.customer_masked).into(),
        phone_last4: or_dash(&parcel.phone_last4).into(),
        courier: or_dash(&parcel.courier).into(),
        shelf: shelf.into(),
        state_label: state_text(parcel).into(),
    }
}
