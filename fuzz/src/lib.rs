//! What every fuzz target does: one converter on arbitrary bytes. A converter may refuse the
//! input with a failure code; it must not panic, hang or exhaust memory (libFuzzer reports those).
//!
//! One exception, as in production: the sandbox turns a panic into `CORRUPT_FILE`, so a panic
//! inside a dependency (a crate from the registry, such as calamine's XLS reader) is contained,
//! not a crash. Those unwind and are counted; a panic in our own code still aborts the run.

use std::sync::{
    Once,
    atomic::{AtomicU64, Ordering},
};

use ragbase::domain::formats::Format;

static CONTAINED: AtomicU64 = AtomicU64::new(0);

/// `converter_target!(Pdf)`: the fuzz target for one format's converter.
#[macro_export]
macro_rules! converter_target {
    ($format:ident) => {
        libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
            $crate::convert(ragbase::domain::formats::Format::$format, bytes);
        });
    };
}

pub fn convert(format: Format, bytes: &[u8]) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // libFuzzer's hook aborts on any panic; it stays in charge of our own.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_dependency = info
                .location()
                .is_some_and(|l| l.file().contains("/.cargo/registry/"));
            if !in_dependency {
                abort(info);
            }
        }));
    });
    if std::panic::catch_unwind(|| ragbase::convert::convert(format, bytes)).is_err() {
        let n = CONTAINED.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            eprintln!("contained dependency panics so far: {n}");
        }
    }
}
