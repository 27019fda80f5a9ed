//! The reference backend over real HTTP: a server on 127.0.0.1:0 with a
//! temporary database, driven through the terminal's `ApiClient`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use pickup_terminal::backend::{self, BackendConfig, ParcelState, RateLimit, RunningBackend};
use pickup_terminal::protocol::{
    Change, EnrollResponse, ErrorBody, Event, EventBody, EventOutcome, MAX_PULL_CHANGES,
    MAX_PUSH_BYTES, MAX_PUSH_EVENTS, ManifestParcel,
};
use pickup_terminal::sync::client::{ApiClient, ApiError};
use sha2::Sha256;
use uuid::Uuid;

const ADMIN_TOKEN: &str = "admin-token-for-tests";
const TIMEOUT: Duration = Duration::from_secs(10);

/// A backend server on a free port with its own temporary database.
struct Mall {
    dir: tempfile::TempDir,
    backend: RunningBackend,
}

impl Mall {
    async fn start() -> Mall {
        Mall::start_with(RateLimit::default()).await
    }

    async fn start_with(rate_limit: RateLimit) -> Mall {
        let dir = tempfile::tempdir().unwrap();
        let backend = start_backend(&dir, rate_limit).await;
        Mall { dir, backend }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("mall.db")
    }

    fn seed(&self, store: &str, parcels: usize) -> Vec<ManifestParcel> {
        backend::seed(&self.db(), store, parcels, 7).unwrap()
    }

    async fn terminal(&self, store: &str) -> Terminal {
        let token = backend::create_enrolment(&self.db(), store).unwrap();
        let anonymous = ApiClient::new(&self.backend.base_url(), None, None, TIMEOUT).unwrap();
        let enrolled = anonymous.enroll(&token).await.unwrap();
        let client = anonymous.with_token(enrolled.token.clone());
        Terminal { enrolled, client, next_seq: 1 }
    }

    /// Returns the codes texted for a barcode, oldest first.
    fn sms_codes(&self, barcode: &str) -> Vec<String> {
        backend::sms_outbox(&self.db())
            .unwrap()
            .into_iter()
            .filter(|sms| sms.barcode == barcode)
            .map(|sms| sms.code().expect("every SMS carries a code").to_string())
            .collect()
    }

    fn parcel_state(&self, store: &str, barcode: &str) -> ParcelState {
        backend::parcel_states(&self.db(), store)
            .unwrap()
            .into_iter()
            .find(|parcel| parcel.barcode == barcode)
            .expect("parcel exists")
            .state
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.backend.base_url())
    }

    async fn admin_post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

async fn start_backend(dir: &tempfile::TempDir, rate_limit: RateLimit) -> RunningBackend {
    let listen = "127.0.0.1:0".parse().unwrap();
    let mut config = BackendConfig::new(dir.path().join("mall.db"), listen, ADMIN_TOKEN);
    config.rate_limit = rate_limit;
    backend::start(config).await.unwrap()
}

/// An enrolled terminal that numbers its events.
struct Terminal {
    enrolled: EnrollResponse,
    client: ApiClient,
    next_seq: i64,
}

impl Terminal {
    fn event(&mut self, barcode: &str, body: EventBody) -> Event {
        let seq = self.next_seq;
        self.next_seq += 1;
        Event {
            event_id: Uuid::new_v4(),
            terminal_id: self.enrolled.terminal_id.clone(),
            seq,
            device_time: Utc::now(),
            operator_id: "clerk-1".into(),
            barcode: barcode.into(),
            body,
        }
    }

    fn receipts(&mut self, barcodes: &[&str]) -> Vec<Event> {
        barcodes.iter().map(|barcode| self.event(barcode, received())).collect()
    }

    /// Pulls every page from the start.
    async fn pull_all(&self) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.client.pull(cursor.as_deref()).await.unwrap();
            changes.extend(page.changes);
            cursor = Some(page.cursor);
            if !page.more {
                return changes;
            }
        }
    }

    /// Returns the (code_id, code_hash) pairs issued for a barcode, in order.
    async fn issued_codes(&self, barcode: &str) -> Vec<(String, String)> {
        self.pull_all()
            .await
            .into_iter()
            .filter_map(|change| match change {
                Change::CodeIssued { code_id, code_hash, barcodes }
                    if barcodes == [barcode.to_string()] =>
                {
                    Some((code_id, code_hash))
                }
                _ => None,
            })
            .collect()
    }
}

