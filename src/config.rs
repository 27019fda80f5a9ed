//! Terminal settings: defaults, then a TOML file, then `PICKUP_TERMINAL_*`
//! environment variables, each layer overriding the one before.
//!
//! The file is `config.toml` in the platform config directory
//! (`~/.config/pickup-terminal/config.toml` on Linux) or the path given with
//! `--config`. An environment variable is named after the key:
//! `sync.interval_s` is `PICKUP_TERMINAL_SYNC_INTERVAL_S`. An invalid value
//! stops start-up with the key, the value and what is allowed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::desk::{DeskConfig, LockPolicy};
use crate::sync::SyncConfig;

/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "PICKUP_TERMINAL_";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub backend: BackendSettings,
    pub desk: DeskSettings,
    pub sync: SyncSettings,
    pub screen: ScreenSettings,
    pub ui: UiSettings,
    pub scanner: ScannerSettings,
    pub shelves: ShelfSettings,
    pub retention: RetentionSettings,
    pub logs: LogSettings,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendSettings {
    /// Address of the mall backend; unset means the embedded demo until the
    /// terminal is enrolled.
    pub url: Option<String>,
    /// A PEM certificate to trust for an https backend, besides the system roots.
    pub trusted_certificate: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeskSettings {
    pub shift_hours: u32,
    pub max_wrong_codes: u32,
    pub wrong_code_window_s: u32,
    pub code_lock_s: u32,
    pub reject_window_min: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    pub interval_s: u32,
    pub batch: u32,
    pub request_timeout_s: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScreenSettings {
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiSettings {
    /// `auto` (from the system locale), `en` or `zh_CN`.
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScannerSettings {
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    /// The same code again within this time is ignored.
    pub blanking_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShelfSettings {
    /// Shelf slots in the order the terminal suggests them, e.g. ["A1", "A2"].
    pub layout: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Days a handed-over or returned parcel is kept once the backend has
    /// its events.
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// Upper bound of the total size of the log files, in MiB.
    pub max_total_mb: u32,
    /// Lowest level written to the log files: `error`, `warn`, `info`,
    /// `debug` or `trace`.
    pub level: String,
}

impl Default for DeskSettings {
    fn default() -> DeskSettings {
        DeskSettings {
            shift_hours: 8,
            max_wrong_codes: 5,
            wrong_code_window_s: 600,
            code_lock_s: 60,
            reject_window_min: 10,
        }
    }
}

impl Default for SyncSettings {
    fn default() -> SyncSettings {
        SyncSettings { interval_s: 30, batch: 100, request_timeout_s: 10 }
    }
}

impl Default for ScreenSettings {
    fn default() -> ScreenSettings {
        ScreenSettings { width: 480, height: 800 }
    }
}

impl Default for UiSettings {
    fn default() -> UiSettings {
        UiSettings { language: "auto".to_owned() }
    }
}

impl Default for ScannerSettings {
    fn default() -> ScannerSettings {
        ScannerSettings { prefixes: Vec::new(), suffixes: Vec::new(), blanking_ms: 300 }
    }
}

impl Default for ShelfSettings {
    /// Three shelves of six slots: A1 to A6, B1 to B6, C1 to C6.
    fn default() -> ShelfSettings {
        let layout = ["A", "B", "C"]
            .iter()
            .flat_map(|shelf| (1..=6).map(move |slot| format!("{shelf}{slot}")))
            .collect();
        ShelfSettings { layout }
    }
}

impl Default for RetentionSettings {
    fn default() -> RetentionSettings {
        RetentionSettings { days: 30 }
    }
}

impl Default for LogSettings {
    fn default() -> LogSettings {
        LogSettings { max_total_mb: 20, level: "info".to_owned() }
    }
}

/// Levels accepted by `logs.level`.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is invalid: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("setting {key} = {value} is invalid: {allowed}")]
    Value { key: String, value: String, allowed: String },
    #[error("writing config file {path} failed: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The settings the clerk can change on the Settings screen, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkSettings {
    /// Backend address; empty unsets it.
    pub backend_url: String,
    /// `auto`, `en` or `zh_CN`.
    pub language: String,
    /// Length of a sign-in, in whole hours.
    pub shift_hours: String,
}

/// Whole-number settings with their allowed range and unit, for validation
/// and for the environment overrides.
const NUMBERS: &[(&str, u32, u32, &str)] = &[
    ("desk.shift_hours", 1, 24, "hours"),
    ("desk.max_wrong_codes", 1, 100, "wrong codes"),
    ("desk.wrong_code_window_s", 10, 86_400, "seconds"),
    ("desk.code_lock_s", 1, 86_400, "seconds"),
    ("desk.reject_window_min", 0, 1_440, "minutes"),
    ("sync.interval_s", 1, 3_600, "seconds"),
    ("sync.batch", 1, crate::protocol::MAX_PUSH_EVENTS as u32, "events"),
    ("sync.request_timeout_s", 1, 300, "seconds"),
    ("screen.width", 240, 4_096, "pixels"),
    ("screen.height", 240, 4_096, "pixels"),
    ("scanner.blanking_ms", 0, 10_000, "milliseconds"),
    ("retention.days", 1, 3_650, "days"),
    ("logs.max_total_mb", 1, 1_024, "MiB"),
];

const TEXTS: &[&str] = &["backend.url", "backend.trusted_certificate", "ui.language", "logs.level"];
const LISTS: &[&str] = &["scanner.prefixes", "scanner.suffixes", "shelves.layout"];

impl Config {
    /// Returns the default file path: `config.toml` in the platform config
    /// directory.
    pub fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "pickup-terminal")
            .map(|dirs| dirs.config_dir().join("config.toml"))
    }

    /// Loads the settings. `explicit` is a `--config` path, which must exist;
    /// the default path may be missing.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        match explicit {
            Some(path) => Config::load_from(Some(path), true, &vars),
            None => Config::load_from(Config::default_path().as_deref(), false, &vars),
        }
    }

    /// Loads from `path` (if given) and the environment `vars`.
    pub fn load_from(
        path: Option<&Path>,
        must_exist: bool,
        vars: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let mut table = match path {
            Some(path) => read_table(path, must_exist)?,
            None => toml::Table::new(),
        };
        apply_env(&mut table, vars)?;
        let origin = path.map(Path::to_owned).unwrap_or_else(|| PathBuf::from("(environment)"));
        let config: Config =
            toml::Value::Table(table).try_into().map_err(|error: toml::de::Error| {
                ConfigError::Parse { path: origin, detail: error.message().to_owned() }
            })?;
        config.validate()?;
        Ok(config)
    }

    fn number(&self, key: &str) -> u32 {
        match key {
            "desk.shift_hours" => self.desk.shift_hours,
            "desk.max_wrong_codes" => self.desk.max_wrong_codes,
            "desk.wrong_code_window_s" => self.desk.wrong_code_window_s,
            "desk.code_lock_s" => self.desk.code_lock_s,
            "desk.reject_window_min" => self.desk.reject_window_min,
            "sync.interval_s" => self.sync.interval_s,
            "sync.batch" => self.sync.batch,
            "sync.request_timeout_s" => self.sync.request_timeout_s,
            "screen.width" => self.screen.width,
            "screen.height" => self.screen.height,
            "scanner.blanking_ms" => self.scanner.blanking_ms,
            "retention.days" => self.retention.days,
            "logs.max_total_mb" => self.logs.max_total_mb,
            other => unreachable!("{other} is not a number setting"),
        }
    }

    /// Checks every value against its allowed range or form.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for &(key, min, max, unit) in NUMBERS {
            let value = self.number(key);
            if !(min..=max).contains(&value) {
                return Err(number_error(key, &value.to_string(), min, max, unit));
            }
        }
        if !matches!(self.ui.language.as_str(), "auto" | "en" | "zh_CN") {
            return Err(ConfigError::Value {
                key: "ui.language".to_owned(),
                value: format!("{:?}", self.ui.language),
                allowed: "use \"auto\", \"en\" or \"zh_CN\"".to_owned(),
            });
        }
        if !LOG_LEVELS.contains(&self.logs.level.as_str()) {
            return Err(ConfigError::Value {
                key: "logs.level".to_owned(),
                value: format!("{:?}", self.logs.level),
                allowed: format!("use one of {}", LOG_LEVELS.join(", ")),
            });
        }
        let valid_slot = |slot: &String| {
            (1..=32).contains(&slot.len())
                && slot.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if let Some(slot) = self.shelves.layout.iter().find(|slot| !valid_slot(slot)) {
            return Err(ConfigError::Value {
                key: "shelves.layout".to_owned(),
                value: format!("{slot:?}"),
                allowed: "use shelf slots of 1 to 32 letters, digits or '-'".to_owned(),
            });
        }
        if let Some(url) = &self.backend.url {
            validate_backend_url(url)?;
        }
        Ok(())
    }

    /// Returns these settings with the Settings screen's `changes` applied,
    /// checked with the same rules and messages as the file.
    pub fn with_clerk_settings(&self, changes: &ClerkSettings) -> Result<Config, ConfigError> {
        let mut config = self.clone();
        let url = changes.backend_url.trim();
        config.backend.url = (!url.is_empty()).then(|| url.to_owned());
        config.ui.language = changes.language.trim().to_owned();
        config.desk.shift_hours = parse_number("desk.shift_hours", &changes.shift_hours)?;
        config.validate()?;
        Ok(config)
    }

    /// Writes the values the Settings screen changes (`backend.url`,
    /// `ui.language`, `desk.shift_hours`) into the file at `path`, keeping
    /// its other keys. The file is replaced in one rename, so a failed write
    /// leaves the old file.
    ///
    /// NOTE: comments in the file are not kept, because the file is parsed
    /// and written again as a table.
    pub fn save_clerk_settings(&self, path: &Path) -> Result<(), ConfigError> {
        let mut table = read_table(path, false)?;
        let mut set = |section: &str, field: &str, value: Option<toml::Value>| {
            let entry =
                table.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(section_table) = entry.as_table_mut() {
                match value {
                    Some(value) => section_table.insert(field.to_owned(), value),
                    None => section_table.remove(field),
                };
            }
        };
        set("backend", "url", self.backend.url.clone().map(toml::Value::String));
        set("ui", "language", Some(toml::Value::String(self.ui.language.clone())));
        set("desk", "shift_hours", Some(toml::Value::Integer(i64::from(self.desk.shift_hours))));

        let write_error = |source| ConfigError::Write { path: path.to_owned(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        let text = toml::to_string(&table).map_err(|error| ConfigError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(error),
        })?;
        let temporary = path.with_extension("toml.tmp");
        std::fs::write(&temporary, text).map_err(write_error)?;
        std::fs::rename(&temporary, path).map_err(write_error)?;
        tracing::info!(path = %path.display(), "config: settings saved");
        Ok(())
    }

    /// Returns the desk's rule settings.
    pub fn desk_config(&self) -> DeskConfig {
        let seconds = |value: u32| chrono::Duration::seconds(i64::from(value));
        DeskConfig {
            lock: LockPolicy {
                max_failures: self.desk.max_wrong_codes,
                window: seconds(self.desk.wrong_code_window_s),
                lock_for: seconds(self.desk.code_lock_s),
            },
            shift: chrono::Duration::hours(i64::from(self.desk.shift_hours)),
            reject_window: chrono::Duration::minutes(i64::from(self.desk.reject_window_min)),
            shelves: self.shelves.layout.clone(),
            retention: chrono::Duration::days(i64::from(self.retention.days)),
        }
    }

    /// Returns the sync engine's settings.
    pub fn sync_config(&self) -> SyncConfig {
        let seconds = |value: u32| std::time::Duration::from_secs(u64::from(value));
        SyncConfig {
            interval: seconds(self.sync.interval_s),
            batch: self.sync.batch as usize,
            request_timeout: seconds(self.sync.request_timeout_s),
            extra_root_cert: self.backend.trusted_certificate.clone(),
            ..SyncConfig::default()
        }
    }
}

