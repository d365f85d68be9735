//! The production log line: one JSON object a line, opening with `level` (lower case), `time`
//! (RFC 3339 UTC, milliseconds) and `msg`, then the fields of the enclosing spans and of the
//! event, and `target`. These are the field names operators of the original already query.

use std::fmt;

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, format::Writer},
    registry::LookupSpan,
};

pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        // Span fields are stored as JSON text by `JsonFields`; inner spans override outer ones.
        for span in ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
        {
            if let Some(stored) = span.extensions().get::<FormattedFields<N>>()
                && let Ok(Value::Object(span_fields)) = serde_json::from_str(stored)
            {
                fields.0.extend(span_fields);
            }
        }
        event.record(&mut fields);
        let Fields(mut rest) = fields;
        let msg = rest.remove("message").unwrap_or_else(|| "".into());
        rest.insert("target".into(), event.metadata().target().into());
        let head = [
            (
                "level",
                event
                    .metadata()
                    .level()
                    .as_str()
                    .to_ascii_lowercase()
                    .into(),
            ),
            (
                "time",
                Utc::now()
                    .to_rfc3339_opts(SecondsFormat::Millis, true)
                    .into(),
            ),
            ("msg", msg),
        ];
        write!(writer, "{{")?;
        for (name, value) in head {
            write!(writer, "{}:{value},", Value::from(name))?;
        }
        let rest = Value::Object(rest).to_string();
        writeln!(writer, "{}", &rest[1..])
    }
}

/// An event's fields as JSON values; `message` is the formatted message.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::{MakeWriter, format::JsonFields};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    #[test]
    fn a_line_opens_with_level_time_and_msg_and_keeps_every_field() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(JsonLine)
            .with_writer(captured.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "r-1", method = "GET");
            let _entered = span.enter();
            tracing::warn!(
                port = 3000u16,
                ready = true,
                "Server running on port {}",
                3000
            );
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.starts_with(r#"{"level":"warn","time":""#) && text.ends_with("}\n"),
            "{text}"
        );
        let line: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(line["msg"], "Server running on port 3000");
        assert_eq!(
            (&line["port"], &line["ready"]),
            (&3000.into(), &true.into())
        );
        assert_eq!(line["request_id"], "r-1");
        assert!(line["target"].as_str().unwrap().starts_with("ragbase"));
        let time = line["time"].as_str().unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(time).unwrap();
        assert!(time.ends_with('Z') && time.len() == "2025-12-19T21:21:11.123Z".len());
        assert!(
            (Utc::now() - parsed.with_timezone(&Utc))
                .num_seconds()
                .abs()
                < 60
        );
    }
}