fn received() -> EventBody {
    EventBody::Received { unexpected: false, shelf: Some("A1".into()) }
}

/// HMAC-SHA256 of the code under a hex key, computed here rather than with
/// the crate's own helper.
fn expected_hash(code_key_hex: &str, code: &str) -> String {
    let key = hex::decode(code_key_hex).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn outcomes(response: &pickup_terminal::protocol::PushResponse) -> Vec<EventOutcome> {
    response.results.iter().map(|result| result.outcome.clone()).collect()
}

fn revoked_ids(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|change| match change {
            Change::CodeRevoked { code_id } => Some(code_id.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn enrolment_token_works_once() {
    let mall = Mall::start().await;
    let token = backend::create_enrolment(&mall.db(), "S1").unwrap();
    let client = ApiClient::new(&mall.backend.base_url(), None, None, TIMEOUT).unwrap();

    let first = client.enroll(&token).await.unwrap();
    let second = client.enroll(&token).await;

    assert_eq!(first.store_id, "S1");
    assert_eq!(hex::decode(&first.code_key).unwrap().len(), 32);
    assert!(matches!(second, Err(ApiError::EnrolmentRejected(_))), "{second:?}");
}

#[tokio::test]
async fn reused_enrolment_token_says_used() {
    let mall = Mall::start().await;
    let token = backend::create_enrolment(&mall.db(), "S1").unwrap();
    let body = serde_json::json!({ "enrolment_token": token });
    let http = reqwest::Client::new();
    http.post(mall.url("/v1/enroll")).json(&body).send().await.unwrap();

    let response = http.post(mall.url("/v1/enroll")).json(&body).send().await.unwrap();

    assert_eq!(response.status(), 401);
    let error: ErrorBody = response.json().await.unwrap();
    assert_eq!(error.error, "enrolment_token_used");
    assert!(error.message.contains("already used"), "{}", error.message);
}

#[tokio::test]
async fn receipts_are_accepted_and_texted() {
    let mall = Mall::start().await;
    mall.seed("S1", 5);
    let mut terminal = mall.terminal("S1").await;
    let batch = terminal.receipts(&["JJD0001", "JJD0002", "JJD0003"]);

    let response = terminal.client.push(&batch).await.unwrap();

    assert_eq!(outcomes(&response), vec![EventOutcome::Accepted; 3]);
    for barcode in ["JJD0001", "JJD0002", "JJD0003"] {
        assert_eq!(mall.sms_codes(barcode).len(), 1, "SMS for {barcode}");
    }
    assert!(mall.sms_codes("JJD0004").is_empty());
}

#[tokio::test]
async fn pulled_hash_matches_sms_code() {
    let mall = Mall::start().await;
    mall.seed("S1", 2);
    let mut terminal = mall.terminal("S1").await;
    let batch = terminal.receipts(&["JJD0001"]);
    terminal.client.push(&batch).await.unwrap();

    let issued = terminal.issued_codes("JJD0001").await;
    let codes = mall.sms_codes("JJD0001");

    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].1, expected_hash(&terminal.enrolled.code_key, &codes[0]));
}

#[tokio::test]
async fn repeated_batch_reports_duplicates() {
    let mall = Mall::start().await;
    mall.seed("S1", 3);
    let mut terminal = mall.terminal("S1").await;
    let batch = terminal.receipts(&["JJD0001", "JJD0002", "JJD0003"]);
    terminal.client.push(&batch).await.unwrap();

    let again = terminal.client.push(&batch).await.unwrap();

    assert_eq!(outcomes(&again), vec![EventOutcome::Duplicate; 3]);
    let applied = backend::applied_events(&mall.db(), &terminal.enrolled.terminal_id).unwrap();
    assert_eq!(applied.len(), 3);
    assert_eq!(backend::sms_outbox(&mall.db()).unwrap().len(), 3);
    assert_eq!(terminal.issued_codes("JJD0001").await.len(), 1);
}

#[tokio::test]
async fn wrong_token_is_unauthorized() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let batch = terminal.receipts(&["JJD0001"]);
    let impostor =
        ApiClient::new(&mall.backend.base_url(), Some("not-a-token".into()), None, TIMEOUT)
            .unwrap();

    let pushed = impostor.push(&batch).await;
    let pulled = impostor.pull(None).await;

    assert!(matches!(pushed, Err(ApiError::Unauthorized)), "{pushed:?}");
    assert!(matches!(pulled, Err(ApiError::Unauthorized)), "{pulled:?}");
    assert!(backend::recorded_events(&mall.db()).unwrap().is_empty());
}

#[tokio::test]
async fn foreign_store_parcel_is_forbidden() {
    let mall = Mall::start().await;
    mall.seed("S1", 2);
    let foreign = ManifestParcel {
        barcode: "SF9000001".into(),
        order_id: "MO-S2-1".into(),
        customer_masked: "Zhou *ing".into(),
        phone_last4: "4321".into(),
        courier: "SF".into(),
        deadline: None,
    };
    let announced =
        mall.admin_post("/admin/stores/S2/parcels", serde_json::to_value(&foreign).unwrap()).await;
    assert_eq!(announced.status(), 201);
    let mut terminal = mall.terminal("S1").await;
    let batch = terminal.receipts(&["JJD0001", "SF9000001"]);

    let pushed = terminal.client.push(&batch).await;

    match pushed {
        Err(ApiError::Forbidden { event_ids }) => assert_eq!(event_ids, vec![batch[1].event_id]),
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert!(backend::recorded_events(&mall.db()).unwrap().is_empty());
    assert!(backend::sms_outbox(&mall.db()).unwrap().is_empty());
    assert_eq!(mall.parcel_state("S1", "JJD0001"), ParcelState::Announced);
}

#[tokio::test]
async fn oversized_batch_is_too_large() {
    let mall = Mall::start().await;
    let mut terminal = mall.terminal("S1").await;
    let barcodes: Vec<String> = (1..=MAX_PUSH_EVENTS + 1).map(|n| format!("X{n:05}")).collect();
    let batch: Vec<Event> =
        barcodes.iter().map(|barcode| terminal.event(barcode, received())).collect();

    let pushed = terminal.client.push(&batch).await;

    assert!(matches!(pushed, Err(ApiError::TooLarge)), "{pushed:?}");
    assert!(backend::recorded_events(&mall.db()).unwrap().is_empty());
}

#[tokio::test]
async fn oversized_body_is_too_large() {
    let mall = Mall::start().await;
    let terminal = mall.terminal("S1").await;
    let padding = "x".repeat(MAX_PUSH_BYTES + 1);
    let body = format!("{{\"events\":[],\"padding\":\"{padding}\"}}");

    let response = reqwest::Client::new()
        .post(mall.url("/v1/events"))
        .bearer_auth(&terminal.enrolled.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn malformed_json_is_bad_request() {
    let mall = Mall::start().await;
    let terminal = mall.terminal("S1").await;

    let response = reqwest::Client::new()
        .post(mall.url("/v1/events"))
        .bearer_auth(&terminal.enrolled.token)
        .header("content-type", "application/json")
        .body("{\"events\": [")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let error: ErrorBody = response.json().await.unwrap();
    assert_eq!(error.error, "malformed_json");
}

#[tokio::test]
async fn poison_event_is_rejected_alone() {
    let mall = Mall::start().await;
    mall.seed("S1", 49);
    let mut terminal = mall.terminal("S1").await;
    let mut batch = Vec::new();
    for number in 1..=50 {
        if number == 25 {
            batch.push(terminal.event("NOPE0001", EventBody::HandedOver));
        } else {
            let barcode = format!("JJD{:04}", if number < 25 { number } else { number - 1 });
            batch.push(terminal.event(&barcode, received()));
        }
    }

    let response = terminal.client.push(&batch).await.unwrap();
    let resent = terminal.client.push(&batch[24..25]).await.unwrap();

    let accepted = outcomes(&response).iter().filter(|o| **o == EventOutcome::Accepted).count();
    assert_eq!(accepted, 49);
    let poison = &response.results[24].outcome;
    assert!(
        matches!(poison, EventOutcome::Rejected { reason } if reason.contains("unknown parcel")),
        "{poison:?}"
    );
    assert_eq!(resent.results[0].outcome, *poison, "a resend gets the same rejection");
    assert_eq!(backend::sms_outbox(&mall.db()).unwrap().len(), 49);
}

#[tokio::test]
async fn events_apply_in_seq_order() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.event("JJD0001", received());
    let handover = terminal.event("JJD0001", EventBody::HandedOver);

    let response = terminal.client.push(&[handover, receipt]).await.unwrap();

    assert_eq!(outcomes(&response), vec![EventOutcome::Accepted; 2]);
    assert_eq!(mall.parcel_state("S1", "JJD0001"), ParcelState::Collected);
}

#[tokio::test]
async fn reused_seq_is_behind() {
    let mall = Mall::start().await;
    mall.seed("S1", 2);
    let mut terminal = mall.terminal("S1").await;
    let first = terminal.event("JJD0001", received());
    let mut reused = terminal.event("JJD0002", received());
    reused.seq = first.seq;
    terminal.client.push(&[first]).await.unwrap();

    let error = terminal.client.push(&[reused]).await.unwrap_err();

    assert!(matches!(error, ApiError::SeqBehind { last_seq: 1 }), "{error:?}");
    assert_eq!(mall.parcel_state("S1", "JJD0002"), ParcelState::Announced);
}

#[tokio::test]
async fn seq_behind_body_names_last_seq() {
    let mall = Mall::start().await;
    mall.seed("S1", 3);
    let mut terminal = mall.terminal("S1").await;
    let events = terminal.receipts(&["JJD0001", "JJD0002"]);
    terminal.client.push(&events).await.unwrap();
    let mut restarted = terminal.event("JJD0003", received());
    restarted.seq = 1;

    let response = reqwest::Client::new()
        .post(mall.url("/v1/events"))
        .bearer_auth(&terminal.enrolled.token)
        .json(&serde_json::json!({ "events": [restarted] }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 409);
    let error: ErrorBody = response.json().await.unwrap();
    assert_eq!(error.error, "seq_behind");
    assert_eq!(error.last_seq, Some(2));
    assert_eq!(mall.parcel_state("S1", "JJD0003"), ParcelState::Announced);
}

#[tokio::test]
async fn seen_events_stay_duplicates_below_last_seq() {
    let mall = Mall::start().await;
    mall.seed("S1", 3);
    let mut terminal = mall.terminal("S1").await;
    let events = terminal.receipts(&["JJD0001", "JJD0002", "JJD0003"]);
    terminal.client.push(&events).await.unwrap();
    // A restored copy sends an applied event again under a new number.
    let mut renumbered = events[0].clone();
    renumbered.seq = 10;

    let response = terminal.client.push(&[renumbered]).await.unwrap();

    assert_eq!(outcomes(&response), vec![EventOutcome::Duplicate]);
    assert_eq!(mall.sms_codes("JJD0001").len(), 1);
}

#[tokio::test]
async fn reissue_request_revokes_old_code() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.receipts(&["JJD0001"]);
    terminal.client.push(&receipt).await.unwrap();
    let reissue = terminal.event("JJD0001", EventBody::CodeReissueRequested);

    let response = terminal.client.push(&[reissue]).await.unwrap();

    assert_eq!(outcomes(&response), vec![EventOutcome::Accepted]);
    let issued = terminal.issued_codes("JJD0001").await;
    let codes = mall.sms_codes("JJD0001");
    assert_eq!(issued.len(), 2);
    assert_eq!(codes.len(), 2);
    assert_eq!(revoked_ids(&terminal.pull_all().await), vec![issued[0].0.clone()]);
    assert_eq!(issued[1].1, expected_hash(&terminal.enrolled.code_key, &codes[1]));
}

#[tokio::test]
async fn admin_reissue_revokes_old_code() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.receipts(&["JJD0001"]);
    terminal.client.push(&receipt).await.unwrap();

    let response = mall.admin_post("/admin/parcels/JJD0001/reissue", serde_json::json!({})).await;

    assert_eq!(response.status(), 200);
    let issued = terminal.issued_codes("JJD0001").await;
    assert_eq!(issued.len(), 2);
    assert_eq!(revoked_ids(&terminal.pull_all().await), vec![issued[0].0.clone()]);
    assert_eq!(mall.sms_codes("JJD0001").len(), 2);
}

#[tokio::test]
async fn handover_revokes_code() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.receipts(&["JJD0001"]);
    terminal.client.push(&receipt).await.unwrap();
    let handover = terminal.event("JJD0001", EventBody::HandedOver);

    terminal.client.push(&[handover]).await.unwrap();

    let issued = terminal.issued_codes("JJD0001").await;
    assert_eq!(revoked_ids(&terminal.pull_all().await), vec![issued[0].0.clone()]);
    assert_eq!(mall.parcel_state("S1", "JJD0001"), ParcelState::Collected);
}

#[tokio::test]
async fn handover_of_never_received_is_rejected() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let handover = terminal.event("JJD0001", EventBody::HandedOver);

    let response = terminal.client.push(&[handover]).await.unwrap();

    let outcome = &response.results[0].outcome;
    assert!(
        matches!(outcome, EventOutcome::Rejected { reason } if reason.contains("announced")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn recall_then_handover_is_conflict() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.receipts(&["JJD0001"]);
    terminal.client.push(&receipt).await.unwrap();
    let recalled = mall
        .admin_post(
            "/admin/parcels/JJD0001/recall",
            serde_json::json!({ "reason": "seller recall" }),
        )
        .await;
    assert_eq!(recalled.status(), 200);
    // The terminal was offline during the recall and still hands over.
    let handover = terminal.event("JJD0001", EventBody::HandedOver);

    let response = terminal.client.push(std::slice::from_ref(&handover)).await.unwrap();

    assert_eq!(outcomes(&response), vec![EventOutcome::Accepted]);
    let conflicts: Vec<_> = terminal
        .pull_all()
        .await
        .into_iter()
        .filter_map(|change| match change {
            Change::Conflict { barcode, event_id, message, .. } => {
                Some((barcode, event_id, message))
            }
            _ => None,
        })
        .collect();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].0, "JJD0001");
    assert_eq!(conflicts[0].1, Some(handover.event_id));
    assert!(conflicts[0].2.contains("seller recall"), "{}", conflicts[0].2);
    assert_eq!(mall.parcel_state("S1", "JJD0001"), ParcelState::Collected);
    assert_eq!(backend::conflicts(&mall.db()).unwrap().len(), 1);
}

