//! Wire types of the terminal-to-mall sync protocol, version 1.
//!
//! The terminal and the reference backend share only this module. Every type
//! here is JSON on the wire; field names are part of the protocol and change
//! only with a new protocol version. `docs/protocol.md` describes the
//! exchanges and `docs/openapi.yaml` the HTTP surface.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

/// Path prefix of every protocol endpoint.
pub const API_PREFIX: &str = "/v1";

/// Maximum number of events a terminal may send in one push. Larger batches
/// get 413.
pub const MAX_PUSH_EVENTS: usize = 200;

/// Maximum size in bytes of a push request body. Larger bodies get 413.
pub const MAX_PUSH_BYTES: usize = 1024 * 1024;

/// Maximum size in bytes of a damage photo before base64 encoding. Encoded,
/// it takes about 683 KiB, so one event with a photo fits in a push.
pub const MAX_PHOTO_BYTES: usize = 512 * 1024;

/// Maximum number of changes one pull returns.
pub const MAX_PULL_CHANGES: usize = 1000;

/// Request body of `POST /v1/enroll`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnrollRequest {
    /// One-time token that an admin created for the store.
    pub enrolment_token: String,
}

/// Response body of `POST /v1/enroll`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnrollResponse {
    pub terminal_id: String,
    pub store_id: String,
    /// Bearer token for every later request of this terminal.
    pub token: String,
    /// Hex-encoded 32-byte HMAC-SHA256 key that the backend uses for the
    /// code hashes it sends to this terminal.
    pub code_key: String,
}

/// Reason for rejecting a parcel at the door.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    Crushed,
    Wet,
    Torn,
    Opened,
    WrongAddress,
    Other,
}

impl RejectReason {
    pub const ALL: [RejectReason; 6] = [
        RejectReason::Crushed,
        RejectReason::Wet,
        RejectReason::Torn,
        RejectReason::Opened,
        RejectReason::WrongAddress,
        RejectReason::Other,
    ];

    /// Returns the wire name, which is also the name the command line takes.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Crushed => "crushed",
            RejectReason::Wet => "wet",
            RejectReason::Torn => "torn",
            RejectReason::Opened => "opened",
            RejectReason::WrongAddress => "wrong_address",
            RejectReason::Other => "other",
        }
    }

    /// Parses a wire name; `-` is accepted in place of `_`.
    pub fn parse(text: &str) -> Option<RejectReason> {
        let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
        RejectReason::ALL.into_iter().find(|reason| reason.as_str() == wanted)
    }
}

/// Cause of a received parcel going back to the courier.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ReturnCause {
    /// The customer refused the parcel at the counter.
    Refused,
    /// The collection deadline passed.
    Overdue,
    /// The mall recalled the parcel.
    Recalled,
}

/// One clerk action, as the terminal's outbox sends it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// Globally unique; the backend applies each id at most once.
    pub event_id: Uuid,
    pub terminal_id: String,
    /// Per-terminal sequence number, starting at 1 and without gaps. Order
    /// comes from this number, never from `device_time`.
    pub seq: i64,
    /// The terminal's clock when the clerk acted; may be wrong.
    pub device_time: DateTime<Utc>,
    pub operator_id: String,
    pub barcode: String,
    #[serde(flatten)]
    pub body: EventBody,
}

/// Kind of clerk action, with the data of that kind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// The parcel was received intact. `unexpected` is true when it was not in
    /// the terminal's manifest.
    Received { unexpected: bool, shelf: Option<String> },
    /// The parcel was rejected at the door and went back with the courier.
    /// `photo_jpeg` is an optional JPEG of the damage, standard base64 with
    /// padding, at most [`MAX_PHOTO_BYTES`] before encoding.
    Rejected {
        reason: RejectReason,
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        photo_jpeg: Option<String>,
    },
    /// The parcel was handed to the customer after the code and a scan of the
    /// parcel matched.
    HandedOver,
    /// The parcel is to go back to the courier.
    ReturnPending { cause: ReturnCause, note: Option<String> },
    /// The parcel was given back to the courier.
    Returned { courier_id: Option<String> },
    /// The parcel moved to another shelf.
    ShelfChanged { shelf: String },
    /// The clerk asked the mall to send the customer a new code.
    CodeReissueRequested,
    /// A courier drop session was closed after the clerk confirmed its
    /// summary. The event's `barcode` is empty. `missing` and `extra` compare
    /// the parcels scanned (received or rejected) with the courier's declared
    /// count.
    DropClosed {
        session_id: String,
        courier_id: String,
        declared: u32,
        received: Vec<String>,
        rejected: Vec<String>,
        missing: u32,
        extra: u32,
    },
    /// A return session was closed: the listed parcels went back to the
    /// courier together. Each also has its own `returned` event, sent just
    /// before this one. The event's `barcode` is empty.
    ReturnSessionClosed { session_id: String, courier_id: String, returned: Vec<String> },
    /// A stocktake was closed. `missing_barcodes` are parcels the terminal
    /// expected on the shelves but nobody scanned; `unexpected_barcodes` are
    /// parcels scanned that the terminal did not expect there. The event's
    /// `barcode` is empty.
    StocktakeClosed {
        session_id: String,
        seen: u32,
        missing_barcodes: Vec<String>,
        unexpected_barcodes: Vec<String>,
    },
}

