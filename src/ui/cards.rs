//! Turning desk data into the text that the screens show.

use chrono::{DateTime, Local, Utc};

use super::ParcelCard;
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

/// Returns the state as the counter names it.
pub fn state_text(parcel: &Parcel) -> String {
    match parcel.state {
        ParcelState::Expected => "Expected".to_owned(),
        ParcelState::Received => "On shelf, code not yet sent".to_owned(),
        ParcelState::Ready => "On shelf, ready for pickup".to_owned(),
        ParcelState::Rejected => "Rejected, back with the courier".to_owned(),
        ParcelState::HandedOver => "Handed over".to_owned(),
        ParcelState::ReturnPending => "To return to the courier".to_owned(),
        ParcelState::Returned => "Returned to the courier".to_owned(),
        ParcelState::Cancelled => "Cancelled by the mall".to_owned(),
    }
}

fn or_dash(text: &str) -> String {
    if text.is_empty() { "-".to_owned() } else { text.to_owned() }
}

pub fn card(parcel: &Parcel) -> ParcelCard {
    ParcelCard {
        barcode: parcel.barcode.clone().into(),
        customer: or_dash(&parcel.customer_masked).into(),
        phone_last4: or_dash(&parcel.phone_last4).into(),
        courier: or_dash(&parcel.courier).into(),
        shelf: parcel.shelf.clone().unwrap_or_else(|| "-".to_owned()).into(),
        state_label: state_text(parcel).into(),
    }
}
