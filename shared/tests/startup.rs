//! The whole app in process, as `ragbase serve` starts it: the embedded store in a folder of the
//! test's own, port 0, a stand-in model; served until the test's own shutdown signal.

use std::sync::Arc;

use ragbase::{
    Error,
    config::Config,
    ports::Embedder,
    startup::{Application, Role},
};
use serde_json::Value;

/// One vector for every text: the routes under test need a model, not its meaning.
struct OneVector;

impl Embedder for OneVector {
    fn dimensions(&self) -> usize {
        384
    }
    fn max_tokens(&self) -> usize {
        256
    }
    fn count_tokens(&self, text: &str) -> usize {
        text.split_whitespace().count() + 2
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        let unit = vec![(1.0f32 / 384.0).sqrt(); 384];
        Ok(texts.iter().map(|_| unit.clone()).collect())
    }
}

#[tokio::test]
async fn the_app_serves_in_process_on_a_free_port_until_it_is_stopped() {
    let folder = std::env::temp_dir().join(format!("ragbase-startup-{}", std::process::id()));
    let key = "startup-test-key-0123456789";
    let data_dir = folder.to_str().unwrap().to_owned();
    let config = Config::from_lookup(|name| match name {
        "PORT" => Some("0".into()),
        "RAGBASE_DATA_DIR" => Some(data_dir.clone()),
        "API_KEY" => Some(key.into()),
        "HOST" => Some("127.0.0.1".into()),
        _ => None,
    })
    .unwrap();
    let role = Role::Server { worker: None };
    let app = Application::build(config, role, false, Arc::new(OneVector))
        .await
        .unwrap();
    let base = format!("http://{}", app.address().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let ready: Value = client
        .get(format!("{base}/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["checks"],
        serde_json::json!({"database": true, "queue": true})
    );
    let listing = client
        .get(format!("{base}/api/documents"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 200);
    let body: Value = listing.json().await.unwrap();
    assert_eq!(body["total"], 0);
    let refused = client
        .get(format!("{base}/api/documents"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
    assert!(
        client.get(format!("{base}/health")).send().await.is_err(),
        "still serving"
    );
    let _ = std::fs::remove_dir_all(&folder);
}
