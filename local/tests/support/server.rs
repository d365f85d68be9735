//! The real `ragbase` binary: run to completion, or served on a free port until dropped.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use super::{model_dir, shared};

/// Runs `ragbase <args>` to completion and returns (success, stdout + stderr).
pub async fn run_ragbase(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(env!("CARGO_BIN_EXE_ragbase"))
            .args(args)
            .env_clear()
            .envs(base_env(env))
            // A process still running at the deadline must not outlive the test.
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("ragbase finished within a minute")
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// Every process gets the shared Redis, the model, and a queue of its own unless the test says
/// otherwise (tests pass the same `QUEUE_NAME` to a server and its workers).
fn base_env(env: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = [
        ("LOG_FORMAT", "json"),
        ("LOG_LEVEL", "info"),
        ("PORT", "0"),
        ("REDIS_URL", shared().1),
        ("EMBEDDING_MODEL_DIR", model_dir()),
        // Every test process is 127.0.0.1 to one shared Redis: rate limits are tested on their own.
        ("RATE_LIMIT_MAX", "1000000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    all.push((
        "QUEUE_NAME".into(),
        format!("test:{}", uuid::Uuid::new_v4().simple()),
    ));
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

/// A running `ragbase serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `ragbase <args>` and waits for its "listening" log line.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let (child, log, logs) = Self::spawn_until_listening(args, env).await;
        let port = log["addr"]
            .as_str()
            .unwrap()
            .rsplit_once(':')
            .unwrap()
            .1
            .to_owned();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            logs,
        }
    }

    /// Starts `ragbase worker`, which serves its probes and metrics.
    pub async fn start_worker(env: &[(&str, &str)]) -> Self {
        Self::start(&["worker"], env).await
    }

    async fn spawn_until_listening(
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Child, serde_json::Value, Arc<Mutex<Vec<String>>>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ragbase"))
            .args(args)
            .env_clear()
            .envs(base_env(env))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let deadline = Instant::now() + Duration::from_secs(30);
        let ready = loop {
            let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
                .await
                .expect("started within 30 s")
                .unwrap()
                .unwrap_or_else(|| {
                    panic!("exited before it was ready: {:?}", logs.lock().unwrap())
                });
            logs.lock().unwrap().push(line.clone());
            let log: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if is_listening_line(&log) {
                break log;
            }
        };
        let sink = logs.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        (child, ready, logs)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process's `/metrics` text.
    pub async fn scrape(&self) -> String {
        let answer = reqwest::get(self.url("/metrics")).await.unwrap();
        answer.text().await.unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// A memory field of the process's `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
    pub fn memory(&self, field: &str) -> u64 {
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
        kib * 1024
    }

    /// Forgets the peak so far: `memory("VmHWM")` then tells the peak from now on.
    pub fn forget_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").unwrap();
    }
}

/// The line a server logs once it listens: `{"level","time","msg":"Server running on port N",…}`.
pub fn is_listening_line(log: &serde_json::Value) -> bool {
    log["msg"]
        .as_str()
        .is_some_and(|m| m.starts_with("Server running on port "))
        && log["addr"].is_string()
}
