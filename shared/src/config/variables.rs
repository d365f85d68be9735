//! Every environment variable RAGBase reads, declared once: its default, the bounds of a number,
//! and what it means. The parser takes defaults and bounds from here, and `ragbase config`
//! prints this table with the values in effect.

use crate::Error;

pub struct Variable {
    pub name: &'static str,
    /// `None`: unset unless given (some defaults depend on other settings; `help` says which).
    pub default: Option<&'static str>,
    /// The least and greatest values of a number.
    pub bounds: Option<(u64, u64)>,
    pub help: &'static str,
    /// Never printed: its value is a secret or holds one.
    pub secret: bool,
}

const fn text(name: &'static str, default: Option<&'static str>, help: &'static str) -> Variable {
    Variable {
        name,
        default,
        bounds: None,
        help,
        secret: false,
    }
}

const fn secret(name: &'static str, help: &'static str) -> Variable {
    Variable {
        name,
        default: None,
        bounds: None,
        help,
        secret: true,
    }
}

const fn number(
    name: &'static str,
    default: Option<&'static str>,
    (min, max): (u64, u64),
    help: &'static str,
) -> Variable {
    Variable {
        name,
        default,
        bounds: Some((min, max)),
        help,
        secret: false,
    }
}

pub const VARIABLES: &[Variable] = &[
    // HTTP
    text(
        "HOST",
        None,
        "Address to listen on: 0.0.0.0 with API_KEY, else 127.0.0.1",
    ),
    number(
        "PORT",
        Some("3000"),
        (0, 65_535),
        "HTTP port (0 picks a free one)",
    ),
    secret(
        "API_KEY",
        "Accepted X-API-Key values, comma-separated; unset: /api is open",
    ),
    text(
        "CORS_ORIGIN",
        None,
        "Allowed browser origins, comma-separated and exact, or *",
    ),
    number(
        "RATE_LIMIT_MAX",
        Some("100"),
        (1, u32::MAX as u64),
        "Requests per client per window on /api",
    ),
    number(
        "RATE_LIMIT_WINDOW_MS",
        Some("60000"),
        (1, u64::MAX),
        "Length of the rate-limit window",
    ),
    number(
        "SHUTDOWN_GRACE_SECS",
        Some("30"),
        (1, 3600),
        "After SIGTERM: time left to requests in flight and the job in hand",
    ),
    number(
        "HEADER_READ_TIMEOUT_SECS",
        Some("10"),
        (1, 3600),
        "Time a client has to send a request's headers; idle connections close after it",
    ),
    number(
        "REQUEST_TIMEOUT_SECS",
        Some("120"),
        (1, 86_400),
        "Time one request may take, its upload included; then 408",
    ),
    number(
        "MAX_CONNECTIONS",
        Some("512"),
        (1, 1_000_000),
        "Connections served at once; more wait to be accepted",
    ),
    text(
        "TRUST_PROXY",
        Some("false"),
        "false, true, or the hop count of X-Forwarded-For to trust",
    ),
    number(
        "MAX_FILE_SIZE_MB",
        Some("50"),
        (1, 1 << 20),
        "Largest upload",
    ),
    number(
        "UPLOAD_MEMORY_MB",
        Some("256"),
        (1, 1 << 20),
        "Memory the uploads in flight may hold; more wait, then get 503",
    ),
    // Store
    secret(
        "DATABASE_URL",
        "PostgreSQL with pgvector; unset: the embedded store",
    ),
    text(
        "RAGBASE_DATA_DIR",
        Some("data"),
        "The embedded store's folder",
    ),
    number(
        "HNSW_EF_SEARCH",
        Some("100"),
        (1, 1000),
        "pgvector's candidate list per vector search",
    ),
    text(
        "KEYWORD_INDEX",
        Some("auto"),
        "PostgreSQL's keyword ranking: bm25 (pg_textsearch's index), portable (SQL), auto (bm25 where it exists)",
    ),
    number(
        "KEYWORD_CANDIDATES",
        Some("5000"),
        (100, 100_000_000),
        "Most chunks the portable keyword ranking scores a search (those with the question's rarest words)",
    ),
    number(
        "DATABASE_STATEMENT_TIMEOUT_MS",
        Some("30000"),
        (100, 3_600_000),
        "Longest a PostgreSQL statement may run (lock waits included) before it is cancelled",
    ),
    // Queue
    secret(
        "REDIS_URL",
        "Redis: jobs and rate limits; unset: the embedded queue",
    ),
    text(
        "QUEUE_NAME",
        Some("ragbase:jobs"),
        "The Redis stream of jobs",
    ),
    number(
        "QUEUE_LEASE_MS",
        Some("30000"),
        (1000, u64::MAX),
        "Silence after which a job is redelivered; the reconciler runs as often",
    ),
    number(
        "REQUEUE_PENDING_AFTER_MS",
        Some("600000"),
        (1000, u64::MAX),
        "Age at which an untouched PENDING document's job is presumed lost and queued again",
    ),
    text(
        "SQS_QUEUE_URL",
        None,
        "Jobs on SQS instead (with SQS_DEAD_LETTER_QUEUE_URL)",
    ),
    text(
        "SQS_DEAD_LETTER_QUEUE_URL",
        None,
        "Where SQS jobs go after their last attempt",
    ),
    text(
        "SQS_ENDPOINT",
        None,
        "An SQS-compatible server instead of AWS",
    ),
    // Model
    text(
        "EMBEDDING_MODEL_DIR",
        Some("models/all-MiniLM-L6-v2"),
        "Holds model.onnx and tokenizer.json",
    ),
    number(
        "EMBEDDING_THREADS",
        None,
        (1, 1024),
        "Texts embedded at once; default: one per core",
    ),
    // Worker
    number(
        "CONVERSION_TIMEOUT_SECS",
        Some("120"),
        (1, 86_400),
        "Time budget for converting one file",
    ),
    number(
        "MAX_DOCUMENT_CHUNKS",
        Some("5000"),
        (1, 10_000_000),
        "The most chunks one document may make",
    ),
    // Operations
    text(
        "LOG_LEVEL",
        Some("info"),
        "error, warn, info, debug, trace, or a filter",
    ),
    text(
        "LOG_FORMAT",
        None,
        "json, or pretty (the default on a terminal)",
    ),
    text(
        "ALERT_WEBHOOK_URL",
        None,
        "Gets a JSON POST when API errors pass ALERT_THRESHOLD",
    ),
    number(
        "ALERT_THRESHOLD",
        Some("10"),
        (1, u32::MAX as u64),
        "API errors allowed in one hour",
    ),
];