impl EventBody {
    /// Returns the wire name of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Received { .. } => "received",
            EventBody::Rejected { .. } => "rejected",
            EventBody::HandedOver => "handed_over",
            EventBody::ReturnPending { .. } => "return_pending",
            EventBody::Returned { .. } => "returned",
            EventBody::ShelfChanged { .. } => "shelf_changed",
            EventBody::CodeReissueRequested => "code_reissue_requested",
            EventBody::DropClosed { .. } => "drop_closed",
            EventBody::ReturnSessionClosed { .. } => "return_session_closed",
            EventBody::StocktakeClosed { .. } => "stocktake_closed",
        }
    }

    /// True for events about a counter session rather than one parcel; their
    /// `barcode` is empty.
    pub fn is_session(&self) -> bool {
        matches!(
            self,
            EventBody::DropClosed { .. }
                | EventBody::ReturnSessionClosed { .. }
                | EventBody::StocktakeClosed { .. }
        )
    }
}

/// Request body of `POST /v1/events`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PushRequest {
    pub events: Vec<Event>,
}

/// The backend's result for one pushed event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventOutcome {
    /// Applied now.
    Accepted,
    /// Applied by an earlier push; nothing changed.
    Duplicate,
    /// Never to be applied; resending it gives the same result.
    Rejected { reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventResult {
    pub event_id: Uuid,
    #[serde(flatten)]
    pub outcome: EventOutcome,
}

/// Response body of `POST /v1/events`: one result per pushed event, in the
/// order they were sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PushResponse {
    pub results: Vec<EventResult>,
}

/// A parcel that the mall announced to the store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestParcel {
    pub barcode: String,
    pub order_id: String,
    /// Customer name as the counter may show it, for example "Wang *ei".
    pub customer_masked: String,
    /// Last four digits of the customer's phone number.
    pub phone_last4: String,
    pub courier: String,
    pub deadline: Option<DateTime<Utc>>,
}

/// One change that the terminal pulls.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    ParcelAnnounced {
        parcel: ManifestParcel,
    },
    /// The order was cancelled before the parcel reached the store.
    ParcelCancelled {
        barcode: String,
    },
    /// The mall wants the parcel back.
    ParcelRecalled {
        barcode: String,
        reason: String,
    },
    /// A verification code was issued; it unlocks every parcel listed.
    CodeIssued {
        code_id: String,
        /// Hex HMAC-SHA256 of the six-digit code under the terminal's key.
        code_hash: String,
        barcodes: Vec<String>,
    },
    /// The code no longer unlocks anything (re-issued, or its parcels left).
    CodeRevoked {
        code_id: String,
    },
    DeadlineSet {
        barcode: String,
        deadline: DateTime<Utc>,
    },
    /// An event the backend kept but that clashed with the mall's state.
    Conflict {
        conflict_id: String,
        barcode: String,
        event_id: Option<Uuid>,
        message: String,
    },
}

/// Version of the protocol that this module describes. A pull response
/// states it in `protocol`; a terminal stops pulling from a backend that
/// states another version.
pub const PROTOCOL_VERSION: u32 = 1;

fn protocol_version() -> u32 {
    PROTOCOL_VERSION
}

/// Response body of `GET /v1/changes?cursor=C`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PullResponse {
    /// Protocol version of the changes; 1 when absent.
    #[serde(default = "protocol_version")]
    pub protocol: u32,
    pub changes: Vec<Change>,
    /// Opaque; the terminal sends it back unchanged on its next pull.
    pub cursor: String,
    /// True when more changes are waiting past this page.
    pub more: bool,
}

/// A pull response whose changes are not decoded yet, so that the terminal
/// can skip one it cannot use and still apply the rest of the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RawPullResponse {
    #[serde(default = "protocol_version")]
    pub protocol: u32,
    pub changes: Vec<serde_json::Value>,
    pub cursor: String,
    pub more: bool,
}

/// Returns the `code_hash` of a [`Change::CodeIssued`]: lowercase hex of
/// HMAC-SHA256 over the six ASCII digits of `code`, keyed with the
/// terminal's `code_key` after hex decoding.
pub fn code_hash(code_key: &[u8], code: &str) -> String {
    hex::encode(code_mac(code_key, code))
}

/// Computes the raw 32 bytes behind [`code_hash`].
pub fn code_mac(code_key: &[u8], code: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(code_key).expect("HMAC takes any key length");
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable code, for example `unauthorized`.
    pub error: String,
    pub message: String,
    /// Events the error is about, where it is about some and not all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_ids: Vec<Uuid>,
    /// With error `seq_behind` (409): the highest seq the backend has applied
    /// for this terminal. The terminal numbers its unsent events above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_json_has_flat_kind_fields() {
        let event = Event {
            event_id: Uuid::nil(),
            terminal_id: "T1".into(),
            seq: 3,
            device_time: DateTime::from_timestamp(0, 0).unwrap(),
            operator_id: "clerk".into(),
            barcode: "JJD0001".into(),
            body: EventBody::Rejected {
                reason: RejectReason::WrongAddress,
                note: None,
                photo_jpeg: None,
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "rejected");
        assert_eq!(json["reason"], "wrong_address");
        assert!(json.get("photo_jpeg").is_none(), "{json}");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn reject_reason_parses_dash_and_case() {
        assert_eq!(RejectReason::parse("Wrong-Address"), Some(RejectReason::WrongAddress));
        assert_eq!(RejectReason::parse("melted"), None);
    }

    #[test]
    fn code_hash_matches_python_hmac() {
        // Computed with Python's hmac module over key 0x01 * 32.
        let expected = "a25ca770633ffcd93080d6395068543edaaed4603c6b80a24330a8b625d8abc3";
        assert_eq!(code_hash(&[1; 32], "123456"), expected);
    }

    #[test]
    fn outcome_rejected_carries_reason() {
        let result = EventResult {
            event_id: Uuid::nil(),
            outcome: EventOutcome::Rejected { reason: "unknown parcel".into() },
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["status"], "rejected");
        assert_eq!(json["reason"], "unknown parcel");
    }
}
