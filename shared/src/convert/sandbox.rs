//! Runs a converter in a child process under a time and memory budget. Parsers of hostile files
//! can panic, loop, recurse or allocate without end; in a child, all of that costs only the child.

use std::{
    io::{Read, Write},
    path::PathBuf,
    process::Stdio,
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    process::Command,
};

use crate::domain::{
    blocks::Block,
    failure::{Failure, FailureCode},
    formats::Format,
};

/// Address space a conversion may use (the 200 MiB zip bomb must fail inside it).
pub const MEMORY_LIMIT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The child's error output kept for the log; a panic's message fits, a flood does not.
const STDERR_KEPT: u64 = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Outcome {
    Blocks(Vec<Block>),
    Failure(Failure),
}

/// How to start the converter child: normally this very executable with its `convert` command.
#[derive(Debug, Clone)]
pub struct Sandbox {
    program: PathBuf,
    args: Vec<String>,
    timeout: Duration,
}

impl Sandbox {
    pub fn new(program: PathBuf, args: Vec<String>, timeout: Duration) -> Self {
        Self {
            program,
            args,
            timeout,
        }
    }

    /// Children that are this very executable, started as `<exe> convert --cpu-seconds N
    /// --format F`; `run_child_if_asked` is their side. The CPU budget leaves the wall-clock
    /// `timeout` room to act first.
    pub fn of_this_executable(timeout: Duration) -> std::io::Result<Self> {
        let cpu_seconds = (timeout.as_secs() + 5).to_string();
        Ok(Self::new(
            std::env::current_exe()?,
            vec!["convert".into(), "--cpu-seconds".into(), cpu_seconds],
            timeout,
        ))
    }

    /// Converts `bytes` in a child. Output past `max_output_bytes` stops the child there: the
    /// file makes more text than a document may hold, and reading on would only cost memory.
    pub async fn convert(
        &self,
        format: Format,
        bytes: Vec<u8>,
        max_output_bytes: usize,
    ) -> Result<Vec<Block>, Failure> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .args(["--format", format.as_str()])
            // A hostile file runs code in this process at worst: it gets no secrets (the
            // database URL, API keys, cloud credentials) to take with it.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Failure::internal("cannot start the converter", &e))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let feed = tokio::spawn(async move {
            // The child may die before reading everything; its exit status tells why.
            let _ = stdin.write_all(&bytes).await;
        });
        let ran = tokio::time::timeout(self.timeout, collect(&mut child, max_output_bytes)).await;
        feed.abort();
        let output = match ran {
            Ok(Ok(Some(output))) => output,
            Ok(Ok(None)) => {
                return Err(Failure::new(
                    FailureCode::FileTooLarge,
                    format!(
                        "the converted text passed {} MiB, more than MAX_DOCUMENT_CHUNKS \
                         chunks can hold",
                        max_output_bytes >> 20
                    ),
                ));
            }
            Ok(Err(e)) => return Err(Failure::internal("converter failed", &e)),
            Err(_) => {
                return Err(Failure::new(
                    FailureCode::Timeout,
                    format!("conversion took longer than {} s", self.timeout.as_secs()),
                ));
            }
        };
        outcome_of(output)
    }
}

/// The child's output and exit status; `None` once stdout passes `max_stdout` bytes (the child
/// is then killed when dropped). Its error output is drained meanwhile, so it cannot stall.
async fn collect(
    child: &mut tokio::process::Child,
    max_stdout: usize,
) -> std::io::Result<Option<std::process::Output>> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let drained = tokio::spawn(async move {
        let mut kept = Vec::new();
        (&mut stderr)
            .take(STDERR_KEPT)
            .read_to_end(&mut kept)
            .await?;
        tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await?;
        Ok::<_, std::io::Error>(kept)
    });
    let mut out = Vec::new();
    let limit = u64::try_from(max_stdout)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    stdout.take(limit).read_to_end(&mut out).await?;
    if out.len() > max_stdout {
        return Ok(None);
    }
    let status = child.wait().await?;
    let stderr = drained.await.map_err(std::io::Error::other)??;
    Ok(Some(std::process::Output {
        status,
        stdout: out,
        stderr,
    }))
}

/// What the child said: its blocks, its own failure, or why it died.
fn outcome_of(output: std::process::Output) -> Result<Vec<Block>, Failure> {
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        tracing::warn!(status = %output.status, stderr = %stderr.chars().take(2000).collect::<String>(), "converter died");
        let why = if stderr.contains("memory allocation") {
            format!(
                "converting the file needs more than {} MiB of memory",
                MEMORY_LIMIT_BYTES >> 20
            )
        } else {
            format!("the converter crashed on this file ({})", output.status)
        };
        return Err(Failure::new(FailureCode::CorruptFile, why));
    }
    match serde_json::from_slice(&output.stdout) {
        Ok(Outcome::Blocks(blocks)) => Ok(blocks),
        Ok(Outcome::Failure(failure)) => Err(failure),
        Err(e) => Err(Failure::internal("unreadable converter output", &e)),
    }
}

