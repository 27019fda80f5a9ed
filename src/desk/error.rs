//! Errors of the desk, sorted by the remedy open to the clerk or script.

use std::time::Duration;

use super::lifecycle::Forbidden;
use crate::store::StoreError;
use crate::store::credentials::CredentialsError;

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The input itself is malformed; nothing was looked up or written.
    #[error("{0}")]
    Invalid(String),
    /// The lifecycle rules forbid the action.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    #[error(
        "wrong parcel: {scanned} is not unlocked by this code; it unlocks {}. \
         Nothing was recorded; find the right parcel and scan it",
        expected.join(", ")
    )]
    WrongParcel { scanned: String, expected: Vec<String> },
    #[error(
        "code not recognised: check the digits with the customer ({tries_left} {} left before \
         code entry locks)",
        if *tries_left == 1 { "try" } else { "tries" }
    )]
    WrongCode { tries_left: u32 },
    #[error("this code was already used: every parcel it unlocked has been handed over")]
    CodeUsed,
    /// Code entry is locked. `after_wrong_code` is true when the code just
    /// entered was wrong and started this lock.
    #[error("{}", locked_message(*.remaining, *.after_wrong_code))]
    CodeLocked { remaining: Duration, after_wrong_code: bool },
    /// A counter session is missing, or one of the same kind is already
    /// open.
    #[error("{0}")]
    Session(String),
    #[error("no operator is signed in: sign in with your operator id and PIN")]
    NotSignedIn,
    #[error("operator id or PIN is wrong")]
    BadSignIn,
    /// Sign-in for this operator id is locked after repeated wrong PINs.
    #[error(
        "sign-in for {operator} is locked after repeated wrong PINs: try again in {} s, \
         or ask a colleague to sign in",
        remaining.as_secs().max(1)
    )]
    SignInLocked { operator: String, remaining: Duration },
    #[error(
        "this terminal is not enrolled with the mall, so it has no verification codes: enrol it in settings"
    )]
    NotEnrolled,
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// Talking to the backend failed; nothing local was lost.
    #[error("{0}")]
    Sync(String),
    /// A sync or enrolment rule rejects the request, for example enrolling
    /// again while events are unsent; nothing was changed.
    #[error("{0}")]
    SyncRefused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for DeskError {
    fn from(error: rusqlite::Error) -> DeskError {
        DeskError::Store(error.into())
    }
}

impl DeskError {
    /// Exit status of the command line for this error: 2 for invalid input,
    /// 3 when a rule rejects the action, 1 for internal failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            DeskError::Invalid(_) => 2,
            DeskError::Forbidden(_)
            | DeskError::WrongParcel { .. }
            | DeskError::WrongCode { .. }
            | DeskError::CodeUsed
            | DeskError::CodeLocked { .. }
            | DeskError::Session(_)
            | DeskError::NotSignedIn
            | DeskError::BadSignIn
            | DeskError::SignInLocked { .. }
            | DeskError::NotEnrolled
            | DeskError::SyncRefused(_) => 3,
            DeskError::Credentials(_) | DeskError::Sync(_) | DeskError::Store(_) => 1,
        }
    }
}

fn locked_message(remaining: Duration, after_wrong_code: bool) -> String {
    let seconds = remaining.as_secs().max(1);
    if after_wrong_code {
        format!(
            "code not recognised, and code entry is now locked after repeated wrong codes: try again in {seconds} s"
        )
    } else {
        format!("code entry is locked after repeated wrong codes: try again in {seconds} s")
    }
}

pub type Result<T, E = DeskError> = std::result::Result<T, E>;
