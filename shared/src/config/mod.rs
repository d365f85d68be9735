//! Configuration from the environment, validated once at start-up.

mod api_keys;

use std::{
    io::IsTerminal,
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
    time::Duration,
};

use crate::Error;

/// How the HTTP server reports its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    /// JSON lines for log collectors; readable lines when a person watches the terminal.
    pub fn for_stdout() -> Self {
        if std::io::stdout().is_terminal() {
            Self::Pretty
        } else {
            Self::Json
        }
    }
}

/// Which address identifies a client for rate limiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustProxy {
    /// The TCP peer address; `X-Forwarded-For` is ignored (it can be forged).
    None,
    /// The left-most `X-Forwarded-For` address: every hop is trusted.
    All,
    /// The address this many hops from the right of `X-Forwarded-For`
    /// (1 = the one our own proxy appended).
    Hops(usize),
}

#[derive(Debug, Clone)]
pub struct SqsConfig {
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    /// An SQS-compatible server instead of AWS (tests, local runs).
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on: every interface with API keys, loopback only without them.
    pub host: IpAddr,
    pub port: u16,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    /// The embedded store's folder, used when `database_url` is unset.
    pub data_dir: std::path::PathBuf,
    /// Accepted keys; several allow rotation. Empty = authentication disabled.
    pub api_keys: Vec<String>,
    /// Allowed CORS origins; empty = no cross-origin access, `*` = any.
    pub cors_origins: Vec<String>,
    pub rate_limit_max: u32,
    pub rate_limit_window: Duration,
    pub trust_proxy: TrustProxy,
    pub max_file_size_bytes: u64,
    pub log_level: String,
    pub log_format: LogFormat,
    pub alert_webhook_url: Option<reqwest::Url>,
    pub alert_threshold: u32,
    pub embedding_model_dir: std::path::PathBuf,
    /// Batches embedded at once (tract runs one inference per core).
    pub embedding_threads: usize,
    /// A job not heard from for this long is delivered to another worker.
    pub queue_lease: Duration,
    /// Redis key of the job stream; deployments (or tests) sharing one Redis each use their own.
    pub queue_name: String,
    /// The SQS queue of jobs (serverless), with its dead-letter queue; takes the place of Redis
    /// for jobs when set.
    pub sqs: Option<SqsConfig>,
    pub conversion_timeout: Duration,
    /// The most chunks one document may make; more fails it as FILE_TOO_LARGE.
    pub max_document_chunks: usize,
    /// pgvector's HNSW candidate list per search (`hnsw.ef_search`): recall against speed.
    pub hnsw_ef_search: u32,
}

