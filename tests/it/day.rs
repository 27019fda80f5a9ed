//! The counter day beyond single receipts and handovers, synced against the
//! real reference backend: drop, return and stocktake sessions, damage
//! photos, refusals and re-issued codes.

use pickup_terminal::backend::{self, ParcelState as MallState};
use pickup_terminal::desk::DeskError;
use pickup_terminal::protocol::RejectReason;
use pickup_terminal::store::parcels::ParcelState;

use crate::sync::Setup;

const STORE: &str = "S001";

/// Returns the JSON body the backend kept for each event of `kind`.
fn stored_bodies(setup: &Setup, kind: &str) -> Vec<serde_json::Value> {
    let conn = rusqlite::Connection::open(setup.backend_db()).unwrap();
    let mut statement =
        conn.prepare("SELECT body FROM events WHERE kind = ?1 AND outcome = 'accepted'").unwrap();
    let rows = statement.query_map([kind], |row| row.get::<_, String>(0)).unwrap();
    rows.map(|body| serde_json::from_str(&body.unwrap()).unwrap()).collect()
}

fn mall_state(setup: &Setup, barcode: &str) -> MallState {
    let states = backend::parcel_states(setup.backend_db(), STORE).unwrap();
    states.into_iter().find(|parcel| parcel.barcode == barcode).unwrap().state
}