/// In a process started by `of_this_executable`'s sandbox, converts and returns the exit code;
/// `None` in any other process. Call it first thing in `main`, before any runtime starts.
pub fn run_child_if_asked() -> Option<i32> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [command, rest @ ..] = args.as_slice() else {
        return None;
    };
    if command != "convert" {
        return None;
    }
    let option = |name: &str| {
        rest.iter()
            .position(|a| a == name)
            .and_then(|i| rest.get(i + 1))
    };
    let format = option("--format").and_then(|f| Format::parse(f));
    let cpu_seconds = option("--cpu-seconds").and_then(|n| n.parse().ok());
    Some(match (format, cpu_seconds) {
        (Some(format), Some(cpu_seconds)) => run_child(format, cpu_seconds),
        _ => {
            eprintln!("usage: convert --cpu-seconds N --format FORMAT (the file on stdin)");
            2
        }
    })
}

/// The child's side: reads the file on stdin, converts it under the limits, writes the outcome
/// as JSON on stdout. Returns the process exit code.
fn run_child(format: Format, cpu_seconds: u64) -> i32 {
    // Limits first, so nothing below can exceed them.
    let limits = rlimit::setrlimit(rlimit::Resource::AS, MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES)
        .and_then(|()| rlimit::setrlimit(rlimit::Resource::CPU, cpu_seconds, cpu_seconds));
    if let Err(e) = limits {
        eprintln!("cannot limit the converter: {e}");
        return 2;
    }
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("cannot read the file: {e}");
        return 2;
    }
    let outcome = match std::panic::catch_unwind(|| super::convert(format, &bytes)) {
        Ok(Ok(blocks)) => Outcome::Blocks(blocks),
        Ok(Err(failure)) => Outcome::Failure(failure),
        Err(_) => Outcome::Failure(Failure::new(
            FailureCode::CorruptFile,
            "the converter could not make sense of this file",
        )),
    };
    let mut stdout = std::io::stdout().lock();
    match serde_json::to_writer(&mut stdout, &outcome)
        .and_then(|()| stdout.flush().map_err(serde_json::Error::io))
    {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cannot write the outcome: {e}");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output bound no test reaches.
    const ANY: usize = 1 << 20;

    /// A sandbox whose "converter" is a shell script; the `--format …` arguments it is given
    /// become the script's unused positional parameters.
    fn shell(script: &str, timeout: Duration) -> Sandbox {
        Sandbox::new(
            "/bin/sh".into(),
            vec!["-c".into(), script.into(), "sh".into()],
            timeout,
        )
    }

    #[tokio::test]
    async fn a_converter_that_hangs_is_killed_at_the_time_budget() {
        let started = std::time::Instant::now();
        let failure = shell("sleep 30", Duration::from_millis(500))
            .convert(Format::Text, b"x".to_vec(), ANY)
            .await
            .unwrap_err();
        assert_eq!(failure.code, FailureCode::Timeout);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_converter_that_crashes_marks_the_file_corrupt() {
        let failure = shell("kill -SEGV $$", Duration::from_secs(5))
            .convert(Format::Pdf, vec![0; 1 << 20], ANY)
            .await
            .unwrap_err();
        assert_eq!(failure.code, FailureCode::CorruptFile);
        assert!(failure.message.contains("crashed"), "{failure}");
    }

    #[tokio::test]
    async fn the_child_outcome_comes_back_as_blocks_or_a_failure() {
        let blocks = r#"{"blocks":[{"kind":"paragraph","text":"hello","page":2}]}"#;
        let got = shell(
            &format!("cat >/dev/null; printf '%s' '{blocks}'"),
            Duration::from_secs(5),
        )
        .convert(Format::Text, b"input".to_vec(), ANY)
        .await
        .unwrap();
        assert_eq!(
            got,
            [Block::new(
                crate::domain::blocks::BlockKind::Paragraph,
                "hello",
                Some(2)
            )]
        );
        let failure = r#"{"failure":{"code":"PASSWORD_PROTECTED","message":"locked"}}"#;
        let got = shell(&format!("printf '%s' '{failure}'"), Duration::from_secs(5))
            .convert(Format::Pdf, vec![], ANY)
            .await;
        assert_eq!(
            got.unwrap_err(),
            Failure::new(FailureCode::PasswordProtected, "locked")
        );
    }

    #[tokio::test]
    async fn the_child_sees_none_of_the_parents_environment() {
        // SAFETY: the variable is this test's own; no other thread reads it.
        unsafe { std::env::set_var("RAGBASE_TEST_SECRET", "postgres://user:secret@db/ragbase") };
        let echo = r#"printf '{"blocks":[{"kind":"paragraph","text":"[%s|%s]"}]}' "$RAGBASE_TEST_SECRET" "$HOME""#;
        let got = shell(&format!("cat >/dev/null; {echo}"), Duration::from_secs(5))
            .convert(Format::Text, b"input".to_vec(), ANY)
            .await
            .unwrap();
        assert_eq!(got[0].text, "[|]");
    }

    #[tokio::test]
    async fn a_child_that_writes_past_the_output_bound_is_stopped_there() {
        let started = std::time::Instant::now();
        // A megabyte of error output first (which must not stall it), then endless output.
        let flood = "cat >/dev/null; head -c 1000000 /dev/zero >&2; exec yes";
        let failure = shell(flood, Duration::from_secs(60))
            .convert(Format::Csv, b"a,b".to_vec(), 4 << 20)
            .await
            .unwrap_err();
        assert_eq!(failure.code, FailureCode::FileTooLarge, "{failure}");
        assert!(failure.message.contains("4 MiB"), "{failure}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