impl Config {
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the config from any variable source, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let parse = |name: &str, default: u64, min: u64| -> Result<u64, Error> {
            match var(name) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| invalid(name, &raw, &format!("an integer ≥ {min}"))),
            }
        };

        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let port = parse("PORT", 3000, 0)?;
        let port = u16::try_from(port)
            .map_err(|_| invalid("PORT", &port.to_string(), "a port number (0–65535)"))?;
        let api_keys = api_keys::parse(var("API_KEY"))?;
        // An open API is not put on the network unless HOST says so.
        let host = match var("HOST") {
            Some(raw) => raw.parse().map_err(|_| {
                invalid("HOST", &raw, "an IP address, such as 0.0.0.0 or 127.0.0.1")
            })?,
            None if api_keys.is_empty() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        let cors_origins = list(var("CORS_ORIGIN"));
        if let Some(bad) = cors_origins.iter().find(|o| !is_origin(o)) {
            return Err(invalid(
                "CORS_ORIGIN",
                bad,
                "`*` or origins such as https://app.example.com",
            ));
        }
        let log_level = var("LOG_LEVEL").unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(invalid(
                "LOG_LEVEL",
                &log_level,
                "a level (error, warn, info, debug, trace) or a filter",
            ));
        }
        let log_format = match var("LOG_FORMAT").as_deref() {
            None => LogFormat::for_stdout(),
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => return Err(invalid("LOG_FORMAT", other, "json or pretty")),
        };
        let alert_webhook_url = match var("ALERT_WEBHOOK_URL") {
            None => None,
            Some(raw) => Some(
                reqwest::Url::parse(&raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| invalid("ALERT_WEBHOOK_URL", &raw, "an http(s) URL"))?,
            ),
        };
        let sqs = match (var("SQS_QUEUE_URL"), var("SQS_DEAD_LETTER_QUEUE_URL")) {
            (None, None) => None,
            (Some(queue_url), Some(dead_letter_queue_url)) => Some(SqsConfig {
                queue_url,
                dead_letter_queue_url,
                endpoint: var("SQS_ENDPOINT"),
            }),
            (Some(_), None) => return Err(missing("SQS_DEAD_LETTER_QUEUE_URL", "SQS_QUEUE_URL")),
            (None, Some(_)) => return Err(missing("SQS_QUEUE_URL", "SQS_DEAD_LETTER_QUEUE_URL")),
        };
        for name in [
            "DATABASE_URL",
            "REDIS_URL",
            "SQS_QUEUE_URL",
            "SQS_DEAD_LETTER_QUEUE_URL",
            "SQS_ENDPOINT",
        ] {
            if let Some(url) = var(name) {
                reqwest::Url::parse(&url).map_err(|_| invalid(name, "…", "a URL"))?;
            }
        }

        Ok(Self {
            host,
            port,
            database_url: var("DATABASE_URL"),
            redis_url: var("REDIS_URL"),
            data_dir: var("RAGBASE_DATA_DIR")
                .unwrap_or_else(|| "data".into())
                .into(),
            api_keys,
            cors_origins,
            rate_limit_max: u32::try_from(parse("RATE_LIMIT_MAX", 100, 1)?)
                .map_err(|_| invalid("RATE_LIMIT_MAX", "…", "at most 4294967295"))?,
            rate_limit_window: Duration::from_millis(parse("RATE_LIMIT_WINDOW_MS", 60_000, 1)?),
            trust_proxy: var("TRUST_PROXY")
                .map(|raw| {
                    raw.parse()
                        .map_err(|()| invalid("TRUST_PROXY", &raw, "true, false or a hop count"))
                })
                .transpose()?
                .unwrap_or(TrustProxy::None),
            max_file_size_bytes: parse("MAX_FILE_SIZE_MB", 50, 1)? * 1024 * 1024,
            log_level,
            log_format,
            alert_webhook_url,
            alert_threshold: u32::try_from(parse("ALERT_THRESHOLD", 10, 1)?)
                .map_err(|_| invalid("ALERT_THRESHOLD", "…", "at most 4294967295"))?,
            embedding_model_dir: var("EMBEDDING_MODEL_DIR")
                .unwrap_or_else(|| "models/all-MiniLM-L6-v2".into())
                .into(),
            embedding_threads: parse("EMBEDDING_THREADS", cores, 1)? as usize,
            queue_lease: Duration::from_millis(parse("QUEUE_LEASE_MS", 30_000, 1_000)?),
            queue_name: var("QUEUE_NAME").unwrap_or_else(|| "ragbase:jobs".into()),
            sqs,
            conversion_timeout: Duration::from_secs(parse("CONVERSION_TIMEOUT_SECS", 120, 1)?),
            max_document_chunks: parse("MAX_DOCUMENT_CHUNKS", 5_000, 1)? as usize,
            hnsw_ef_search: Some(parse("HNSW_EF_SEARCH", 100, 1)?)
                .filter(|n| *n <= 1000)
                .ok_or_else(|| invalid("HNSW_EF_SEARCH", "…", "an integer from 1 to 1000"))?
                as u32,
        })
    }
}

impl FromStr for TrustProxy {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.to_ascii_lowercase().as_str() {
            "false" | "0" => Ok(Self::None),
            "true" => Ok(Self::All),
            hops => hops.parse().map(Self::Hops).map_err(|_| ()),
        }
    }
}

/// Secrets never reach the message: callers pass `…` for them.
fn invalid(name: &str, value: &str, expected: &str) -> Error {
    Error::Config(format!(
        "{name} is invalid ({value:?}): expected {expected}"
    ))
}

fn missing(name: &str, partner: &str) -> Error {
    Error::Config(format!("{name} is not set: {partner} needs it too"))
}