#[tokio::test]
async fn recall_is_announced_in_pull() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.receipts(&["JJD0001"]);
    terminal.client.push(&receipt).await.unwrap();

    mall.admin_post("/admin/parcels/JJD0001/recall", serde_json::json!({})).await;

    let changes = terminal.pull_all().await;
    assert!(changes.contains(&Change::ParcelRecalled {
        barcode: "JJD0001".into(),
        reason: "recalled by the mall".into(),
    }));
    let issued = terminal.issued_codes("JJD0001").await;
    assert_eq!(revoked_ids(&changes), vec![issued[0].0.clone()]);
}

#[tokio::test]
async fn pull_pages_with_more() {
    let mall = Mall::start().await;
    mall.seed("S1", MAX_PULL_CHANGES + 5);
    let terminal = mall.terminal("S1").await;

    let first = terminal.client.pull(None).await.unwrap();
    let second = terminal.client.pull(Some(&first.cursor)).await.unwrap();
    let third = terminal.client.pull(Some(&second.cursor)).await.unwrap();

    assert_eq!(first.changes.len(), MAX_PULL_CHANGES);
    assert!(first.more);
    assert_eq!(second.changes.len(), 5);
    assert!(!second.more);
    assert!(third.changes.is_empty());
    assert_eq!(third.cursor, second.cursor);
}

