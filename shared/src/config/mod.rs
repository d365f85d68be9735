//! Configuration from the environment, validated once at start-up, in sections: HTTP, store,
//! queue, model, worker and operations. Each variable is declared once, with its default, bounds
//! and meaning, in `variables::VARIABLES`.

mod api_keys;
pub mod variables;

use std::{
    io::IsTerminal,
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    str::FromStr,
    time::Duration,
};

use self::variables::{Vars, invalid};
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

/// Which keyword ranking PostgreSQL searches use (`KEYWORD_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordIndex {
    /// pg_textsearch's BM25 index where the database has it, else the portable ranking.
    Auto,
    /// The BM25 index, required: start-up fails without it.
    Bm25,
    /// BM25 computed in SQL over the chunks' tsvector, even where the index exists.
    Portable,
}

impl KeywordIndex {
    fn parse(raw: Option<&str>) -> Result<Self, Error> {
        match raw {
            None | Some("auto") => Ok(Self::Auto),
            Some("bm25") => Ok(Self::Bm25),
            Some("portable") => Ok(Self::Portable),
            Some(other) => Err(invalid("KEYWORD_INDEX", other, "auto, bm25 or portable")),
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
    pub http: HttpConfig,
    pub store: StoreConfig,
    pub queue: QueueConfig,
    pub model: ModelConfig,
    pub worker: WorkerConfig,
    pub ops: OpsConfig,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The address to listen on: every interface with API keys, loopback only without them.
    pub host: IpAddr,
    pub port: u16,
    /// Accepted keys; several allow rotation. Empty = authentication disabled.
    pub api_keys: Vec<String>,
    /// Allowed CORS origins; empty = no cross-origin access, `*` = any.
    pub cors_origins: Vec<String>,
    pub rate_limit_max: u32,
    pub rate_limit_window: Duration,
    /// After a shutdown signal: how long requests in flight and the job in hand may run on.
    pub shutdown_grace: Duration,
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub trust_proxy: TrustProxy,
    pub max_file_size_bytes: u64,
    /// Uploads held in memory at once: `UPLOAD_MEMORY_MB` over twice the largest (a body is
    /// read, then copied once), at least one.
    pub concurrent_uploads: usize,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub database_url: Option<String>,
    /// The embedded store's folder, used when `database_url` is unset.
    pub data_dir: PathBuf,
    /// pgvector's HNSW candidate list per search (`hnsw.ef_search`): recall against speed.
    pub hnsw_ef_search: u32,
    /// PostgreSQL's `statement_timeout` for every pooled connection.
    pub statement_timeout: Duration,
    pub keyword_index: KeywordIndex,
    /// The portable keyword ranking's bound on the chunks it scores per search.
    pub keyword_candidates: u64,
}

#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub redis_url: Option<String>,
    /// Redis key of the job stream; deployments (or tests) sharing one Redis each use their own.
    pub queue_name: String,
    /// A job not heard from for this long is delivered to another worker.
    pub queue_lease: Duration,
    /// A PENDING document untouched this long is queued again by the reconciler (its job may
    /// be lost; a duplicate finds the document settled).
    pub requeue_pending_after: Duration,
    /// The SQS queue of jobs (serverless), with its dead-letter queue; takes the place of Redis
    /// for jobs when set.
    pub sqs: Option<SqsConfig>,
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub embedding_model_dir: PathBuf,
    /// Texts embedded at once (tract runs one inference per core).
    pub embedding_threads: usize,
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub conversion_timeout: Duration,
    /// The most chunks one document may make; more fails it as FILE_TOO_LARGE.
    pub max_document_chunks: usize,
}

#[derive(Debug, Clone)]
pub struct OpsConfig {
    pub log_level: String,
    pub log_format: LogFormat,
    pub alert_webhook_url: Option<reqwest::Url>,
    pub alert_threshold: u32,
}

impl Config {
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the config from any variable source, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let vars = Vars(lookup);
        for name in [
            "DATABASE_URL",
            "REDIS_URL",
            "SQS_QUEUE_URL",
            "SQS_DEAD_LETTER_QUEUE_URL",
            "SQS_ENDPOINT",
        ] {
            if let Some(url) = vars.get(name) {
                reqwest::Url::parse(&url).map_err(|_| invalid(name, "…", "a URL"))?;
            }
        }
        Ok(Self {
            http: HttpConfig::from_vars(&vars)?,
            store: StoreConfig {
                database_url: vars.get("DATABASE_URL"),
                data_dir: vars.text("RAGBASE_DATA_DIR").unwrap_or_default().into(),
                hnsw_ef_search: vars.number("HNSW_EF_SEARCH")? as u32,
                statement_timeout: Duration::from_millis(
                    vars.number("DATABASE_STATEMENT_TIMEOUT_MS")?,
                ),
                keyword_index: KeywordIndex::parse(vars.get("KEYWORD_INDEX").as_deref())?,
                keyword_candidates: vars.number("KEYWORD_CANDIDATES")?,
            },
            queue: QueueConfig::from_vars(&vars)?,
            model: ModelConfig {
                embedding_model_dir: vars.text("EMBEDDING_MODEL_DIR").unwrap_or_default().into(),
                embedding_threads: vars.number_or("EMBEDDING_THREADS", cores())? as usize,
            },
            worker: WorkerConfig {
                conversion_timeout: Duration::from_secs(vars.number("CONVERSION_TIMEOUT_SECS")?),
                max_document_chunks: vars.number("MAX_DOCUMENT_CHUNKS")? as usize,
            },
            ops: OpsConfig::from_vars(&vars)?,
        })
    }
}