/// The declaration of `name`; every variable the parser reads is declared.
pub fn declared(name: &str) -> &'static Variable {
    VARIABLES
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} is read but not declared in VARIABLES"))
}

/// The environment, as the parser reads it: values trimmed, empty ones unset.
pub struct Vars<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value, or the declared default.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .or_else(|| declared(name).default.map(str::to_owned))
    }

    /// A number within its declared bounds, or its declared default.
    pub fn number(&self, name: &str) -> Result<u64, Error> {
        let default = declared(name).default.expect("declared with a default");
        self.number_or(name, default.parse().expect("a numeric default"))
    }

    /// A number within its declared bounds, or `fallback` (a default that depends on the host).
    pub fn number_or(&self, name: &str, fallback: u64) -> Result<u64, Error> {
        let (min, max) = declared(name)
            .bounds
            .expect("a number is declared with bounds");
        let Some(raw) = self.get(name) else {
            return Ok(fallback);
        };
        raw.parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| invalid(name, &raw, &format!("an integer from {min} to {max}")))
    }
}

/// Secrets never reach the message: callers pass `…` for them.
pub fn invalid(name: &str, value: &str, expected: &str) -> Error {
    Error::Config(format!(
        "{name} is invalid ({value:?}): expected {expected}"
    ))
}

/// `ragbase config`: every variable, its value here (a secret only as "set"), and its meaning.
pub fn table(lookup: impl Fn(&str) -> Option<String>) -> String {
    let vars = Vars(lookup);
    let width = VARIABLES.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for variable in VARIABLES {
        let value = match (vars.get(variable.name), variable.default) {
            (Some(_), _) if variable.secret => "(set)".to_owned(),
            (Some(value), _) => value,
            (None, Some(default)) => format!("{default} (default)"),
            (None, None) => "(unset)".to_owned(),
        };
        let bounds = variable
            .bounds
            .map(|(min, max)| format!(" [{min}–{max}]"))
            .unwrap_or_default();
        let name = variable.name;
        out.push_str(&format!(
            "{name:width$}  {value}\n{:width$}  {}{bounds}\n",
            "", variable.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_variable_and_hides_secrets() {
        let table = table(|name| match name {
            "API_KEY" => Some("k7Qp2vX9mL4sT8wN1bR6yH3j".into()),
            "PORT" => Some("8080".into()),
            _ => None,
        });
        for variable in VARIABLES {
            assert!(table.contains(variable.name), "{} missing", variable.name);
        }
        assert!(
            !table.contains("k7Qp") && table.contains("(set)"),
            "{table}"
        );
        assert!(table.contains("PORT") && table.contains("8080"), "{table}");
        assert!(
            table.contains("100 (default)") && table.contains("[1–1000]"),
            "{table}"
        );
    }

    #[test]
    fn every_variable_the_readme_documents_is_declared() {
        let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(readme).unwrap();
        let configuration = readme.split("## Configuration").nth(1).unwrap();
        let rows = configuration.split("\n## ").next().unwrap().lines();
        let is_variable =
            |n: &&str| n.len() > 2 && n.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        for row in rows.filter(|r| r.starts_with("| `")) {
            let names = row.split('|').nth(1).unwrap().split('`');
            for name in names.filter(is_variable) {
                declared(name); // panics, naming it, when it is not declared
            }
        }
    }
}
