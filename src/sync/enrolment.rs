//! Enrolment: trading a one-time token from the mall for this terminal's id,
//! bearer token and code-hash key.

use std::path::Path;

use super::client::ApiClient;
use super::engine::{SyncConfig, SyncError, client_error};
use crate::store::credentials::Credentials;
use crate::store::{self, outbox, sync_state};

/// Enrols the terminal with the backend at `backend_url` and saves the
/// credentials in `data_dir`, replacing earlier ones. Fails with
/// [`SyncError::UnsentEvents`] when the terminal is already enrolled and
/// has unsent events; see [`enroll_with`].
pub async fn enroll(
    data_dir: &Path,
    backend_url: &str,
    enrolment_token: &str,
    config: &SyncConfig,
) -> Result<Credentials, SyncError> {
    enroll_with(data_dir, backend_url, enrolment_token, config, false).await
}

/// Enrols the terminal like [`enroll`]. A terminal that is already enrolled
/// and has unsent events is enrolled again only with `force`, because the
/// events belong to the old enrolment's store. With `force` and a token for
/// another store, the unsent events are quarantined with the reason. So
/// `status` and the Problems list show them, and none is deleted. The check
/// runs before the token is used, so a refusal leaves the token valid.
///
/// A failure is also stored as the last sync error, for `status`.
pub async fn enroll_with(
    data_dir: &Path,
    backend_url: &str,
    enrolment_token: &str,
    config: &SyncConfig,
    force: bool,
) -> Result<Credentials, SyncError> {
    let result = exchange_token(data_dir, backend_url, enrolment_token, config, force).await;
    if let Err(error) = &result {
        record_failure(data_dir, error);
    }
    result
}

async fn exchange_token(
    data_dir: &Path,
    backend_url: &str,
    enrolment_token: &str,
    config: &SyncConfig,
    force: bool,
) -> Result<Credentials, SyncError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|source| SyncError::DataDir { path: data_dir.to_owned(), source })?;
    let mut conn = store::open(&data_dir.join(store::DB_FILE))?;
    let previous = Credentials::load(data_dir)?;
    let unsent = outbox::summary(&conn)?.depth;
    if let Some(previous) = &previous
        && unsent > 0
        && !force
    {
        return Err(SyncError::UnsentEvents { count: unsent, store_id: previous.store_id.clone() });
    }

    let url = backend_url.trim().trim_end_matches('/');
    let certificate = config.read_extra_root_cert()?;
    let client =
        ApiClient::new(url, None, certificate, config.request_timeout).map_err(client_error)?;
    let response = client.enroll(enrolment_token.trim()).await.map_err(client_error)?;
    let credentials = Credentials {
        backend_url: url.to_owned(),
        terminal_id: response.terminal_id,
        store_id: response.store_id,
        token: response.token,
        code_key: response.code_key,
    };
    credentials.code_key_bytes().map_err(SyncError::Protocol)?;

    // The local changes come first: should the power fail before the new
    // credentials are saved, the events are quarantined, never sent to the
    // new store.
    let tx = conn.transaction()?;
    if let Some(previous) = &previous {
        leave_enrolment(&tx, previous, &credentials)?;
    }
    tx.commit()?;
    credentials.save(data_dir)?;
    tracing::info!(
        terminal_id = %credentials.terminal_id,
        store_id = %credentials.store_id,
        "sync: terminal enrolled"
    );
    Ok(credentials)
}

/// Settles what the previous enrolment left: unsent events of another
/// store are quarantined, and the pull cursor starts over when the store or
/// backend changes, because a cursor only counts the old store's changes.
fn leave_enrolment(
    tx: &rusqlite::Transaction<'_>,
    previous: &Credentials,
    next: &Credentials,
) -> Result<(), SyncError> {
    if previous.store_id != next.store_id {
        let reason = format!(
            "not sent: the terminal was enrolled into store {} while this event for store {} \
             was unsent; call the mall's customer service about this parcel",
            next.store_id, previous.store_id
        );
        let quarantined = outbox::quarantine_pending(tx, &reason)?;
        if quarantined > 0 {
            tracing::warn!(
                quarantined,
                old_store_id = %previous.store_id,
                store_id = %next.store_id,
                "sync: unsent events of the old store quarantined"
            );
        }
    }
    if previous.store_id != next.store_id || previous.backend_url != next.backend_url {
        sync_state::clear_cursor(tx)?;
    }
    Ok(())
}

fn record_failure(data_dir: &Path, error: &SyncError) {
    let recorded = store::open(&data_dir.join(store::DB_FILE))
        .and_then(|conn| sync_state::record_failure(&conn, &error.to_string()));
    if let Err(record_error) = recorded {
        tracing::warn!(error = %record_error, "sync: recording the enrolment failure failed");
    }
}