fn cores() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as u64
}

impl HttpConfig {
    fn from_vars(vars: &Vars<impl Fn(&str) -> Option<String>>) -> Result<Self, Error> {
        let api_keys = api_keys::parse(vars.get("API_KEY"))?;
        // An open API is not put on the network unless HOST says so.
        let host = match vars.get("HOST") {
            Some(raw) => raw.parse().map_err(|_| {
                invalid("HOST", &raw, "an IP address, such as 0.0.0.0 or 127.0.0.1")
            })?,
            None if api_keys.is_empty() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        let cors_origins = list(vars.get("CORS_ORIGIN"));
        if let Some(bad) = cors_origins.iter().find(|o| !is_origin(o)) {
            let expected = "`*` or origins such as https://app.example.com";
            return Err(invalid("CORS_ORIGIN", bad, expected));
        }
        let trust_proxy = vars.text("TRUST_PROXY").unwrap_or_default();
        let trust_proxy = trust_proxy
            .parse()
            .map_err(|()| invalid("TRUST_PROXY", &trust_proxy, "true, false or a hop count"))?;
        Ok(Self {
            host,
            port: vars.number("PORT")? as u16,
            api_keys,
            cors_origins,
            rate_limit_max: vars.number("RATE_LIMIT_MAX")? as u32,
            rate_limit_window: Duration::from_millis(vars.number("RATE_LIMIT_WINDOW_MS")?),
            shutdown_grace: Duration::from_secs(vars.number("SHUTDOWN_GRACE_SECS")?),
            header_read_timeout: Duration::from_secs(vars.number("HEADER_READ_TIMEOUT_SECS")?),
            request_timeout: Duration::from_secs(vars.number("REQUEST_TIMEOUT_SECS")?),
            max_connections: vars.number("MAX_CONNECTIONS")? as usize,
            trust_proxy,
            max_file_size_bytes: vars.number("MAX_FILE_SIZE_MB")? * 1024 * 1024,
            concurrent_uploads: (vars.number("UPLOAD_MEMORY_MB")?
                / (2 * vars.number("MAX_FILE_SIZE_MB")?))
            .max(1) as usize,
        })
    }
}

impl QueueConfig {
    fn from_vars(vars: &Vars<impl Fn(&str) -> Option<String>>) -> Result<Self, Error> {
        let sqs = match (
            vars.get("SQS_QUEUE_URL"),
            vars.get("SQS_DEAD_LETTER_QUEUE_URL"),
        ) {
            (None, None) => None,
            (Some(queue_url), Some(dead_letter_queue_url)) => Some(SqsConfig {
                queue_url,
                dead_letter_queue_url,
                endpoint: vars.get("SQS_ENDPOINT"),
            }),
            (Some(_), None) => return Err(missing("SQS_DEAD_LETTER_QUEUE_URL", "SQS_QUEUE_URL")),
            (None, Some(_)) => return Err(missing("SQS_QUEUE_URL", "SQS_DEAD_LETTER_QUEUE_URL")),
        };
        Ok(Self {
            redis_url: vars.get("REDIS_URL"),
            queue_name: vars.text("QUEUE_NAME").unwrap_or_default(),
            queue_lease: Duration::from_millis(vars.number("QUEUE_LEASE_MS")?),
            requeue_pending_after: Duration::from_millis(vars.number("REQUEUE_PENDING_AFTER_MS")?),
            sqs,
        })
    }
}

impl OpsConfig {
    fn from_vars(vars: &Vars<impl Fn(&str) -> Option<String>>) -> Result<Self, Error> {
        let log_level = vars.text("LOG_LEVEL").unwrap_or_default();
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            let expected = "a level (error, warn, info, debug, trace) or a filter";
            return Err(invalid("LOG_LEVEL", &log_level, expected));
        }
        let log_format = match vars.get("LOG_FORMAT").as_deref() {
            None => LogFormat::for_stdout(),
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => return Err(invalid("LOG_FORMAT", other, "json or pretty")),
        };
        let alert_webhook_url = match vars.get("ALERT_WEBHOOK_URL") {
            None => None,
            Some(raw) => Some(
                reqwest::Url::parse(&raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| invalid("ALERT_WEBHOOK_URL", &raw, "an http(s) URL"))?,
            ),
        };
        Ok(Self {
            log_level,
            log_format,
            alert_webhook_url,
            alert_threshold: vars.number("ALERT_THRESHOLD")? as u32,
        })
    }
}

