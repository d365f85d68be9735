//! The whole app in process, as `ragbase serve` starts it: the embedded store in a folder of the
//! test's own, the real model, port 0; served until the test's own shutdown signal.

#[path = "common/model.rs"]
mod model;

use std::sync::Arc;

use ragbase::{
    adapters::onnx_embedder::OnnxEmbedder,
    config::Config,
    startup::{Application, Role},
};
use serde_json::{Value, json};

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
    let model = OnnxEmbedder::load(std::path::Path::new(model::model_dir()), 1).unwrap();
    let app = Application::build(config, role, false, Arc::new(model))
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
    assert_eq!(ready["checks"], json!({"database": true, "queue": true}));
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
    // The model embeds the question; an empty knowledge base has nothing to return.
    let answer = client
        .post(format!("{base}/api/query"))
        .header("x-api-key", key)
        .json(&json!({"query": "how are chunks made?", "mode": "hybrid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"mode": "hybrid", "alpha": 0.7, "results": []}));

    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
    assert!(
        client.get(format!("{base}/health")).send().await.is_err(),
        "still serving"
    );
    let _ = std::fs::remove_dir_all(&folder);
}
