//! `API_KEY`: the keys a deployment accepts. A key that is short, holds whitespace, or was
//! copied from the template or the docs is no secret, so the server refuses to start with it.

use crate::Error;

/// The shortest key accepted; `openssl rand -base64 32` gives 44 characters.
pub const MIN_KEY_LENGTH: usize = 16;

/// Values that a copy of the template or the docs could carry into a deployment.
const PLACEHOLDERS: &[&str] = &[
    "change-me-api-key",
    "changeme-api-key",
    "your-api-key-here",
    "your-secret-api-key",
    "replace-with-a-random-key",
];

const HOW_TO_MAKE_ONE: &str = "make one with `openssl rand -base64 32`";

/// The comma-separated keys of `raw` (several allow rotation), each checked.
pub fn parse(raw: Option<String>) -> Result<Vec<String>, Error> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let keys: Vec<String> = raw.split(',').map(|k| k.trim().to_owned()).collect();
    let count = keys.len();
    for (index, key) in keys.iter().enumerate() {
        if let Some(problem) = weakness(key) {
            // The key itself never reaches the message: it may be half of a real secret.
            return Err(Error::Config(format!(
                "API_KEY is invalid: key {} of {count} {problem}; {HOW_TO_MAKE_ONE}",
                index + 1
            )));
        }
    }
    Ok(keys)
}

fn weakness(key: &str) -> Option<String> {
    if key.is_empty() {
        Some("is empty".into())
    } else if key.chars().any(char::is_whitespace) {
        Some("contains whitespace".into())
    } else if key.chars().count() < MIN_KEY_LENGTH {
        Some(format!("is shorter than {MIN_KEY_LENGTH} characters"))
    } else if PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(key)) {
        Some("is a placeholder from the template or the docs".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::{fs, path::Path};

    use super::*;

    fn refusal(raw: &str) -> String {
        parse(Some(raw.into())).unwrap_err().to_string()
    }

    #[test]
    fn strong_keys_are_accepted_in_a_rotation_list() {
        let (old, new) = ("Zm9vYmFyYmF6cXV4cXV1eA==", "k7Qp2vX9mL4sT8wN1bR6yH3j");
        let keys = parse(Some(format!("{old} , {new}"))).unwrap();
        assert_eq!(keys, [old, new]);
        assert!(parse(None).unwrap().is_empty());
    }

    #[test]
    fn weak_keys_are_refused_with_the_variable_and_the_fix() {
        for (raw, problem) in [
            ("short", "key 1 of 1 is shorter than 16 characters"),
            (
                "k7Qp2vX9mL4sT8wN1bR6yH3j,,k7Qp2vX9mL4sT8wN1bR6yH3k",
                "key 2 of 3 is empty",
            ),
            ("k7Qp2vX9mL4s T8wN1bR6yH3j", "contains whitespace"),
            ("CHANGE-ME-API-KEY", "is a placeholder"),
        ] {
            let message = refusal(raw);
            assert!(message.starts_with("API_KEY is invalid"), "{message}");
            assert!(message.contains(problem), "{raw}: {message}");
            assert!(message.contains("openssl rand -base64 32"), "{message}");
            assert!(
                !message.contains("k7Qp") && !message.contains("short,"),
                "{message}"
            );
        }
    }

    /// Every literal key the docs' Markdown pages and the templates show (`API_KEY=…`,
    /// `X-API-Key: …`) is refused, so that a copied example can never become a deployment's secret.
    #[test]
    fn every_key_shown_in_the_docs_is_refused() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = vec![root.join("README.md"), root.join("env.production.template")];
        files.extend(
            fs::read_dir(root.join("docs"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "md")),
        );
        let mut shown = Vec::new();
        for file in files {
            for line in fs::read_to_string(&file).unwrap().lines() {
                for marker in ["API_KEY=", "X-API-Key: ", "x-api-key: "] {
                    shown.extend(line.split(marker).skip(1).map(|rest| {
                        rest.split(|c: char| c.is_whitespace() || "\"'`".contains(c))
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    }));
                }
            }
        }
        for key in shown
            .iter()
            .filter(|k| !k.is_empty() && !k.starts_with('$'))
        {
            assert!(
                parse(Some(key.clone())).is_err(),
                "the docs show the key {key:?}"
            );
        }
    }
}
