//! Checks of the events that close a counter session (courier drop, return
//! to a courier, stocktake) and of damage photos in rejections. Session
//! events change no parcel: the backend keeps them in `events`, where the
//! mall reads them, once they pass these checks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::parcels::check_barcode;
use crate::protocol::{Event, EventBody, MAX_PHOTO_BYTES};

/// Maximum number of barcodes one session event may list.
pub const MAX_SESSION_BARCODES: usize = 10_000;

/// Maximum length of a session id or courier id, in characters.
const MAX_ID_CHARS: usize = 64;

/// Returns why a session event is invalid, or `Ok` when it may be kept.
pub fn check_session_event(event: &Event) -> Result<(), String> {
    if !event.barcode.is_empty() {
        return Err(format!(
            "a {} event is about a session, so its barcode must be empty, not {:?}",
            event.body.kind(),
            event.barcode.chars().take(80).collect::<String>()
        ));
    }
    match &event.body {
        EventBody::DropClosed { session_id, courier_id, received, rejected, .. } => {
            check_id("session_id", session_id)?;
            check_id("courier_id", courier_id)?;
            check_barcodes("received", received)?;
            check_barcodes("rejected", rejected)
        }
        EventBody::ReturnSessionClosed { session_id, courier_id, returned } => {
            check_id("session_id", session_id)?;
            check_id("courier_id", courier_id)?;
            check_barcodes("returned", returned)
        }
        EventBody::StocktakeClosed {
            session_id, missing_barcodes, unexpected_barcodes, ..
        } => {
            check_id("session_id", session_id)?;
            check_barcodes("missing_barcodes", missing_barcodes)?;
            check_barcodes("unexpected_barcodes", unexpected_barcodes)
        }
        other => Err(format!("a {} event is not about a session", other.kind())),
    }
}

fn check_id(field: &str, id: &str) -> Result<(), String> {
    let length = id.chars().count();
    if length == 0 || length > MAX_ID_CHARS || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "invalid {field} {:?}: expected 1 to {MAX_ID_CHARS} printable ASCII characters",
            id.chars().take(80).collect::<String>()
        ));
    }
    Ok(())
}

fn check_barcodes(field: &str, barcodes: &[String]) -> Result<(), String> {
    if barcodes.len() > MAX_SESSION_BARCODES {
        return Err(format!(
            "{field} lists {} barcodes, more than {MAX_SESSION_BARCODES}",
            barcodes.len()
        ));
    }
    for barcode in barcodes {
        check_barcode(barcode).map_err(|reason| format!("{field}: {reason}"))?;
    }
    Ok(())
}

/// Returns why the damage photo of a rejection is invalid: not standard
/// base64, larger than [`MAX_PHOTO_BYTES`] once decoded, or not starting
/// like a JPEG file.
pub fn check_photo(photo_jpeg: &Option<String>) -> Result<(), String> {
    let Some(text) = photo_jpeg else {
        return Ok(());
    };
    // Base64 turns 3 bytes into 4 characters, so a longer text cannot decode
    // to an allowed size; checking first avoids decoding a huge text.
    if text.len() > MAX_PHOTO_BYTES.div_ceil(3) * 4 {
        return Err(format!("photo_jpeg decodes to more than {MAX_PHOTO_BYTES} bytes"));
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|error| format!("photo_jpeg is not standard base64: {error}"))?;
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err("photo_jpeg is not a JPEG file: it lacks the JPEG start marker".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;

    fn event(barcode: &str, body: EventBody) -> Event {
        Event {
            event_id: Uuid::nil(),
            terminal_id: "T1".into(),
            seq: 1,
            device_time: Utc::now(),
            operator_id: "clerk".into(),
            barcode: barcode.into(),
            body,
        }
    }

    fn stocktake(missing: Vec<String>) -> EventBody {
        EventBody::StocktakeClosed {
            session_id: "S-1".into(),
            seen: 0,
            missing_barcodes: missing,
            unexpected_barcodes: Vec::new(),
        }
    }

    #[test]
    fn session_event_with_barcode_is_invalid() {
        let error = check_session_event(&event("JJD0001", stocktake(Vec::new()))).unwrap_err();
        assert!(error.contains("must be empty"), "{error}");
    }

    #[test]
    fn bad_barcode_in_session_list() {
        let error = check_session_event(&event("", stocktake(vec!["A B".into()]))).unwrap_err();
        assert!(error.starts_with("missing_barcodes: invalid barcode"), "{error}");
    }

    #[test]
    fn drop_closed_needs_courier() {
        let body = EventBody::DropClosed {
            session_id: "S-1".into(),
            courier_id: String::new(),
            declared: 2,
            received: vec!["JJD0001".into()],
            rejected: Vec::new(),
            missing: 1,
            extra: 0,
        };
        let error = check_session_event(&event("", body)).unwrap_err();
        assert!(error.contains("courier_id"), "{error}");
    }

    #[test]
    fn photo_checks() {
        assert_eq!(check_photo(&None), Ok(()));
        assert_eq!(check_photo(&Some(STANDARD.encode([0xFF, 0xD8, 0xFF, 0xE0]))), Ok(()));
        let png = STANDARD.encode(b"\x89PNG\r\n");
        assert!(check_photo(&Some(png)).unwrap_err().contains("not a JPEG"));
        assert!(check_photo(&Some("***".into())).unwrap_err().contains("base64"));
        let huge = "A".repeat(MAX_PHOTO_BYTES / 3 * 4 + 8);
        assert!(check_photo(&Some(huge)).unwrap_err().contains("more than"));
    }
}