#[tokio::test]
async fn pull_announces_manifest() {
    let mall = Mall::start().await;
    let manifest = mall.seed("S1", 3);
    let terminal = mall.terminal("S1").await;

    let changes = terminal.pull_all().await;

    let announced: Vec<ManifestParcel> = changes
        .into_iter()
        .filter_map(|change| match change {
            Change::ParcelAnnounced { parcel } => Some(parcel),
            _ => None,
        })
        .collect();
    assert_eq!(announced, manifest);
}

#[tokio::test]
async fn late_terminal_gets_live_codes() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut first = mall.terminal("S1").await;
    let receipt = first.receipts(&["JJD0001"]);
    first.client.push(&receipt).await.unwrap();

    let late = mall.terminal("S1").await;

    let issued = late.issued_codes("JJD0001").await;
    let codes = mall.sms_codes("JJD0001");
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].1, expected_hash(&late.enrolled.code_key, &codes[0]));
}

#[tokio::test]
async fn unexpected_receipt_creates_parcel() {
    let mall = Mall::start().await;
    let mut terminal = mall.terminal("S1").await;
    let receipt =
        terminal.event("YT7700001", EventBody::Received { unexpected: true, shelf: None });

    let response = terminal.client.push(&[receipt]).await.unwrap();

    assert_eq!(outcomes(&response), vec![EventOutcome::Accepted]);
    let parcels = backend::parcel_states(&mall.db(), "S1").unwrap();
    assert_eq!(parcels.len(), 1);
    assert!(parcels[0].unexpected);
    assert_eq!(parcels[0].state, ParcelState::Received);
    assert!(mall.sms_codes("YT7700001").is_empty(), "an unexpected parcel has nobody to text");
    let changes = terminal.pull_all().await;
    let deadline_set = changes.iter().any(
        |change| matches!(change, Change::DeadlineSet { barcode, .. } if barcode == "YT7700001"),
    );
    assert!(deadline_set, "an unexpected parcel gets the default deadline");
    let conflict = changes
        .iter()
        .any(|change| matches!(change, Change::Conflict { barcode, .. } if barcode == "YT7700001"));
    assert!(conflict, "an unexpected parcel is reported as a conflict");
    let code_issued = changes.iter().any(|change| matches!(change, Change::CodeIssued { .. }));
    assert!(!code_issued, "an unexpected parcel gets no code");
}

