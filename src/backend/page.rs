//! The server-rendered admin page. Every value from the database goes
//! through [`escape`], and every value in an address through
//! [`percent_encode`].

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use super::inspect::{ConflictRecord, EventRecord, SmsRecord, StoreRecord};
use super::parcels::{ParcelRecord, ParcelState};
use super::server::percent_encode;

/// Newest rows shown of the event list and of the SMS outbox.
const MAX_ROWS: usize = 500;

/// Everything the admin page shows.
pub struct Overview {
    pub stores: Vec<StoreRecord>,
    pub parcels: Vec<ParcelRecord>,
    pub events: Vec<EventRecord>,
    pub sms: Vec<SmsRecord>,
    pub conflicts: Vec<ConflictRecord>,
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

fn time(value: DateTime<Utc>) -> String {
    escape(&value.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn optional(value: Option<&str>) -> String {
    value.map(escape).unwrap_or_else(|| "&ndash;".to_string())
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin-bottom:2em}\
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}form{display:inline;margin:0}\
.collected,.accepted{color:#060}.rejected,.recalled,.cancelled{color:#a00}";

/// Renders the admin page. `token` goes into the forms' addresses so their
/// posts are authorised like the page itself.
pub fn render(overview: &Overview, token: &str, now: DateTime<Utc>) -> String {
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(html, "<title>Mall backend admin</title><style>{STYLE}</style></head><body>");
    let _ = write!(html, "<h1>Mall backend admin</h1><p>Rendered at {}.</p>", time(now));
    render_stores(&mut html, &overview.stores, token);
    render_parcels(&mut html, &overview.parcels, token);
    render_sms(&mut html, &overview.sms);
    render_events(&mut html, &overview.events);
    render_conflicts(&mut html, &overview.conflicts);
    html.push_str("</body></html>\n");
    html
}

fn form_action(path: &str, token: &str, store: Option<&str>) -> String {
    let mut action = format!("{path}?token={}", percent_encode(token));
    if let Some(store) = store {
        let _ = write!(action, "&store={}", percent_encode(store));
    }
    escape(&action)
}

fn render_stores(html: &mut String, stores: &[StoreRecord], token: &str) {
    let _ = write!(html, "<h2>Stores ({})</h2>", stores.len());
    html.push_str(
        "<table><tr><th>Store</th><th>Terminals</th><th>Parcels</th><th>Created</th><th></th></tr>",
    );
    for store in stores {
        let action = form_action(
            &format!("/admin/stores/{}/enrolments", percent_encode(&store.store_id)),
            token,
            None,
        );
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><form method=\"post\" action=\"{action}\">\
             <button>New enrolment token</button></form></td></tr>",
            escape(&store.store_id),
            store.terminals,
            store.parcels,
            time(store.created_at),
        );
    }
    html.push_str("</table>");
}

fn render_parcels(html: &mut String, parcels: &[ParcelRecord], token: &str) {
    let _ = write!(html, "<h2>Parcels ({})</h2>", parcels.len());
    html.push_str(
        "<table><tr><th>Store</th><th>Barcode</th><th>State</th><th>Customer</th><th>Phone</th>\
         <th>Courier</th><th>Shelf</th><th>Deadline</th><th>Order</th><th>Actions</th></tr>",
    );
    for parcel in parcels {
        let state = parcel.state.as_str();
        let mut state_text = escape(state);
        if parcel.unexpected {
            state_text.push_str(" (unexpected)");
        }
        if let Some(reason) = &parcel.recall_reason {
            let _ = write!(state_text, "<br>{}", escape(reason));
        }
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"{state}\">{state_text}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&parcel.store_id),
            escape(&parcel.barcode),
            escape(&parcel.customer_masked),
            optional(parcel.phone_last4.as_deref().map(|last4| format!("…{last4}")).as_deref()),
            escape(&parcel.courier),
            optional(parcel.shelf.as_deref()),
            parcel.deadline.map(time).unwrap_or_else(|| "&ndash;".into()),
            escape(&parcel.order_id),
            parcel_actions(parcel, token),
        );
    }
    html.push_str("</table>");
}

fn parcel_actions(parcel: &ParcelRecord, token: &str) -> String {
    let base = format!("/admin/parcels/{}", percent_encode(&parcel.barcode));
    let store = Some(parcel.store_id.as_str());
    let mut actions = String::new();
    if matches!(
        parcel.state,
        ParcelState::Announced | ParcelState::Received | ParcelState::ReturnPending
    ) {
        let action = form_action(&format!("{base}/recall"), token, store);
        let _ = write!(
            actions,
            "<form method=\"post\" action=\"{action}\"><input name=\"reason\" placeholder=\"reason\" size=\"12\">\
             <button>Recall</button></form> "
        );
    }
    if parcel.state == ParcelState::Received {
        let action = form_action(&format!("{base}/reissue"), token, store);
        let _ = write!(
            actions,
            "<form method=\"post\" action=\"{action}\"><button>New code</button></form>"
        );
    }
    actions
}

fn shown_count(total: usize) -> String {
    if total > MAX_ROWS { format!("newest {MAX_ROWS} of {total}") } else { total.to_string() }
}

fn render_sms(html: &mut String, sms: &[SmsRecord]) {
    let _ = write!(html, "<h2>SMS outbox ({})</h2>", shown_count(sms.len()));
    html.push_str(
        "<table><tr><th>Sent</th><th>Store</th><th>Parcel</th><th>To</th><th>Text</th></tr>",
    );
    for message in sms.iter().rev().take(MAX_ROWS) {
        let recipient = match &message.phone_last4 {
            Some(last4) => format!("…{}", escape(last4)),
            None => "unknown (unexpected parcel)".to_string(),
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{recipient}</td><td>{}</td></tr>",
            time(message.created_at),
            escape(&message.store_id),
            escape(&message.barcode),
            escape(&message.text),
        );
    }
    html.push_str("</table>");
}

fn render_events(html: &mut String, events: &[EventRecord]) {
    let _ = write!(html, "<h2>Events ({})</h2>", shown_count(events.len()));
    html.push_str(
        "<table><tr><th>Server time</th><th>Device time</th><th>Terminal</th><th>Seq</th>\
         <th>Kind</th><th>Barcode</th><th>Operator</th><th>Outcome</th></tr>",
    );
    let mut newest_first: Vec<&EventRecord> = events.iter().collect();
    newest_first.sort_by_key(|event| std::cmp::Reverse((event.server_time, event.seq)));
    for event in newest_first.into_iter().take(MAX_ROWS) {
        let mut outcome = escape(&event.outcome);
        if let Some(reason) = &event.reason {
            let _ = write!(outcome, ": {}", escape(reason));
        }
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"{}\">{outcome}</td></tr>",
            time(event.server_time),
            time(event.device_time),
            escape(&event.terminal_id),
            event.seq,
            escape(&event.kind),
            escape(&event.barcode),
            escape(&event.operator_id),
            escape(&event.outcome),
        );
    }
    html.push_str("</table>");
}

