//! Commands of the counter day beyond single receipts and handovers: courier
//! drops, rejections with a photo, return sessions, stocktakes and the daily
//! report.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, NaiveDate, TimeZone, Utc};
use clap::{Args, Subcommand};

use super::{output, parse_reason, text_arg};
use crate::desk::{Desk, DeskError, ReturnOutcome};
use crate::protocol::MAX_PHOTO_BYTES;

#[derive(Debug, Args)]
pub struct RejectArgs {
    pub barcode: OsString,
    /// Why: crushed, wet, torn, opened, wrong_address or other
    #[arg(long, value_name = "REASON")]
    pub reason: String,
    /// A note to go with the rejection
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// A JPEG photo of the damage, at most 512 KiB; it is sent with the event
    #[arg(long, value_name = "FILE")]
    pub photo: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DropCommand {
    /// Open a drop session for a courier
    Start {
        /// The courier's id, as printed on the badge
        #[arg(
            long,
            value_name = "ID",
            required_unless_present = "badge",
            conflicts_with = "badge"
        )]
        courier: Option<String>,
        /// A scan of the courier's badge, e.g. COURIER-ZTO-0042
        #[arg(long, value_name = "SCAN")]
        badge: Option<String>,
        /// The number of parcels the courier declares
        #[arg(long, value_name = "N")]
        declared: u32,
    },
    /// Show the open drop's running counts
    Status,
    /// Close the open drop and send its summary to the backend
    Close,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReturnArgs {
    #[command(subcommand)]
    pub session: Option<ReturnCommand>,
    /// The parcel's barcode
    pub barcode: Option<OsString>,
    /// The courier taking the parcel back
    #[arg(long, value_name = "ID")]
    pub courier: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReturnCommand {
    /// Open a return session with a courier; `return BARCODE` then scans into it
    Start {
        #[arg(long, value_name = "ID")]
        courier: String,
    },
    /// Show the open return session's parcels
    Status,
    /// Record every parcel of the open session as returned and tell the backend
    Close,
}

#[derive(Debug, Subcommand)]
pub enum StocktakeCommand {
    /// Open a stocktake
    Start,
    /// Record a parcel seen on the shelves
    Scan { barcode: OsString },
    /// Show the open stocktake's running counts
    Status,
    /// Close the stocktake, print what is missing or extra and send the result
    Close,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The day, in the terminal's local time zone
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: String,
    /// Print comma-separated values with a header row (not with --json)
    #[arg(long)]
    pub csv: bool,
}

/// Reads a photo file, refusing to load one much larger than the limit.
pub fn read_photo(path: &Path) -> Result<Vec<u8>, DeskError> {
    let unreadable = |error: std::io::Error| {
        DeskError::Invalid(format!("photo {} cannot be read: {error}", path.display()))
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_PHOTO_BYTES as u64 {
        return Err(DeskError::Invalid(format!(
            "photo {} is {size} bytes, more than {MAX_PHOTO_BYTES}: take it at a lower resolution",
            path.display()
        )));
    }
    std::fs::read(path).map_err(unreadable)
}

pub fn reject(desk: &mut Desk, json: bool, args: &RejectArgs) -> Result<(), DeskError> {
    let barcode = text_arg("barcode", &args.barcode)?;
    let reason = parse_reason(&args.reason)?;
    let photo = args.photo.as_deref().map(read_photo).transpose()?;
    let parcel =
        desk.reject_with_photo(&barcode, reason, args.note.as_deref(), photo.as_deref())?;
    output::parcel(json, "rejected", &parcel);
    Ok(())
}

pub fn drop_session(desk: &mut Desk, json: bool, command: &DropCommand) -> Result<(), DeskError> {
    match command {
        DropCommand::Start { courier, badge, declared } => {
            let summary = match (courier, badge) {
                (_, Some(badge)) => desk.start_drop_from_badge(badge, *declared)?,
                (Some(courier), None) => desk.start_drop(courier, *declared)?,
                (None, None) => {
                    return Err(DeskError::Invalid(
                        "give the courier with --courier ID or --badge SCAN".to_owned(),
                    ));
                }
            };
            output::drop_summary(json, "started", &summary);
        }
        DropCommand::Status => match desk.drop_status()? {
            Some(summary) => output::drop_summary(json, "open", &summary),
            None => output::message(json, "no_session", "no drop session is open"),
        },
        DropCommand::Close => output::drop_summary(json, "closed", &desk.close_drop()?),
    }
    Ok(())
}

pub fn return_parcel(desk: &mut Desk, json: bool, args: &ReturnArgs) -> Result<(), DeskError> {
    match &args.session {
        Some(ReturnCommand::Start { courier }) => {
            output::return_summary(json, "started", &desk.start_return(courier)?);
        }
        Some(ReturnCommand::Status) => match desk.return_status()? {
            Some(summary) => output::return_summary(json, "open", &summary),
            None => output::message(json, "no_session", "no return session is open"),
        },
        Some(ReturnCommand::Close) => {
            output::return_summary(json, "closed", &desk.close_return()?);
        }
        None => {
            let barcode = args.barcode.as_ref().ok_or_else(|| {
                DeskError::Invalid("give the parcel's barcode, or `return start`".to_owned())
            })?;
            let barcode = text_arg("barcode", barcode)?;
            match desk.return_parcel(&barcode, args.courier.as_deref())? {
                ReturnOutcome::Returned { parcel } => output::parcel(json, "returned", &parcel),
                ReturnOutcome::Scanned { summary, new: true } => {
                    output::return_summary(json, "scanned", &summary)
                }
                ReturnOutcome::Scanned { summary, new: false } => {
                    output::return_summary(json, "already_scanned", &summary)
                }
            }
        }
    }
    Ok(())
}

pub fn stocktake(desk: &mut Desk, json: bool, command: &StocktakeCommand) -> Result<(), DeskError> {
    match command {
        StocktakeCommand::Start => {
            output::stocktake_summary(json, "started", &desk.start_stocktake()?);
        }
        StocktakeCommand::Scan { barcode } => {
            let summary = desk.scan_stocktake(&text_arg("barcode", barcode)?)?;
            output::stocktake_summary(json, "scanned", &summary);
        }
        StocktakeCommand::Status => match desk.stocktake_status()? {
            Some(summary) => output::stocktake_summary(json, "open", &summary),
            None => output::message(json, "no_session", "no stocktake is open"),
        },
        StocktakeCommand::Close => {
            output::stocktake_summary(json, "closed", &desk.close_stocktake()?);
        }
    }
    Ok(())
}

pub fn report(desk: &Desk, json: bool, args: &ReportArgs) -> Result<(), DeskError> {
    if json && args.csv {
        return Err(DeskError::Invalid("--csv and --json exclude each other: pick one".to_owned()));
    }
    let (from, to) = local_day(&args.date)?;
    let report = desk.report(from, to)?;
    output::report(json, args.csv, &args.date, &report);
    Ok(())
}

/// Returns the start and end of a local calendar day in UTC.
fn local_day(text: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), DeskError> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|error| {
        DeskError::Invalid(format!("date {text:?} is invalid ({error}): use YYYY-MM-DD"))
    })?;
    let next = date.succ_opt().ok_or_else(|| {
        DeskError::Invalid(format!("date {text:?} is out of range: use YYYY-MM-DD"))
    })?;
    Ok((local_midnight(date)?, local_midnight(next)?))
}

fn local_midnight(date: NaiveDate) -> Result<DateTime<Utc>, DeskError> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    // Where a time-zone change skips midnight, the day starts at the first
    // instant after the gap.
    let local = Local.from_local_datetime(&midnight).earliest().or_else(|| {
        let hour_later = midnight + chrono::Duration::hours(1);
        Local.from_local_datetime(&hour_later).earliest()
    });
    local.map(|time| time.with_timezone(&Utc)).ok_or_else(|| {
        DeskError::Invalid(format!("midnight of {date} does not exist in the local time zone"))
    })
}