#[tokio::test]
async fn unexpected_parcel_gets_no_reissued_code() {
    let mall = Mall::start().await;
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.event("YT7700002", received());
    let reissue = terminal.event("YT7700002", EventBody::CodeReissueRequested);

    let response = terminal.client.push(&[receipt, reissue]).await.unwrap();

    assert_eq!(outcomes(&response)[0], EventOutcome::Accepted);
    assert!(matches!(&outcomes(&response)[1], EventOutcome::Rejected { reason }
            if reason.contains("no manifest")));
    let admin = mall.admin_post("/admin/parcels/YT7700002/reissue", serde_json::json!({})).await;
    assert_eq!(admin.status(), 409);
    assert!(mall.sms_codes("YT7700002").is_empty());
}

#[tokio::test]
async fn cursor_past_end_is_rejected() {
    let mall = Mall::start().await;
    mall.seed("S1", 2);
    let terminal = mall.terminal("S1").await;
    let page = terminal.client.pull(None).await.unwrap();
    let (prefix, last) = page.cursor.rsplit_once('.').unwrap();
    let ahead = format!("{prefix}.{}", last.parse::<i64>().unwrap() + 1000);

    let error = terminal.client.pull(Some(&ahead)).await.unwrap_err();

    assert!(
        matches!(&error, ApiError::BadRequest(detail) if detail.contains("cursor_ahead")),
        "{error:?}"
    );
    let again = terminal.client.pull(Some(&page.cursor)).await.unwrap();
    assert!(again.changes.is_empty());
}