fn tiny_jpeg() -> Vec<u8> {
    let picture = image::GrayImage::from_pixel(8, 8, image::Luma([90]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut bytes, image::ImageFormat::Jpeg).unwrap();
    bytes.into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn drop_with_photo_reaches_backend() {
    let setup = Setup::new(4).await;
    let mut desk = setup.desk();
    let jpeg = tiny_jpeg();
    desk.start_drop_from_badge("COURIER-ZTO-0042", 3).unwrap();
    desk.receive("JJD0001").unwrap();
    desk.reject_with_photo("JJD0002", RejectReason::Crushed, Some("box caved in"), Some(&jpeg))
        .unwrap();
    desk.close_drop().unwrap();
    let report = setup.sync().await.unwrap();
    assert_eq!(report.quarantined, 0);
    assert_eq!(report.queue_depth, 0);

    let drops = stored_bodies(&setup, "drop_closed");
    assert_eq!(drops.len(), 1);
    assert_eq!(drops[0]["courier_id"], "ZTO-0042");
    assert_eq!(drops[0]["received"], serde_json::json!(["JJD0001"]));
    assert_eq!(drops[0]["rejected"], serde_json::json!(["JJD0002"]));
    assert_eq!(drops[0]["missing"], 1);
    assert_eq!(drops[0]["barcode"], "");

    let rejections = stored_bodies(&setup, "rejected");
    let photo = rejections[0]["photo_jpeg"].as_str().unwrap();
    assert_eq!(pickup_terminal::desk::photo::decode(photo).unwrap(), jpeg);
    assert_eq!(mall_state(&setup, "JJD0002"), MallState::Rejected);
}

#[tokio::test(flavor = "multi_thread")]
async fn return_session_and_stocktake_reach_backend() {
    let setup = Setup::new(4).await;
    let mut desk = setup.desk();
    for barcode in ["JJD0001", "JJD0002", "JJD0003"] {
        desk.receive(barcode).unwrap();
    }
    desk.refuse("JJD0001", Some("wrong colour")).unwrap();
    setup.sync().await.unwrap();
    assert_eq!(mall_state(&setup, "JJD0001"), MallState::ReturnPending);
    let refusals = stored_bodies(&setup, "return_pending");
    assert_eq!(refusals[0]["cause"], "refused");
    assert_eq!(refusals[0]["note"], "wrong colour");

    desk.start_return("ZTO-0042").unwrap();
    desk.return_parcel("JJD0001", None).unwrap();
    let closed = desk.close_return().unwrap();
    assert_eq!(closed.count, 1);
    desk.start_stocktake().unwrap();
    desk.scan_stocktake("JJD0002").unwrap();
    desk.scan_stocktake("JJD0004").unwrap();
    let stocktake = desk.close_stocktake().unwrap();
    assert_eq!(stocktake.missing, ["JJD0003"]);
    assert_eq!(stocktake.unexpected, ["JJD0004"]);

    let report = setup.sync().await.unwrap();
    assert_eq!(report.quarantined, 0);
    assert_eq!(mall_state(&setup, "JJD0001"), MallState::Returned);
    let returns = stored_bodies(&setup, "return_session_closed");
    assert_eq!(returns[0]["returned"], serde_json::json!(["JJD0001"]));
    let stocktakes = stored_bodies(&setup, "stocktake_closed");
    assert_eq!(stocktakes[0]["missing_barcodes"], serde_json::json!(["JJD0003"]));
    assert_eq!(stocktakes[0]["unexpected_barcodes"], serde_json::json!(["JJD0004"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn reissued_code_replaces_old_after_pull() {
    let setup = Setup::new(2).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    setup.sync().await.unwrap();
    let old = setup.texted_code("JJD0001");
    assert_eq!(desk.parcels_for_code(&old).unwrap().len(), 1);

    desk.request_reissue("JJD0001").unwrap();
    assert_eq!(desk.parcels_for_code(&old).unwrap().len(), 1, "old code works until the pull");
    setup.sync().await.unwrap();
    let new = setup.texted_code("JJD0001");
    assert_ne!(new, old);
    let error = desk.parcels_for_code(&old).unwrap_err();
    assert!(matches!(error, DeskError::WrongCode { .. }), "{error:?}");
    let parcel = desk.hand_over(&new, "JJD0001").unwrap();
    assert_eq!(parcel.state, ParcelState::HandedOver);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_parcel_cannot_be_handed_over() {
    let setup = Setup::new(2).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    setup.sync().await.unwrap();
    let code = setup.texted_code("JJD0001");
    desk.refuse("JJD0001", None).unwrap();
    let before_pull = desk.parcels_for_code(&code).unwrap_err();
    assert!(matches!(before_pull, DeskError::Forbidden(_)), "{before_pull:?}");
    assert!(before_pull.to_string().contains("waiting to go back"), "{before_pull}");
    setup.sync().await.unwrap();
    assert_eq!(mall_state(&setup, "JJD0001"), MallState::ReturnPending);
    let after_pull = desk.parcels_for_code(&code).unwrap_err();
    assert!(matches!(after_pull, DeskError::WrongCode { .. }), "{after_pull:?}");
    assert_eq!(desk.parcel("JJD0001").unwrap().unwrap().state, ParcelState::ReturnPending);
}

/// Announces a parcel of order `order_id` through the admin endpoint.
async fn announce(setup: &Setup, barcode: &str, order_id: &str) {
    let parcel = pickup_terminal::protocol::ManifestParcel {
        barcode: barcode.into(),
        order_id: order_id.into(),
        customer_masked: "Li *na".into(),
        phone_last4: "4321".into(),
        courier: "ZTO".into(),
        deadline: None,
    };
    let response = reqwest::Client::new()
        .post(format!("{}/admin/stores/{STORE}/parcels", setup.base_url()))
        .bearer_auth(crate::sync::ADMIN_TOKEN)
        .json(&parcel)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_code_for_an_order_until_last_parcel() {
    let setup = Setup::new(1).await;
    for barcode in ["ORD0001A", "ORD0001B", "ORD0001C"] {
        announce(&setup, barcode, "MO-ORDER-1").await;
    }
    setup.sync().await.unwrap();
    let mut desk = setup.desk();
    desk.receive("ORD0001A").unwrap();
    desk.receive("ORD0001B").unwrap();
    setup.sync().await.unwrap();
    let texts = backend::sms_outbox(setup.backend_db()).unwrap();
    assert!(texts.iter().all(|sms| !sms.barcode.starts_with("ORD")), "texted before all arrived");

    desk.receive("ORD0001C").unwrap();
    setup.sync().await.unwrap();
    let texts = backend::sms_outbox(setup.backend_db()).unwrap();
    let order_texts: Vec<_> = texts.iter().filter(|sms| sms.text.contains("3 parcels")).collect();
    assert_eq!(order_texts.len(), 1);
    let code = order_texts[0].code().unwrap().to_owned();
    let listed = desk.parcels_for_code(&code).unwrap();
    assert_eq!(listed.len(), 3);

    // The customer takes two parcels; the code still unlocks the third.
    desk.hand_over(&code, "ORD0001A").unwrap();
    desk.hand_over(&code, "ORD0001B").unwrap();
    setup.sync().await.unwrap();
    let rest = desk.parcels_for_code(&code).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].barcode, "ORD0001C");
    let error = desk.hand_over(&code, "ORD0001A").unwrap_err();
    assert!(matches!(error, DeskError::WrongParcel { .. }), "{error:?}");

    desk.hand_over(&code, "ORD0001C").unwrap();
    setup.sync().await.unwrap();
    assert_eq!(mall_state(&setup, "ORD0001C"), MallState::Collected);
    let used = desk.parcels_for_code(&code).unwrap_err();
    assert!(matches!(used, DeskError::WrongCode { .. } | DeskError::CodeUsed), "{used:?}");
}
