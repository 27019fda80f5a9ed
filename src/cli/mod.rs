//! The `pickup-terminal` command line: the desk's operations for store IT and
//! scripts, and the entry point that opens the clerk's screen.
//!
//! Exit status: 0 on success, 2 for invalid input, 3 when a lifecycle rule
//! rejects the action, 1 for internal failures.

mod counter;
mod decode;
mod output;

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::desk::{Desk, DeskError, Receipt};
use crate::protocol::RejectReason;
use crate::store::parcels::ParcelState;
use crate::sync::{self, SyncError};
use crate::{logs, support};

/// Exit status for invalid input.
pub const EXIT_INVALID: i32 = 2;

#[derive(Debug, Parser)]
#[command(name = "pickup-terminal", version, about = "Parcel pickup terminal for store clerks")]
pub struct Cli {
    /// Directory of the terminal database and credentials [default: the
    /// platform data directory, e.g. ~/.local/share/pickup-terminal]
    #[arg(long, global = true, env = "PICKUP_TERMINAL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Settings file [default: config.toml in the platform config directory,
    /// e.g. ~/.config/pickup-terminal/config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Backend address for this start of the clerk's screen or for one
    /// `sync`, in place of the enrolled one (no embedded demo then)
    #[arg(long, value_name = "URL")]
    pub backend: Option<String>,

    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show parcel counts, the outbox and the sync state
    Status,
    /// Receive a parcel by its barcode, or reject it with --damaged
    Receive(ReceiveArgs),
    /// Reject a parcel at the door as damaged, with an optional photo
    Reject(counter::RejectArgs),
    /// Courier drop sessions: receipts and rejections count towards the open one
    #[command(subcommand)]
    Drop(counter::DropCommand),
    /// Check a stock of the shelves: scan every parcel, then compare
    #[command(subcommand)]
    Stocktake(counter::StocktakeCommand),
    /// Count what each operator did on one day
    Report(counter::ReportArgs),
    /// Hand a parcel over: the customer's code, then the parcel's barcode;
    /// without --confirm, list the parcels the code unlocks
    Handover(HandoverArgs),
    /// List parcels
    Parcels {
        /// Only parcels in this state (expected, received, ready, rejected,
        /// handed_over, return_pending, returned, cancelled)
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
    },
    /// List events not yet applied by the backend
    Queue,
    /// Record that the customer refused a parcel at the counter
    Refuse {
        barcode: OsString,
        #[arg(long)]
        note: Option<String>,
    },
    /// Give a parcel that is to be returned back to the courier, or scan it
    /// into the open return session
    Return(counter::ReturnArgs),
    /// Mark every parcel past its collection deadline as to be returned
    Overdue,
    /// Put a parcel on another shelf
    Shelf { barcode: OsString, shelf: String },
    /// Ask the mall to text the customer a new code
    Reissue { barcode: OsString },
    /// Manage operators
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Sign an operator in for one shift (PIN from --pin or the first line of stdin)
    SignIn {
        operator: String,
        #[arg(long, env = "PICKUP_TERMINAL_PIN", hide_env_values = true)]
        pin: Option<String>,
    },
    /// Sign the current operator out
    SignOut,
    /// Push the queued events to the backend and pull its changes, once
    Sync,
    /// Enrol this terminal with the mall's backend, using a one-time token
    Enroll {
        /// Address of the backend, e.g. https://mall.example.com
        #[arg(long, value_name = "URL")]
        backend: String,
        /// The one-time enrolment token from the mall's admin
        #[arg(long, value_name = "TOKEN")]
        token: String,
        /// Enrol even though events are unsent: they are kept as quarantined
        /// events (see `status`) when the new enrolment is for another store
        #[arg(long)]
        force: bool,
    },
    /// Print the barcodes and QR codes found in PNG or JPEG images
    Decode(decode::DecodeArgs),
    /// Print the log lines written since a time
    Logs {
        /// An age such as 30m, 1h or 2d, or an RFC 3339 time such as
        /// 2026-01-31T08:00:00Z
        #[arg(long, value_name = "AGE|TIME", default_value = "1h")]
        since: String,
    },
    /// Write a support bundle (status, queue, settings, recent logs) with no
    /// personal data, to FILE or to stdout
    Export {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ReceiveArgs {
    pub barcode: OsString,
    /// Reject the parcel at the door: crushed, wet, torn, opened, wrong_address or other
    #[arg(long, value_name = "REASON")]
    pub damaged: Option<String>,
    /// A note to go with a rejection
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// A JPEG photo of the damage to go with a rejection, at most 512 KiB
    #[arg(long, value_name = "FILE")]
    pub photo: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HandoverArgs {
    /// The customer's six-digit verification code
    pub code: OsString,
    /// Barcode of the parcel in hand
    #[arg(long, value_name = "BARCODE")]
    pub confirm: Option<OsString>,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Add an operator or change their name and PIN (PIN from --pin or stdin)
    Add {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, env = "PICKUP_TERMINAL_PIN", hide_env_values = true)]
        pin: Option<String>,
    },
    /// List operators
    List,
}

/// Returns the data directory: the flag or environment, else the platform's.
pub fn data_dir(cli: &Cli) -> Result<PathBuf, DeskError> {
    if let Some(dir) = &cli.data_dir {
        return Ok(dir.clone());
    }
    directories::ProjectDirs::from("", "", "pickup-terminal")
        .map(|dirs| dirs.data_dir().to_owned())
        .ok_or_else(|| {
            DeskError::Invalid("no home directory found: pass --data-dir DIR".to_owned())
        })
}

/// Runs one desk command and returns the exit status.
pub fn run(cli: &Cli, command: &Command) -> i32 {
    let config = load_config(cli);
    // Reading images or logs is no terminal activity, so it writes no log file.
    let to_files = !matches!(command, Command::Decode(_) | Command::Logs { .. });
    start_logging(cli, config.as_ref().ok(), "warn", to_files);
    if let Command::Decode(args) = command {
        return decode::run(args, cli.json);
    }
    match config.and_then(|config| execute(cli, &config, command)) {
        Ok(()) => 0,
        Err(error) => {
            output::error(cli.json, &error);
            error.exit_code()
        }
    }
}

/// Loads the settings, mapping an invalid file to invalid input.
pub fn load_config(cli: &Cli) -> Result<Config, DeskError> {
    Config::load(cli.config.as_deref()).map_err(|error| DeskError::Invalid(error.to_string()))
}

fn execute(cli: &Cli, config: &Config, command: &Command) -> Result<(), DeskError> {
    match command {
        Command::Sync => return sync(cli, config),
        Command::Enroll { backend, token, force } => {
            return enroll(cli, config, backend, token, *force);
        }
        Command::Logs { since } => return print_logs(cli, since),
        Command::Export { out } => return export(cli, config, out.as_deref()),
        _ => {}
    }
    let mut desk = Desk::open(&data_dir(cli)?, config.desk_config())?;
    let json = cli.json;
    match command {
        Command::Status => output::status(json, &desk.status()?),
        Command::Receive(args) => receive(&mut desk, json, args)?,
        Command::Handover(args) => {
            let code = text_arg("code", &args.code)?;
            match &args.confirm {
                Some(barcode) => {
                    let barcode = text_arg("barcode", barcode)?;
                    output::parcel(json, "handed over", &desk.hand_over(&code, &barcode)?);
                }
                None => output::parcels(json, &desk.parcels_for_code(&code)?),
            }
        }
        Command::Parcels { state } => {
            let state = state.as_deref().map(parse_state).transpose()?;
            output::parcels(json, &desk.parcels(state)?);
        }
        Command::Queue => output::queue(json, &desk.queue()?),
        Command::Refuse { barcode, note } => {
            let parcel = desk.refuse(&text_arg("barcode", barcode)?, note.as_deref())?;
            output::parcel(json, "refused", &parcel);
        }
        Command::Reject(args) => counter::reject(&mut desk, json, args)?,
        Command::Drop(command) => counter::drop_session(&mut desk, json, command)?,
        Command::Return(args) => counter::return_parcel(&mut desk, json, args)?,
        Command::Stocktake(command) => counter::stocktake(&mut desk, json, command)?,
        Command::Report(args) => counter::report(&desk, json, args)?,
        Command::Overdue => output::parcels(json, &desk.mark_overdue()?),
        Command::Shelf { barcode, shelf } => {
            let parcel = desk.move_to_shelf(&text_arg("barcode", barcode)?, shelf)?;
            output::parcel(json, "moved", &parcel);
        }
        Command::Reissue { barcode } => {
            let parcel = desk.request_reissue(&text_arg("barcode", barcode)?)?;
            output::parcel(json, "new code requested", &parcel);
        }
        Command::Operator(OperatorCommand::Add { id, name, pin }) => {
            let pin = pin_arg(pin.as_deref())?;
            desk.add_operator(id, name.as_deref().unwrap_or(id), &pin)?;
            output::message(json, "operator_saved", &format!("operator {id} saved"));
        }
        Command::Operator(OperatorCommand::List) => output::operators(json, &desk.operators()?),
        Command::SignIn { operator, pin } => {
            let pin = pin_arg(pin.as_deref())?;
            let signed_in = desk.sign_in(operator, &pin)?;
            output::message(
                json,
                "signed_in",
                &format!(
                    "{} signed in until {}",
                    signed_in.id,
                    signed_in.expires_at.format("%Y-%m-%d %H:%M UTC")
                ),
            );
        }
        Command::SignOut => {
            desk.sign_out()?;
            output::message(json, "signed_out", "signed out");
        }
        Command::Sync
        | Command::Enroll { .. }
        | Command::Decode(_)
        | Command::Logs { .. }
        | Command::Export { .. } => unreachable!("handled before the desk opens"),
    }
    Ok(())
}

fn receive(desk: &mut Desk, json: bool, args: &ReceiveArgs) -> Result<(), DeskError> {
    let barcode = text_arg("barcode", &args.barcode)?;
    if let Some(reason) = &args.damaged {
        let reason = parse_reason(reason)?;
        let photo = args.photo.as_deref().map(counter::read_photo).transpose()?;
        let parcel =
            desk.reject_with_photo(&barcode, reason, args.note.as_deref(), photo.as_deref())?;
        output::parcel(json, "rejected", &parcel);
        return Ok(());
    }
    if args.note.is_some() {
        return Err(DeskError::Invalid("--note goes with --damaged REASON".to_owned()));
    }
    if args.photo.is_some() {
        return Err(DeskError::Invalid("--photo goes with --damaged REASON".to_owned()));
    }
    match desk.receive(&barcode)? {
        Receipt::Received { parcel, .. } if parcel.unexpected => {
            output::parcel(json, "received (not in the manifest)", &parcel)
        }
        Receipt::Received { parcel, .. } => output::parcel(json, "received", &parcel),
        Receipt::AlreadyReceived { parcel } => output::already_received(json, &parcel),
    }
    Ok(())
}

/// Parses a damage reason, listing the known ones when it is unknown.
fn parse_reason(reason: &str) -> Result<RejectReason, DeskError> {
    RejectReason::parse(reason).ok_or_else(|| {
        let names: Vec<&str> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
        DeskError::Invalid(format!(
            "damage reason {reason:?} is unknown: use one of {}",
            names.join(", ")
        ))
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, DeskError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|error| {
        DeskError::Store(crate::store::StoreError::Corrupt(format!(
            "starting the runtime failed: {error}"
        )))
    })
}

fn sync(cli: &Cli, config: &Config) -> Result<(), DeskError> {
    let data_dir = data_dir(cli)?;
    // Opening the desk first migrates the database and reports its errors.
    let mut desk = Desk::open(&data_dir, config.desk_config())?;
    let sync_config = config.sync_config();
    let report =
        runtime()?.block_on(sync::sync_once_via(&data_dir, &sync_config, cli.backend.as_deref()));
    match report {
        Ok(report) => {
            output::sync_report(cli.json, &report);
            // Acknowledged events may let old parcels go.
            desk.purge_expired()?;
            Ok(())
        }
        Err(error) => Err(sync_failure(error)),
    }
}

fn enroll(
    cli: &Cli,
    config: &Config,
    backend: &str,
    token: &str,
    force: bool,
) -> Result<(), DeskError> {
    let data_dir = data_dir(cli)?;
    drop(Desk::open(&data_dir, config.desk_config())?);
    let enrolled = runtime()?
        .block_on(sync::enroll_with(&data_dir, backend, token, &config.sync_config(), force))
        .map_err(sync_failure)?;
    output::message(
        cli.json,
        "enrolled",
        &format!("enrolled as terminal {} of store {}", enrolled.terminal_id, enrolled.store_id),
    );
    Ok(())
}

/// Maps a sync failure to a desk error. A wrong URL or enrolment token is
/// invalid input (exit 2). A missing enrolment or a refused re-enrolment is
/// for the clerk to settle (exit 3). A failed exchange is exit 1.
fn sync_failure(error: SyncError) -> DeskError {
    match error {
        SyncError::NotEnrolled => DeskError::NotEnrolled,
        SyncError::Store(error) => DeskError::Store(error),
        error if error.is_invalid_input() => DeskError::Invalid(error.to_string()),
        error @ SyncError::UnsentEvents { .. } => DeskError::SyncRefused(error.to_string()),
        other => DeskError::Sync(other.to_string()),
    }
}

/// Converts an argument to text, with an error that names it.
fn text_arg(what: &str, raw: &OsString) -> Result<String, DeskError> {
    raw.to_str().map(str::to_owned).ok_or_else(|| {
        DeskError::Invalid(format!("{what} is not valid UTF-8 text: scan or type it again"))
    })
}

fn parse_state(text: &str) -> Result<ParcelState, DeskError> {
    ParcelState::parse(text).ok_or_else(|| {
        let names: Vec<&str> = ParcelState::ALL.iter().map(|s| s.as_str()).collect();
        DeskError::Invalid(format!("state {text:?} is unknown: use one of {}", names.join(", ")))
    })
}

fn pin_arg(pin: Option<&str>) -> Result<String, DeskError> {
    if let Some(pin) = pin {
        return Ok(pin.to_owned());
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|error| {
        DeskError::Invalid(format!("reading the PIN from stdin failed: {error}"))
    })?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn print_logs(cli: &Cli, since: &str) -> Result<(), DeskError> {
    let since = logs::parse_since(since, chrono::Utc::now()).map_err(DeskError::Invalid)?;
    let dir = logs::log_dir(&data_dir(cli)?);
    let lines = logs::lines_since(&dir, since).map_err(|error| {
        DeskError::Invalid(format!("reading the logs in {} failed: {error}", dir.display()))
    })?;
    output::log_lines(cli.json, &lines);
    Ok(())
}

fn export(cli: &Cli, config: &Config, out: Option<&Path>) -> Result<(), DeskError> {
    let bundle = support::bundle(&data_dir(cli)?, config, chrono::Utc::now());
    let Some(path) = out else {
        output::support_bundle(&bundle);
        return Ok(());
    };
    output::write_support_bundle(path, &bundle).map_err(|error| {
        DeskError::Invalid(format!(
            "writing the support bundle to {} failed: {error}: choose another --out FILE",
            path.display()
        ))
    })?;
    output::message(cli.json, "exported", &format!("support bundle written to {}", path.display()));
    Ok(())
}

/// Starts logging to stderr at `stderr_level` (`RUST_LOG` replaces it) and,
/// when `to_files` is set and the data directory is known, to the log files.
/// Colour is used only on a terminal, without `--json` and without
/// `NO_COLOR`.
pub fn start_logging(cli: &Cli, config: Option<&Config>, stderr_level: &str, to_files: bool) {
    let defaults = Config::default();
    let settings = &config.unwrap_or(&defaults).logs;
    let dir = if to_files { data_dir(cli).ok().map(|dir| logs::log_dir(&dir)) } else { None };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    logs::init(&logs::LogOptions {
        dir,
        max_total_bytes: u64::from(settings.max_total_mb) << 20,
        file_level: settings.level.clone(),
        stderr_level: stderr_level.to_owned(),
        color: !cli.json && !no_color && std::io::stderr().is_terminal(),
    });
}