/// Checks a backend address: http:// or https:// and a host.
pub fn validate_backend_url(url: &str) -> Result<(), ConfigError> {
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if !scheme_ok || url.len() < 10 {
        return Err(ConfigError::Value {
            key: "backend.url".to_owned(),
            value: format!("{url:?}"),
            allowed: "use an http:// or https:// address".to_owned(),
        });
    }
    Ok(())
}

/// Parses typed text as the whole-number setting `key`, with the file's
/// message for a value out of range.
pub fn parse_number(key: &str, raw: &str) -> Result<u32, ConfigError> {
    let &(_, min, max, unit) =
        NUMBERS.iter().find(|entry| entry.0 == key).ok_or_else(|| ConfigError::Value {
            key: key.to_owned(),
            value: format!("{raw:?}"),
            allowed: "this setting is not a number".to_owned(),
        })?;
    let value: u32 =
        raw.trim().parse().map_err(|_| number_error(key, &format!("{raw:?}"), min, max, unit))?;
    if !(min..=max).contains(&value) {
        return Err(number_error(key, &value.to_string(), min, max, unit));
    }
    Ok(value)
}

fn number_error(key: &str, value: &str, min: u32, max: u32, unit: &str) -> ConfigError {
    ConfigError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        allowed: format!("use a whole number of {unit} from {min} to {max}"),
    }
}

