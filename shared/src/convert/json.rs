//! JSON: a list of records (an array of objects, or an object holding one) reads as one paragraph
//! per record, "key is value." for each field in key order, nested keys joined with dots. Any other JSON is
//! kept as code, pretty-printed. serde_json's nesting limit (128) guards the parse and, so, the
//! recursion below.

use serde_json::{Map, Value};

use crate::domain::{
    blocks::{Block, BlockKind},
    failure::{Failure, FailureCode},
    text::decode,
};

pub fn convert(bytes: &[u8]) -> Result<Vec<Block>, Failure> {
    let value: Value = serde_json::from_str(&decode(bytes)).map_err(|e| {
        Failure::new(
            FailureCode::CorruptFile,
            format!(
                "not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let Some((context, records)) = records(&value) else {
        let pretty = serde_json::to_string_pretty(&value).map_err(|e| {
            Failure::new(
                FailureCode::InternalError,
                format!("cannot print JSON: {e}"),
            )
        })?;
        return Ok(vec![Block::new(BlockKind::Code, pretty, None)]);
    };
    let fields = records.into_iter().map(|record| record.iter().collect());
    Ok(std::iter::once(context)
        .chain(fields)
        .filter_map(|fields: Vec<(&String, &Value)>| {
            let mut sentences = Vec::new();
            for (key, value) in fields {
                describe(key, value, &mut sentences);
            }
            (!sentences.is_empty())
                .then(|| Block::new(BlockKind::Paragraph, sentences.join(" "), None))
        })
        .collect())
}

type Fields<'v> = Vec<(&'v String, &'v Value)>;

/// The records, after the other fields of the object that holds them (none for a bare array).
fn records(value: &Value) -> Option<(Fields<'_>, Vec<&Map<String, Value>>)> {
    if let Some(records) = record_list(value) {
        return Some((Vec::new(), records));
    }
    let fields = value.as_object()?;
    let mut lists = fields
        .iter()
        .filter_map(|(key, value)| Some((key, record_list(value)?)));
    let (key, records) = lists.next()?;
    if lists.next().is_some() {
        return None;
    }
    let context = fields.iter().filter(|(k, _)| *k != key).collect();
    Some((context, records))
}

/// A non-empty array of objects.
fn record_list(value: &Value) -> Option<Vec<&Map<String, Value>>> {
    let items = value.as_array().filter(|items| !items.is_empty())?;
    items.iter().map(Value::as_object).collect()
}

/// "key is value." sentences for a field: objects by dotted keys, scalar lists joined with commas,
/// other lists by 1-based position. Nulls and empty strings say nothing.
fn describe(key: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::String(s) if s.trim().is_empty() => {}
        Value::Object(fields) => {
            for (child, value) in fields {
                describe(&format!("{key}.{child}"), value, out);
            }
        }
        Value::Array(items) if items.iter().all(|v| scalar(v).is_some()) => {
            let items: Vec<String> = items.iter().filter_map(scalar).collect();
            if !items.is_empty() {
                out.push(sentence(key, &items.join(", ")));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                describe(&format!("{key}.{}", i + 1), item, out);
            }
        }
        scalar_value => out.extend(scalar(scalar_value).map(|v| sentence(key, &v))),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn sentence(key: &str, value: &str) -> String {
    let stop = if value.ends_with(['.', '!', '?']) {
        ""
    } else {
        "."
    };
    format!("{key} is {value}{stop}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::testing::sample;

    fn texts(blocks: &[Block]) -> Vec<&str> {
        blocks.iter().map(|b| b.text.as_str()).collect()
    }

    #[test]
    fn a_single_object_is_kept_as_code() {
        let blocks = convert(&sample("documents/json/valid.json")).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].kind, BlockKind::Code);
        assert!(blocks[0].text.contains(r#""author": "Test Author""#));
        assert!(blocks[0].text.contains("fast lane processing pipeline"));
    }

    #[test]
    fn malformed_json_names_the_place() {
        let failure = convert(&sample("documents/json/malformed.json")).unwrap_err();
        assert_eq!(failure.code, FailureCode::CorruptFile);
        assert!(failure.message.contains("line 4, column 0"), "{failure}");
    }

    #[test]
    fn records_become_sentences() {
        let json = br#"[
            {"name": "Ann", "age": 42, "address": {"city": "Oslo", "zip": null}, "tags": ["a", "b"], "note": ""},
            {"name": "Bob", "active": true, "pets": [{"kind": "cat"}, {"kind": "dog"}], "motto": "Carpe diem."}
        ]"#;
        assert_eq!(
            texts(&convert(json).unwrap()),
            [
                "address.city is Oslo. age is 42. name is Ann. tags is a, b.",
                "active is true. motto is Carpe diem. name is Bob. pets.1.kind is cat. pets.2.kind is dog.",
            ]
        );
    }

    #[test]
    fn an_object_holding_records_keeps_its_other_fields_first() {
        let json = br#"{"source": "census", "results": [{"city": "Kenai"}, {"city": "Oakman"}]}"#;
        assert_eq!(
            texts(&convert(json).unwrap()),
            ["source is census.", "city is Kenai.", "city is Oakman."]
        );
        let two_lists = br#"{"a": [{"x": 1}], "b": [{"y": 2}]}"#;
        assert_eq!(convert(two_lists).unwrap()[0].kind, BlockKind::Code);
        let scalars = br#"[1, 2, {"x": 3}]"#;
        assert_eq!(convert(scalars).unwrap()[0].kind, BlockKind::Code);
    }

    #[test]
    fn absurd_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let failure = convert(deep.as_bytes()).unwrap_err();
        assert_eq!(failure.code, FailureCode::CorruptFile);
        assert!(failure.message.contains("recursion limit"), "{failure}");
    }
}
