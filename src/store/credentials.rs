//! The terminal's enrolment: its id, the bearer token and the code-hash key,
//! kept in a file that only the owner may read (mode 0600), apart from the
//! database.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the credentials inside the data directory.
pub const CREDENTIALS_FILE: &str = "credentials.json";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub backend_url: String,
    pub terminal_id: String,
    pub store_id: String,
    pub token: String,
    /// Hex-encoded key of the code hashes.
    pub code_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("backend_url", &self.backend_url)
            .field("terminal_id", &self.terminal_id)
            .field("store_id", &self.store_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("credentials file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("credentials file {path} is invalid ({detail}): enrol the terminal again")]
    Invalid { path: PathBuf, detail: String },
}

impl Credentials {
    /// Decodes the code-hash key.
    pub fn code_key_bytes(&self) -> Result<Vec<u8>, String> {
        hex::decode(&self.code_key).map_err(|error| format!("code key is not hex: {error}"))
    }

    /// Reads the credentials in `data_dir`; `None` when the terminal is not
    /// enrolled.
    pub fn load(data_dir: &Path) -> Result<Option<Credentials>, CredentialsError> {
        let path = data_dir.join(CREDENTIALS_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CredentialsError::Io { path, source }),
        };
        let credentials: Credentials = serde_json::from_str(&text).map_err(|error| {
            CredentialsError::Invalid { path: path.clone(), detail: error.to_string() }
        })?;
        credentials
            .code_key_bytes()
            .map_err(|detail| CredentialsError::Invalid { path: path.clone(), detail })?;
        Ok(Some(credentials))
    }

    /// Writes the credentials atomically: a 0600 temporary file, synced, then
    /// renamed over the old one.
    pub fn save(&self, data_dir: &Path) -> Result<(), CredentialsError> {
        let path = data_dir.join(CREDENTIALS_FILE);
        let temporary = data_dir.join(format!("{CREDENTIALS_FILE}.tmp"));
        let io_error = |source| CredentialsError::Io { path: path.clone(), source };
        let text = serde_json::to_vec_pretty(self).expect("credentials serialize to JSON");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(io_error)?;
        file.write_all(&text).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        fs::rename(&temporary, &path).map_err(io_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Credentials {
        Credentials {
            backend_url: "http://127.0.0.1:1".into(),
            terminal_id: "T1".into(),
            store_id: "S1".into(),
            token: "secret-token".into(),
            code_key: "00ff".into(),
        }
    }

    #[test]
    fn saved_credentials_load_back() {
        let dir = tempfile::tempdir().unwrap();
        sample().save(dir.path()).unwrap();
        assert_eq!(Credentials::load(dir.path()).unwrap(), Some(sample()));
    }

    #[cfg(unix)]
    #[test]
    fn credentials_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        sample().save(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(CREDENTIALS_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn debug_hides_token_and_key() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("secret-token"));
        assert!(!text.contains("00ff"));
    }

    #[test]
    fn missing_file_means_not_enrolled() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Credentials::load(dir.path()).unwrap(), None);
    }
}
