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

/// The magic of OLE compound files: legacy XLS (and DOC, PPT, encrypted OOXML).
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

pub fn convert(format: Format, bytes: &[u8]) {
    // calamine 0.38's legacy XLS reader is not fuzz-clean: within minutes it panics, or asks for
    // more memory than exists and aborts. Production contains both (the sandbox's catch_unwind
    // and its 2 GiB budget give CORRUPT_FILE; local/tests/hostile.rs keeps the inputs), but an
    // abort ends a fuzzing run, so this target fuzzes the XLSX path only.
    if format == Format::Xlsx && bytes.starts_with(OLE_MAGIC) {
        return;
    }
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
