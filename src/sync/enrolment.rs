//! Enrolment: trading a one-time token from the mall for this terminal's id,
//! bearer token and code-hash key.

use std::path::Path;

use super::client::ApiClient;
use super::engine::{SyncConfig, SyncError, client_error};
use crate::store::credentials::Credentials;

/// Enrols the terminal with the backend at `backend_url` and saves the
/// credentials in `data_dir`, replacing earlier ones.
pub async fn enroll(
    data_dir: &Path,
    backend_url: &str,
    enrolment_token: &str,
    config: &SyncConfig,
) -> Result<Credentials, SyncError> {
    let url = backend_url.trim_end_matches('/');
    let certificate = config.read_extra_root_cert()?;
    let client = ApiClient::new(url, None, certificate, config.request_timeout)
        .map_err(|error| SyncError::Protocol(error.to_string()))?;
    let response = client.enroll(enrolment_token.trim()).await.map_err(client_error)?;
    let credentials = Credentials {
        backend_url: url.to_owned(),
        terminal_id: response.terminal_id,
        store_id: response.store_id,
        token: response.token,
        code_key: response.code_key,
    };
    credentials.code_key_bytes().map_err(SyncError::Protocol)?;
    std::fs::create_dir_all(data_dir)
        .map_err(|source| SyncError::DataDir { path: data_dir.to_owned(), source })?;
    credentials.save(data_dir)?;
    tracing::info!(
        terminal_id = %credentials.terminal_id,
        store_id = %credentials.store_id,
        "sync: terminal enrolled"
    );
    Ok(credentials)
}