fn read_table(path: &Path, must_exist: bool) -> Result<toml::Table, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            return Ok(toml::Table::new());
        }
        Err(source) => return Err(ConfigError::Read { path: path.to_owned(), source }),
    };
    text.parse::<toml::Table>()
        .map_err(|error| ConfigError::Parse { path: path.to_owned(), detail: error.to_string() })
}

/// Returns the environment variable name of a key: `sync.interval_s` is
/// `PICKUP_TERMINAL_SYNC_INTERVAL_S`.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

fn apply_env(table: &mut toml::Table, vars: &[(String, String)]) -> Result<(), ConfigError> {
    let keys = NUMBERS
        .iter()
        .map(|entry| entry.0)
        .chain(TEXTS.iter().copied())
        .chain(LISTS.iter().copied());
    for key in keys {
        let name = env_name(key);
        let Some((_, raw)) = vars.iter().find(|(var, _)| *var == name) else { continue };
        let value = env_value(key, raw)?;
        let (section, field) = key.split_once('.').expect("every key has a section");
        let entry = table.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = entry.as_table_mut() else {
            return Err(ConfigError::Value {
                key: section.to_owned(),
                value: entry.to_string(),
                allowed: "use a [section] table".to_owned(),
            });
        };
        section_table.insert(field.to_owned(), value);
    }
    Ok(())
}