#[tokio::test]
async fn long_recall_reason_is_rejected() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let reason = "x".repeat(201);

    let response = mall
        .admin_post("/admin/parcels/JJD0001/recall", serde_json::json!({ "reason": reason }))
        .await;

    assert_eq!(response.status(), 400);
    let error: ErrorBody = response.json().await.unwrap();
    assert_eq!(error.error, "invalid_reason");
    assert_eq!(mall.parcel_state("S1", "JJD0001"), ParcelState::Announced);
}

#[tokio::test]
async fn half_sent_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let listen = "127.0.0.1:0".parse().unwrap();
    let mut config = BackendConfig::new(dir.path().join("mall.db"), listen, ADMIN_TOKEN);
    config.header_read_timeout = Duration::from_millis(300);
    let running = backend::start(config).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(running.addr()).await.unwrap();
    stream.write_all(b"GET /v1/changes HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();

    // The guard only keeps a broken server from hanging the test run.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer)).await;

    let read = read.expect("the server kept the half-sent request open");
    assert!(read.is_ok(), "{read:?}");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}

#[test]
fn huge_seed_is_refused_with_reason() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mall.db");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mall-backend"))
        .args(["seed", "--store", "S1", "--parcels", "18446744073709551615", "--db"])
        .arg(&db)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("100000"), "{stderr}");
    assert!(!db.exists());
}

#[tokio::test]
async fn device_and_server_times_recorded() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let mut receipt = terminal.event("JJD0001", received());
    let device_time = DateTime::from_timestamp(1_000_000_000, 0).unwrap();
    receipt.device_time = device_time;
    let before = Utc::now();

    terminal.client.push(&[receipt]).await.unwrap();

    let applied = backend::applied_events(&mall.db(), &terminal.enrolled.terminal_id).unwrap();
    assert_eq!(applied[0].device_time, device_time);
    assert!(applied[0].server_time >= before, "server time is the receive time");
}