fn list(raw: Option<String>) -> Vec<String> {
    raw.map(|r| r.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default()
}

fn is_origin(origin: &str) -> bool {
    origin == "*"
        || reqwest::Url::parse(origin).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.path() == "/" && !origin.ends_with('/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    fn error_of(vars: &[(&str, &str)]) -> String {
        config(vars).unwrap_err().to_string()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 3000);
        assert_eq!(c.rate_limit_max, 100);
        assert_eq!(c.rate_limit_window, Duration::from_secs(60));
        assert_eq!(c.max_file_size_bytes, 50 * 1024 * 1024);
        assert_eq!(c.log_format, LogFormat::for_stdout());
        assert_eq!(c.trust_proxy, TrustProxy::None);
        assert!(c.api_keys.is_empty() && c.database_url.is_none() && c.redis_url.is_none());
    }

    #[test]
    fn an_open_api_listens_on_loopback_unless_host_says_otherwise() {
        let key = ("API_KEY", "k7Qp2vX9mL4sT8wN1bR6yH3j");
        assert_eq!(config(&[]).unwrap().host.to_string(), "127.0.0.1");
        assert_eq!(config(&[key]).unwrap().host.to_string(), "0.0.0.0");
        let exposed = config(&[("HOST", "0.0.0.0")]).unwrap();
        assert_eq!(exposed.host.to_string(), "0.0.0.0");
        assert_eq!(
            config(&[key, ("HOST", "::1")]).unwrap().host.to_string(),
            "::1"
        );
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (name, value) in [
            ("PORT", "70000"),
            ("PORT", "abc"),
            ("HOST", "example.com"),
            ("API_KEY", "short"),
            ("RATE_LIMIT_MAX", "0"),
            ("RATE_LIMIT_WINDOW_MS", "-5"),
            ("MAX_FILE_SIZE_MB", "big"),
            ("LOG_FORMAT", "xml"),
            ("LOG_LEVEL", "loud=[["),
            ("TRUST_PROXY", "maybe"),
            ("CORS_ORIGIN", "example.com"),
            ("ALERT_WEBHOOK_URL", "ftp://x"),
            ("ALERT_THRESHOLD", "0"),
            ("EMBEDDING_THREADS", "0"),
            ("QUEUE_LEASE_MS", "10"),
            ("CONVERSION_TIMEOUT_SECS", "soon"),
            ("MAX_DOCUMENT_CHUNKS", "0"),
            ("DATABASE_URL", "not a url"),
            ("SQS_ENDPOINT", "not a url"),
        ] {
            let message = error_of(&[(name, value)]);
            assert!(message.starts_with(name), "{name}={value} gave {message:?}");
        }
    }

    #[test]
    fn an_sqs_queue_needs_its_dead_letter_queue() {
        let queue = (
            "SQS_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/jobs",
        );
        let dead = (
            "SQS_DEAD_LETTER_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/dead",
        );
        assert!(error_of(&[queue]).starts_with("SQS_DEAD_LETTER_QUEUE_URL is not set"));
        assert!(error_of(&[dead]).starts_with("SQS_QUEUE_URL is not set"));
        let sqs = config(&[queue, dead]).unwrap().sqs.unwrap();
        assert_eq!((sqs.queue_url.as_str(), sqs.endpoint), (queue.1, None));
    }

    #[test]
    fn trust_proxy_accepts_booleans_and_hop_counts() {
        assert_eq!(
            config(&[("TRUST_PROXY", "true")]).unwrap().trust_proxy,
            TrustProxy::All
        );
        assert_eq!(
            config(&[("TRUST_PROXY", "false")]).unwrap().trust_proxy,
            TrustProxy::None
        );
        assert_eq!(
            config(&[("TRUST_PROXY", "2")]).unwrap().trust_proxy,
            TrustProxy::Hops(2)
        );
    }

    #[test]
    fn cors_origins_are_exact_origins() {
        let c = config(&[("CORS_ORIGIN", "https://a.example, http://localhost:5173")]).unwrap();
        assert_eq!(
            c.cors_origins,
            ["https://a.example", "http://localhost:5173"]
        );
        assert!(config(&[("CORS_ORIGIN", "https://a.example/")]).is_err());
        assert!(config(&[("CORS_ORIGIN", "https://a.example/path")]).is_err());
    }
}
