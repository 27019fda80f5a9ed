//! The mall admin's endpoints: the HTML overview, the SMS outbox as JSON,
//! and the mall-side actions. Every endpoint takes the admin token as
//! `?token=` or as a bearer token.
//!
//! The action endpoints take JSON and respond with JSON. The admin page's own
//! forms post `application/x-www-form-urlencoded` and get a redirect back to
//! the page instead (or a small page showing a new enrolment token).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Form, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::api::{JsonBody, bearer_token, body_failure, parse_json};
use super::enrol::{self, ENROLMENT_TOKEN_LIFETIME};
use super::error::ApiFailure;
use super::inspect::{self, SmsRecord};
use super::page::{self, Overview};
use super::parcels::{self, ParcelState};
use super::server::{SharedState, percent_encode};
use crate::protocol::ManifestParcel;

/// Proof that the request carries the admin token.
pub struct AdminAuth;

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<SharedState> for AdminAuth {
    type Rejection = ApiFailure;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, ApiFailure> {
        let from_query = Query::<TokenQuery>::try_from_uri(&parts.uri).ok().and_then(|q| q.0.token);
        let token = from_query.or_else(|| bearer_token(parts).map(str::to_string));
        match token {
            Some(token) if enrol::token_hash(&token) == state.admin_token_hash => Ok(AdminAuth),
            Some(_) => Err(ApiFailure::unauthorized("unauthorized", "invalid admin token")),
            None => Err(ApiFailure::unauthorized(
                "unauthorized",
                "missing admin token; add ?token= or an Authorization: Bearer header",
            )),
        }
    }
}

/// An action's input, from a JSON body, a form post, or an empty body
/// (which gives the default).
pub enum AdminInput<T> {
    Json(T),
    Form(T),
}

impl<T> AdminInput<T> {
    fn into_parts(self) -> (T, bool) {
        match self {
            AdminInput::Json(value) => (value, false),
            AdminInput::Form(value) => (value, true),
        }
    }
}

impl<T, S> FromRequest<S> for AdminInput<T>
where
    T: DeserializeOwned + Default + Send + 'static,
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiFailure> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let Form(value) = Form::<T>::from_request(request, state).await.map_err(|err| {
                ApiFailure::bad_request("invalid_form", format!("invalid form fields: {err}"))
            })?;
            return Ok(AdminInput::Form(value));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(body_failure)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(AdminInput::Json(T::default()));
        }
        let value = parse_json(&bytes)?;
        Ok(AdminInput::Json(value))
    }
}

/// Optional `?store=` naming the store when a barcode is in several.
#[derive(Debug, Default, Deserialize)]
pub struct StoreQuery {
    store: Option<String>,
}

/// Response body of the parcel actions.
#[derive(Debug, Serialize)]
pub struct ParcelActionResponse {
    pub store_id: String,
    pub barcode: String,
    pub state: ParcelState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
}