impl FromStr for TrustProxy {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.to_ascii_lowercase().as_str() {
            "false" => Ok(Self::None),
            "true" => Ok(Self::All),
            // Digits only: "+1" or "-1" are not hop counts; "00" is zero, which trusts none.
            hops if hops.bytes().all(|b| b.is_ascii_digit()) => match hops.parse() {
                Ok(0) => Ok(Self::None),
                Ok(n) => Ok(Self::Hops(n)),
                Err(_) => Err(()),
            },
            _ => Err(()),
        }
    }
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
        assert_eq!(c.http.port, 3000);
        assert_eq!(c.http.rate_limit_max, 100);
        assert_eq!(c.http.rate_limit_window, Duration::from_secs(60));
        assert_eq!(c.http.max_file_size_bytes, 50 * 1024 * 1024);
        assert_eq!(c.ops.log_format, LogFormat::for_stdout());
        assert_eq!(c.http.trust_proxy, TrustProxy::None);
        assert!(
            c.http.api_keys.is_empty()
                && c.store.database_url.is_none()
                && c.queue.redis_url.is_none()
        );
    }

    #[test]
    fn an_open_api_listens_on_loopback_unless_host_says_otherwise() {
        let key = ("API_KEY", "k7Qp2vX9mL4sT8wN1bR6yH3j");
        assert_eq!(config(&[]).unwrap().http.host.to_string(), "127.0.0.1");
        assert_eq!(config(&[key]).unwrap().http.host.to_string(), "0.0.0.0");
        let exposed = config(&[("HOST", "0.0.0.0")]).unwrap();
        assert_eq!(exposed.http.host.to_string(), "0.0.0.0");
        assert_eq!(
            config(&[key, ("HOST", "::1")])
                .unwrap()
                .http
                .host
                .to_string(),
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
            ("KEYWORD_INDEX", "lucene"),
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
        let sqs = config(&[queue, dead]).unwrap().queue.sqs.unwrap();
        assert_eq!((sqs.queue_url.as_str(), sqs.endpoint), (queue.1, None));
    }

    #[test]
    fn trust_proxy_accepts_booleans_and_hop_counts() {
        assert_eq!(
            config(&[("TRUST_PROXY", "true")]).unwrap().http.trust_proxy,
            TrustProxy::All
        );
        assert_eq!(
            config(&[("TRUST_PROXY", "false")])
                .unwrap()
                .http
                .trust_proxy,
            TrustProxy::None
        );
        assert_eq!(
            config(&[("TRUST_PROXY", "2")]).unwrap().http.trust_proxy,
            TrustProxy::Hops(2)
        );
        // Zero proxies, however written, trust none; a sign is not a count.
        for zero in ["0", "00"] {
            let c = config(&[("TRUST_PROXY", zero)]).unwrap();
            assert_eq!(c.http.trust_proxy, TrustProxy::None, "{zero}");
        }
        for bad in ["+0", "+1", "-1", "1.5", "yes"] {
            let message = config(&[("TRUST_PROXY", bad)]).unwrap_err().to_string();
            assert!(message.contains("TRUST_PROXY"), "{bad}: {message}");
        }
    }

    #[test]
    fn cors_origins_are_exact_origins() {
        let c = config(&[("CORS_ORIGIN", "https://a.example, http://localhost:5173")]).unwrap();
        assert_eq!(
            c.http.cors_origins,
            ["https://a.example", "http://localhost:5173"]
        );
        assert!(config(&[("CORS_ORIGIN", "https://a.example/")]).is_err());
        assert!(config(&[("CORS_ORIGIN", "https://a.example/path")]).is_err());
    }
}
