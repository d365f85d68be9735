//! Why a document could not be processed: a stable code for clients, a message for people.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureCode {
    PasswordProtected,
    CorruptFile,
    UnsupportedFormat,
    /// The file unpacks to more than a conversion will read (a zip bomb, or an archive far larger
    /// than any document): the same code, and the same remedy, as an upload over the size limit.
    FileTooLarge,
    /// A PDF of scanned images: there is no text to extract without OCR.
    NoTextLayer,
    TextTooShort,
    ExcessiveNoise,
    Timeout,
    /// Every attempt stopped without a result: the worker crashed, was killed, or ran out of time.
    ProcessingCrashed,
    InternalError,
}

impl FailureCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordProtected => "PASSWORD_PROTECTED",
            Self::CorruptFile => "CORRUPT_FILE",
            Self::UnsupportedFormat => "UNSUPPORTED_FORMAT",
            Self::FileTooLarge => "FILE_TOO_LARGE",
            Self::NoTextLayer => "NO_TEXT_LAYER",
            Self::TextTooShort => "TEXT_TOO_SHORT",
            Self::ExcessiveNoise => "EXCESSIVE_NOISE",
            Self::Timeout => "TIMEOUT",
            Self::ProcessingCrashed => "PROCESSING_CRASHED",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }

    /// Whether trying again could help: a corrupt file stays corrupt, a crashed worker may not.
    pub fn is_permanent(self) -> bool {
        !matches!(self, Self::InternalError)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: FailureCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: FailureCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// An internal fault: `what` went wrong, for the client; the error itself (SQL, a panic's
    /// message, a path) goes only to the log, as it may say more than a client should see.
    pub fn internal(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what}");
        Self::new(
            FailureCode::InternalError,
            format!("{what} (the worker's log has the details)"),
        )
    }

    /// The verdict when `attempts` pickups all ended without one.
    pub fn crashed(attempts: u32) -> Self {
        Self::new(
            FailureCode::ProcessingCrashed,
            format!(
                "processing stopped without a result at each of {attempts} attempts (the worker \
                 crashed, was killed or ran out of time); retry it, or look for the cause in the \
                 worker's log"
            ),
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_failure_tells_the_client_what_failed_and_keeps_the_detail_for_the_log() {
        let detail = "error returned from database: password authentication failed for user \
                      \"ragbase\" at 10.0.3.7:5432";
        let failure = Failure::internal("cannot store the chunks", &detail);
        assert_eq!(failure.code, FailureCode::InternalError);
        assert!(
            failure.message.starts_with("cannot store the chunks"),
            "{failure}"
        );
        for secret in ["password", "ragbase", "10.0.3.7"] {
            assert!(!failure.message.contains(secret), "{failure}");
        }
    }
}