fn render_conflicts(html: &mut String, conflicts: &[ConflictRecord]) {
    let _ = write!(html, "<h2>Conflicts ({})</h2>", conflicts.len());
    html.push_str(
        "<table><tr><th>Time</th><th>Store</th><th>Barcode</th><th>Event</th><th>Message</th></tr>",
    );
    for conflict in conflicts.iter().rev() {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            time(conflict.created_at),
            escape(&conflict.store_id),
            escape(&conflict.barcode),
            optional(conflict.event_id.map(|id| id.to_string()).as_deref()),
            escape(&conflict.message),
        );
    }
    html.push_str("</table>");
}

/// Renders the page that shows a new enrolment token once.
pub fn render_enrolment(
    store_id: &str,
    enrolment_token: &str,
    expires_at: DateTime<Utc>,
    token: &str,
) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Enrolment token</title>\
         <style>{STYLE}</style></head><body><h1>Enrolment token for store {}</h1>\
         <p><code>{}</code></p><p>It enrols one terminal and expires at {}. It is shown only once.</p>\
         <p><a href=\"{}\">Back to the admin page</a></p></body></html>\n",
        escape(store_id),
        escape(enrolment_token),
        time(expires_at),
        form_action("/admin", token, None),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn rendered_page_escapes_sms_text() {
        let overview = Overview {
            stores: Vec::new(),
            parcels: Vec::new(),
            events: Vec::new(),
            sms: vec![SmsRecord {
                sms_id: 1,
                store_id: "S1".into(),
                barcode: "<b>".into(),
                phone_last4: None,
                text: "<script>alert(1)</script>".into(),
                created_at: Utc::now(),
            }],
            conflicts: Vec::new(),
        };
        let html = render(&overview, "t\"oken", Utc::now());
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
