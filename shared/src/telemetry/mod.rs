//! Logs and metrics. Metric names are part of the HTTP contract: the original's dashboards and
//! clients read them, so they never change.

mod log_line;

use std::{fmt::Write, sync::OnceLock};

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt::format::JsonFields};

use crate::config::{Config, LogFormat};

pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
pub const DOCUMENTS_PROCESSED_TOTAL: &str = "documents_processed_total";
pub const PROCESSING_QUEUE_SIZE: &str = "processing_queue_size";
pub const EMBEDDING_GENERATION_DURATION_SECONDS: &str = "embedding_generation_duration_seconds";
/// Beyond the contract: `/ready`'s checks as gauges, for alerting.
pub const READINESS_CHECK: &str = "readiness_check";
/// Beyond the contract: the keyword ranking PostgreSQL searches use (`path`: bm25 or portable).
pub const KEYWORD_INDEX_INFO: &str = "keyword_index_info";

/// The contract's metric families: name, Prometheus type, help.
const CONTRACT: [(&str, &str, &str); 5] = [
    (
        HTTP_REQUESTS_TOTAL,
        "counter",
        "HTTP requests by method, route pattern and status",
    ),
    (
        HTTP_REQUEST_DURATION_SECONDS,
        "histogram",
        "HTTP request latency in seconds by route pattern",
    ),
    (
        DOCUMENTS_PROCESSED_TOTAL,
        "counter",
        "Documents that finished processing, by outcome and format",
    ),
    (
        PROCESSING_QUEUE_SIZE,
        "gauge",
        "Jobs in the processing queue, by state",
    ),
    (
        EMBEDDING_GENERATION_DURATION_SECONDS,
        "histogram",
        "Time to embed one batch of chunks, in seconds",
    ),
];

const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const EMBEDDING_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Installs the JSON (`log_line`) or pretty log subscriber. Safe to call more than once.
pub fn init_logging(config: &Config) {
    // PostgreSQL's NOTICEs ("extension already exists, skipping") are not news to an operator.
    let directives = format!("{},sqlx::postgres::notice=warn", config.ops.log_level);
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let _ = match config.ops.log_format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(log_line::JsonLine)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The process-wide metrics registry and what `/metrics` renders from it.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Installs the global recorder once per process; later calls share it.
    pub fn install() -> Self {
        static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
        let handle = HANDLE.get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.into()),
                    HTTP_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(EMBEDDING_GENERATION_DURATION_SECONDS.into()),
                        EMBEDDING_BUCKETS,
                    )
                })
                .expect("bucket lists are non-empty constants")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            describe_contract_metrics();
            metrics_process::Collector::default().describe();
            handle
        });
        Self {
            handle: handle.clone(),
        }
    }

    /// The Prometheus text exposition, with process and runtime gauges sampled now.
    pub fn render(&self) -> String {
        metrics_process::Collector::default().collect();
        let runtime = tokio::runtime::Handle::current().metrics();
        metrics::gauge!("tokio_workers").set(runtime.num_workers() as f64);
        metrics::gauge!("tokio_alive_tasks").set(runtime.num_alive_tasks() as f64);
        metrics::gauge!("tokio_global_queue_depth").set(runtime.global_queue_depth() as f64);
        let mut text = self.handle.render();
        // The exporter prints a family only once it has a series; dashboards and probes expect every
        // contract family from start-up, so absent ones are announced without inventing label values.
        for (name, kind, help) in CONTRACT {
            if !text.contains(&format!("# TYPE {name} ")) {
                let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n\n");
            }
        }
        text
    }
}

/// Announces the contract's metrics (help texts, units) to whatever recorder is installed.
pub fn describe_contract_metrics() {
    for (name, kind, help) in CONTRACT {
        match kind {
            "counter" => describe_counter!(name, help),
            "gauge" => describe_gauge!(name, help),
            _ => describe_histogram!(name, Unit::Seconds, help),
        }
    }
    describe_gauge!(
        READINESS_CHECK,
        "1 when the named /ready check passes at scrape time, else 0"
    );
    describe_gauge!(
        KEYWORD_INDEX_INFO,
        "1 for the keyword ranking PostgreSQL searches use: path bm25 (pg_textsearch) or portable"
    );
    describe_gauge!("tokio_workers", "Worker threads of the async runtime");
    describe_gauge!("tokio_alive_tasks", "Tasks alive in the async runtime");
    describe_gauge!(
        "tokio_global_queue_depth",
        "Tasks waiting in the runtime's global queue"
    );
}
