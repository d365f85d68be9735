//! How far a stage of `ingest` has come: a bar with an ETA on a terminal, a plain line every few
//! seconds otherwise (a CI log, a pipe).

use std::{
    io::IsTerminal,
    sync::Mutex,
    time::{Duration, Instant},
};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

const PLAIN_EVERY: Duration = Duration::from_secs(2);

/// What a stage counts: bytes sent, or documents finished.
#[derive(Clone, Copy)]
pub enum Unit {
    Bytes,
    Documents,
}

pub struct Progress {
    stage: &'static str,
    unit: Unit,
    bar: ProgressBar,
    /// `None` on a terminal; else when the last plain line was written.
    plain: Option<Mutex<Instant>>,
}

impl Progress {
    pub fn new(stage: &'static str, total: u64, unit: Unit) -> Self {
        let terminal = std::io::stderr().is_terminal();
        // Hidden off a terminal, but still counting towards `total` for the plain lines.
        let target = if terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let counts = match unit {
            Unit::Bytes => "{bytes}/{total_bytes}",
            Unit::Documents => "{pos}/{len} documents",
        };
        let template = format!("{{prefix:>10}} [{{bar:30}}] {counts} {{msg}} (ETA {{eta}})");
        bar.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
        bar.set_prefix(stage);
        let plain = (!terminal).then(|| Mutex::new(Instant::now()));
        Self {
            stage,
            unit,
            bar,
            plain,
        }
    }

    /// Counts `n` more, and says what else there is to say (files done, chunks embedded).
    pub fn advance(&self, n: u64, message: String) {
        self.bar.inc(n);
        self.bar.set_message(message);
        if let Some(last) = &self.plain {
            let mut last = last.lock().expect("not poisoned");
            if last.elapsed() >= PLAIN_EVERY {
                *last = Instant::now();
                self.print_line();
            }
        }
    }

    pub fn finish(&self) {
        self.bar.finish();
        if self.plain.is_some() {
            self.print_line();
        }
    }

    fn print_line(&self) {
        let (done, total) = (self.bar.position(), self.bar.length().unwrap_or(0));
        let counts = match self.unit {
            Unit::Bytes => format!("{} of {}", HumanBytes(done), HumanBytes(total)),
            Unit::Documents => format!("{done} of {total} documents"),
        };
        eprintln!("{}: {counts}, {}", self.stage, self.bar.message());
    }
}