/// Response body of `POST /admin/stores/{store}/enrolments`.
#[derive(Debug, Serialize)]
pub struct EnrolmentResponse {
    pub store_id: String,
    pub enrolment_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RecallInput {
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NoInput {}

#[derive(Debug, Default, Deserialize)]
pub struct DeadlineInput {
    deadline: Option<DateTime<Utc>>,
}

/// `GET /admin`: the HTML overview.
pub async fn page(
    State(state): State<SharedState>,
    _auth: AdminAuth,
) -> Result<Response, ApiFailure> {
    let overview = state
        .with_db(|conn, _| {
            Ok(Overview {
                stores: inspect::stores_at(conn)?,
                parcels: parcels::list(conn, None)?,
                events: inspect::events_at(conn, None)?,
                sms: inspect::sms_outbox_at(conn)?,
                conflicts: inspect::conflicts_at(conn)?,
            })
        })
        .await?;
    let html = page::render(&overview, &state.admin_token, Utc::now());
    Ok(private_html(html))
}

/// Wraps an admin HTML page with headers that keep it, and the admin token
/// in its address and forms, out of caches and `Referer` headers.
fn private_html(html: String) -> Response {
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /admin/sms`: the SMS outbox, oldest first.
pub async fn sms(
    State(state): State<SharedState>,
    _auth: AdminAuth,
) -> Result<Json<Vec<SmsRecord>>, ApiFailure> {
    let outbox = state.with_db(|conn, _| Ok(inspect::sms_outbox_at(conn)?)).await?;
    Ok(Json(outbox))
}

/// `POST /admin/parcels/{barcode}/recall`: the mall wants the parcel back.
pub async fn recall(
    State(state): State<SharedState>,
    _auth: AdminAuth,
    Path(barcode): Path<String>,
    Query(query): Query<StoreQuery>,
    input: AdminInput<RecallInput>,
) -> Result<Response, ApiFailure> {
    let (input, from_form) = input.into_parts();
    let reason = input
        .reason
        .map(|reason| reason.trim().to_string())
        .filter(|reason| !reason.is_empty())
        .unwrap_or_else(|| parcels::DEFAULT_RECALL_REASON.to_string());
    if let Err(reason) = parcels::check_recall_reason(&reason) {
        return Err(ApiFailure::bad_request("invalid_reason", reason));
    }
    let now = Utc::now();
    let answer = state
        .with_db(move |conn, _| {
            let tx = conn.transaction()?;
            let parcel = parcels::find_for_admin(&tx, &barcode, query.store.as_deref())?;
            let state = parcels::recall(&tx, &parcel, &reason, now)?;
            tx.commit()?;
            Ok(action_response(parcel.store_id, parcel.barcode, state))
        })
        .await?;
    Ok(respond(&state, answer, from_form))
}

/// `POST /admin/parcels/{barcode}/reissue`: sends the customer a new code.
pub async fn reissue(
    State(state): State<SharedState>,
    _auth: AdminAuth,
    Path(barcode): Path<String>,
    Query(query): Query<StoreQuery>,
    input: AdminInput<NoInput>,
) -> Result<Response, ApiFailure> {
    let (_, from_form) = input.into_parts();
    let now = Utc::now();
    let answer = state
        .with_db(move |conn, state| {
            let tx = conn.transaction()?;
            let parcel = parcels::find_for_admin(&tx, &barcode, query.store.as_deref())?;
            let code_id = parcels::reissue(&tx, &state.issuer(), &parcel, now)?;
            tx.commit()?;
            let mut answer = action_response(parcel.store_id, parcel.barcode, parcel.state);
            answer.code_id = Some(code_id);
            Ok(answer)
        })
        .await?;
    Ok(respond(&state, answer, from_form))
}

/// `POST /admin/parcels/{barcode}/deadline`: sets the collection deadline.
pub async fn set_deadline(
    State(state): State<SharedState>,
    _auth: AdminAuth,
    Path(barcode): Path<String>,
    Query(query): Query<StoreQuery>,
    input: AdminInput<DeadlineInput>,
) -> Result<Response, ApiFailure> {
    let (input, from_form) = input.into_parts();
    let Some(deadline) = input.deadline else {
        return Err(ApiFailure::bad_request(
            "missing_deadline",
            "missing deadline (RFC 3339 time)",
        ));
    };
    let now = Utc::now();
    let answer = state
        .with_db(move |conn, _| {
            let tx = conn.transaction()?;
            let parcel = parcels::find_for_admin(&tx, &barcode, query.store.as_deref())?;
            parcels::set_deadline(&tx, &parcel, deadline, now)?;
            tx.commit()?;
            let mut answer = action_response(parcel.store_id, parcel.barcode, parcel.state);
            answer.deadline = Some(deadline);
            Ok(answer)
        })
        .await?;
    Ok(respond(&state, answer, from_form))
}

/// `POST /admin/stores/{store}/enrolments`: creates a one-time enrolment
/// token, creating the store when it is new.
pub async fn create_enrolment(
    State(state): State<SharedState>,
    _auth: AdminAuth,
    Path(store): Path<String>,
    input: AdminInput<NoInput>,
) -> Result<Response, ApiFailure> {
    let (_, from_form) = input.into_parts();
    let now = Utc::now();
    let store_id = store.clone();
    let token = state
        .with_db(move |conn, _| {
            if let Err(err) = super::db::check_store_id(&store_id) {
                return Err(ApiFailure::bad_request("invalid_store", err.to_string()));
            }
            Ok(enrol::create_token(conn, &store_id, now)?)
        })
        .await?;
    let answer = EnrolmentResponse {
        store_id: store,
        enrolment_token: token,
        expires_at: now + ENROLMENT_TOKEN_LIFETIME,
    };
    if from_form {
        let html = page::render_enrolment(
            &answer.store_id,
            &answer.enrolment_token,
            answer.expires_at,
            &state.admin_token,
        );
        return Ok(private_html(html));
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `POST /admin/stores/{store}/parcels`: announces one parcel to the store.
pub async fn announce(
    State(state): State<SharedState>,
    _auth: AdminAuth,
    Path(store): Path<String>,
    JsonBody(parcel): JsonBody<ManifestParcel>,
) -> Result<Response, ApiFailure> {
    if let Err(reason) = parcels::check_manifest_parcel(&parcel) {
        return Err(ApiFailure::bad_request("invalid_parcel", reason));
    }
    let now = Utc::now();
    let announced = parcel.clone();
    state
        .with_db(move |conn, _| {
            if let Err(err) = super::db::check_store_id(&store) {
                return Err(ApiFailure::bad_request("invalid_store", err.to_string()));
            }
            let tx = conn.transaction()?;
            if !parcels::announce(&tx, &store, &announced, now)? {
                return Err(ApiFailure::conflict(format!(
                    "store {store} already has parcel {}",
                    announced.barcode
                )));
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(parcel)).into_response())
}

fn action_response(store_id: String, barcode: String, state: ParcelState) -> ParcelActionResponse {
    ParcelActionResponse { store_id, barcode, state, code_id: None, deadline: None }
}

/// Responds with JSON, or with a redirect back to the admin page for a form
/// post from that page.
fn respond(state: &SharedState, answer: ParcelActionResponse, from_form: bool) -> Response {
    if from_form {
        let location = format!("/admin?token={}", percent_encode(&state.admin_token));
        return Redirect::to(&location).into_response();
    }
    Json(answer).into_response()
}
