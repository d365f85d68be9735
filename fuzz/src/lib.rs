//! What every fuzz target does: one converter on arbitrary bytes. A converter may refuse the
//! input with a failure code; it must not panic, hang or exhaust memory (libFuzzer reports those).

/// `converter_target!(Pdf)`: the fuzz target for one format's converter.
#[macro_export]
macro_rules! converter_target {
    ($format:ident) => {
        libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
            let _ = ragbase::convert::convert(ragbase::domain::formats::Format::$format, bytes);
        });
    };
}
