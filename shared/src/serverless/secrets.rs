//! Secrets on Lambda: `template.yaml` gives the functions the ARNs of their Secrets Manager
//! secrets (`DATABASE_URL_SECRET_ARN`, `API_KEY_SECRET_ARN`), never the values, so no secret sits
//! in a function's configuration. Each is read once, at init; a plain variable of the same name
//! still works where no ARN is given (the local emulator, tests).

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::{Error, config::Config};

/// The settings that may come from a secret.
const SECRET_SETTINGS: [&str; 2] = ["DATABASE_URL", "API_KEY"];

/// The configuration, with every `<NAME>_SECRET_ARN` replaced by the secret's value as `<NAME>`.
pub async fn config_from_env() -> Result<Config, Error> {
    let wanted: Vec<(&str, String)> = SECRET_SETTINGS
        .iter()
        .filter_map(|name| Some((*name, std::env::var(format!("{name}_SECRET_ARN")).ok()?)))
        .collect();
    let mut values = HashMap::new();
    if !wanted.is_empty() {
        // Region, credentials and any endpoint (AWS_ENDPOINT_URL_SECRETS_MANAGER) as usual.
        let client = aws_sdk_secretsmanager::Client::new(&aws_config::from_env().load().await);
        for (name, arn) in wanted {
            values.insert(name, read(&client, name, &arn).await?);
        }
    }
    Config::from_lookup(|name| {
        values
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })
}

async fn read(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    arn: &str,
) -> Result<String, Error> {
    let unreadable =
        |why: String| Error::Config(format!("{name}_SECRET_ARN: cannot read {arn}: {why}"));
    let answer = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| unreadable(DisplayErrorContext(&e).to_string()))?;
    answer
        .secret_string()
        .map(str::to_owned)
        .ok_or_else(|| unreadable("the secret has no text value".into()))
}