/// Parses an environment value: numbers as whole numbers, lists as
/// comma-separated text, the rest as text.
fn env_value(key: &str, raw: &str) -> Result<toml::Value, ConfigError> {
    if NUMBERS.iter().any(|entry| entry.0 == key) {
        let number: i64 = raw.trim().parse().map_err(|_| ConfigError::Value {
            key: env_name(key),
            value: format!("{raw:?}"),
            allowed: "use a whole number".to_owned(),
        })?;
        return Ok(toml::Value::Integer(number));
    }
    if LISTS.contains(&key) {
        let items = raw.split(',').map(str::trim).filter(|item| !item.is_empty());
        return Ok(toml::Value::Array(
            items.map(|item| toml::Value::String(item.to_owned())).collect(),
        ));
    }
    Ok(toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        let vars: Vec<(String, String)> =
            vars.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        Config::load_from(Some(&path), true, &vars)
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(load("", &[]).unwrap(), Config::default());
    }

    #[test]
    fn file_overrides_defaults() {
        let config =
            load("[sync]\ninterval_s = 5\n[shelves]\nlayout = [\"A1\", \"A2\"]\n", &[]).unwrap();
        assert_eq!(config.sync.interval_s, 5);
        assert_eq!(config.shelves.layout, ["A1", "A2"]);
        assert_eq!(config.desk.shift_hours, 8);
    }

    #[test]
    fn environment_overrides_file() {
        let vars = [
            ("PICKUP_TERMINAL_SYNC_INTERVAL_S", "7"),
            ("PICKUP_TERMINAL_SCANNER_PREFIXES", "#, ~"),
        ];
        let config = load("[sync]\ninterval_s = 5\n", &vars).unwrap();
        assert_eq!(config.sync.interval_s, 7);
        assert_eq!(config.scanner.prefixes, ["#", "~"]);
    }

    #[test]
    fn out_of_range_value_names_key_and_range() {
        let error = load("[sync]\ninterval_s = 0\n", &[]).unwrap_err().to_string();
        assert!(error.contains("sync.interval_s = 0"), "{error}");
        assert!(error.contains("from 1 to 3600"), "{error}");
    }

    #[test]
    fn unknown_key_is_invalid() {
        let error = load("[sync]\nintervall_s = 5\n", &[]).unwrap_err().to_string();
        assert!(error.contains("intervall_s"), "{error}");
    }

    #[test]
    fn wrong_type_is_invalid() {
        let error = load("[desk]\nshift_hours = \"eight\"\n", &[]).unwrap_err().to_string();
        assert!(error.contains("invalid"), "{error}");
    }

    #[test]
    fn non_numeric_environment_value_is_invalid() {
        let error =
            load("", &[("PICKUP_TERMINAL_DESK_CODE_LOCK_S", "soon")]).unwrap_err().to_string();
        assert!(error.contains("PICKUP_TERMINAL_DESK_CODE_LOCK_S"), "{error}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let result = Config::load_from(Some(Path::new("/nonexistent/config.toml")), true, &[]);
        assert!(matches!(result, Err(ConfigError::Read { .. })));
    }

    #[test]
    fn overlong_shelf_slot_is_invalid() {
        let error = load("", &[("PICKUP_TERMINAL_SHELVES_LAYOUT", &"Q".repeat(100))]).unwrap_err();
        assert!(error.to_string().contains("shelves.layout"), "{error}");
    }

    fn screen(url: &str, language: &str, shift_hours: &str) -> ClerkSettings {
        ClerkSettings {
            backend_url: url.to_owned(),
            language: language.to_owned(),
            shift_hours: shift_hours.to_owned(),
        }
    }

    #[test]
    fn clerk_settings_use_file_messages() {
        let config = Config::default();
        let error = config.with_clerk_settings(&screen("", "en", "30")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "setting desk.shift_hours = 30 is invalid: use a whole number of hours from 1 to 24"
        );
        let error = config.with_clerk_settings(&screen("", "en", "eight")).unwrap_err();
        assert!(error.to_string().contains("from 1 to 24"), "{error}");
        let error = config.with_clerk_settings(&screen("ftp://x", "en", "8")).unwrap_err();
        assert!(error.to_string().contains("backend.url"), "{error}");
        let error = config.with_clerk_settings(&screen("", "fr", "8")).unwrap_err();
        assert!(error.to_string().contains("ui.language"), "{error}");
    }

    #[test]
    fn saved_clerk_settings_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[sync]\ninterval_s = 5\n[backend]\nurl = \"http://old.test\"\n")
            .unwrap();
        let loaded = Config::load_from(Some(&path), true, &[]).unwrap();
        let changed = loaded.with_clerk_settings(&screen("", "zh_CN", "10")).unwrap();
        changed.save_clerk_settings(&path).unwrap();

        let reloaded = Config::load_from(Some(&path), true, &[]).unwrap();
        assert_eq!(reloaded.desk.shift_hours, 10);
        assert_eq!(reloaded.ui.language, "zh_CN");
        assert_eq!(reloaded.backend.url, None);
        assert_eq!(reloaded.sync.interval_s, 5, "other keys are kept");
    }

    #[test]
    fn bad_language_lists_choices() {
        let error = load("[ui]\nlanguage = \"fr\"\n", &[]).unwrap_err().to_string();
        assert!(error.contains("zh_CN"), "{error}");
    }
}