#[tokio::test]
async fn restart_keeps_terminal_and_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_backend(&dir, RateLimit::default()).await;
    let mall = Mall { dir, backend: first };
    mall.seed("S1", 2);
    let terminal = mall.terminal("S1").await;
    let page = terminal.client.pull(None).await.unwrap();
    let Mall { dir, backend: first } = mall;
    first.shutdown().await;

    let second = start_backend(&dir, RateLimit::default()).await;
    let client =
        ApiClient::new(&second.base_url(), Some(terminal.enrolled.token.clone()), None, TIMEOUT)
            .unwrap();
    let after = client.pull(Some(&page.cursor)).await.unwrap();

    assert!(after.changes.is_empty());
    assert_eq!(after.cursor, page.cursor);
    second.shutdown().await;
}

#[tokio::test]
async fn rate_limit_sets_retry_after() {
    let mall = Mall::start_with(RateLimit { per_second: 0.5, burst: 2 }).await;
    let terminal = mall.terminal("S1").await;
    terminal.client.pull(None).await.unwrap();
    terminal.client.pull(None).await.unwrap();

    let third = terminal.client.pull(None).await;

    match third {
        Err(ApiError::RateLimited { retry_after: Some(wait) }) => {
            assert!(wait >= Duration::from_secs(1), "{wait:?}")
        }
        other => panic!("expected a rate limit error with Retry-After, got {other:?}"),
    }
}

#[tokio::test]
async fn admin_page_requires_token() {
    let mall = Mall::start().await;
    let http = reqwest::Client::new();

    let without = http.get(mall.url("/admin")).send().await.unwrap();
    let wrong = http.get(mall.url("/admin?token=guess")).send().await.unwrap();
    let sms = http.get(mall.url("/admin/sms")).send().await.unwrap();

    assert_eq!(without.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(sms.status(), 401);
}

#[tokio::test]
async fn admin_page_lists_parcels_and_sms() {
    let mall = Mall::start().await;
    mall.seed("S1", 2);
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.receipts(&["JJD0001"]);
    terminal.client.push(&receipt).await.unwrap();
    let code = mall.sms_codes("JJD0001").remove(0);

    let response = reqwest::get(mall.backend.admin_url()).await.unwrap();

    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("JJD0002"), "lists announced parcels");
    assert!(html.contains("received"), "shows parcel states");
    assert!(html.contains(&code), "shows the SMS outbox");
    assert!(html.contains(&terminal.enrolled.terminal_id), "lists events with their terminal");
}

#[tokio::test]
async fn admin_sms_json_lists_messages() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.receipts(&["JJD0001"]);
    terminal.client.push(&receipt).await.unwrap();

    let response = reqwest::Client::new()
        .get(mall.url("/admin/sms"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let messages: Vec<serde_json::Value> = response.json().await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["barcode"], "JJD0001");
}

#[tokio::test]
async fn admin_enrolment_token_enrols() {
    let mall = Mall::start().await;
    let response = mall.admin_post("/admin/stores/S9/enrolments", serde_json::json!({})).await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let token = body["enrolment_token"].as_str().unwrap();
    let client = ApiClient::new(&mall.backend.base_url(), None, None, TIMEOUT).unwrap();

    let enrolled = client.enroll(token).await.unwrap();

    assert_eq!(enrolled.store_id, "S9");
}

#[tokio::test]
async fn admin_form_recall_redirects_back() {
    let mall = Mall::start().await;
    mall.seed("S1", 1);
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build();

    let response = no_redirects
        .unwrap()
        .post(mall.url(&format!("/admin/parcels/JJD0001/recall?token={ADMIN_TOKEN}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("reason=damaged+stock")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(mall.parcel_state("S1", "JJD0001"), ParcelState::Cancelled);
}

#[tokio::test]
async fn admin_page_escapes_barcodes() {
    let mall = Mall::start().await;
    let mut terminal = mall.terminal("S1").await;
    let receipt = terminal.event("<i>X1", received());
    terminal.client.push(&[receipt]).await.unwrap();

    let html = reqwest::get(mall.backend.admin_url()).await.unwrap().text().await.unwrap();

    assert!(!html.contains("<i>X1"));
    assert!(html.contains("&lt;i&gt;X1"));
}
