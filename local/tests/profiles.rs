//! The original RAGBase's processing profile expectations (its `profile-routes` tests), against
//! the real binary on each backend, and what a profile changes: the worker scores a document's
//! chunks by the rules of the profile it was uploaded under.

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::{
    TestBackend,
    api::{Api, KEY},
    on_each_backend,
};

async fn create(api: &Api, body: Value) -> Value {
    let (status, created) = api.send(Method::POST, "/api/profiles", &body).await;
    assert_eq!(status, 201, "{created}");
    created["profile"].clone()
}

async fn put(api: &Api, id: &Value, action: &str) -> (u16, Value) {
    let path = format!("/api/profiles/{}/{action}", id.as_str().unwrap());
    api.send(Method::PUT, &path, &json!({})).await
}

async fn delete(api: &Api, id: &Value, body: Value) -> (u16, Value) {
    let path = format!("/api/profiles/{}", id.as_str().unwrap());
    api.send(Method::DELETE, &path, &body).await
}

/// A 400 `BAD_REQUEST` whose message says `why`.
fn refused((status, answer): (u16, Value), why: &str) {
    assert_eq!(
        (status, &answer["error"]),
        (400, &json!("BAD_REQUEST")),
        "{answer}"
    );
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains(why), "{message}");
}

async fn names(api: &Api, path: &str) -> Vec<String> {
    let (status, listed) = api.get(path).await;
    assert_eq!(status, 200, "{listed}");
    listed["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

on_each_backend!(profiles_are_created_and_duplicated_as_the_original_allowed);

async fn profiles_are_created_and_duplicated_as_the_original_allowed(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let (status, active) = api.get("/api/profiles/active").await;
    assert_eq!(status, 200, "{active}");
    let default = &active["profile"];
    assert_eq!(
        (&default["name"], &default["isActive"]),
        (&json!("Default"), &json!(true))
    );
    assert_eq!(default["embeddingDimension"], 384);

    let custom = create(
        &api,
        json!({"name": "Custom Profile", "documentChunkSize": 500, "pdfOcrMode": "force"}),
    )
    .await;
    assert_eq!(
        (
            &custom["documentChunkSize"],
            &custom["pdfOcrMode"],
            &custom["qualityMinChars"]
        ),
        (&json!(500), &json!("force"), &json!(500))
    );
    assert_eq!(
        (&custom["isActive"], &custom["isDefault"]),
        (&json!(false), &json!(false))
    );
    let (status, taken) = api
        .send(
            Method::POST,
            "/api/profiles",
            &json!({"name": "Custom Profile"}),
        )
        .await;
    assert_eq!((status, &taken["error"]), (409, &json!("CONFLICT")));
    for invalid in [json!({}), json!({"name": "Test", "documentChunkSize": 50})] {
        let (status, answer) = api.send(Method::POST, "/api/profiles", &invalid).await;
        assert_eq!(
            (status, &answer["error"]),
            (400, &json!("VALIDATION_ERROR")),
            "{invalid}"
        );
    }

    let nul = create(
        &api,
        json!({"name": "Nul\u{0}name", "description": "\u{0}"}),
    )
    .await;
    assert_eq!(
        nul["name"], "Nul\u{FFFD}name",
        "PostgreSQL refuses NUL in text"
    );

    let source = create(
        &api,
        json!({"name": "Source", "documentChunkSize": 800, "documentChunkOverlap": 80,
               "pdfOcrMode": "never", "qualityMinChars": 100}),
    )
    .await;
    let path = format!("/api/profiles/{}/duplicate", source["id"].as_str().unwrap());
    let (status, copy) = api.send(Method::POST, &path, &json!({})).await;
    assert_eq!(status, 201, "{copy}");
    let copy = &copy["profile"];
    assert_eq!(copy["name"], "Source v2");
    for setting in [
        "documentChunkSize",
        "documentChunkOverlap",
        "pdfOcrMode",
        "qualityMinChars",
    ] {
        assert_eq!(copy[setting], source[setting], "{setting}");
    }
    let (_, again) = api.send(Method::POST, &path, &json!({})).await;
    assert_eq!(
        again["profile"]["name"], "Source v3",
        "a taken name is versioned on"
    );
    let (_, named) = api
        .send(Method::POST, &path, &json!({"name": "Custom Clone"}))
        .await;
    assert_eq!(named["profile"]["name"], "Custom Clone");
    let longest = json!({"name": "n".repeat(100)});
    let (status, long) = api.send(Method::POST, &path, &longest).await;
    assert_eq!(status, 201, "{long}");
    let (status, taken) = api.send(Method::POST, &path, &longest).await;
    assert_eq!(
        (status, &taken["error"]),
        (409, &json!("CONFLICT")),
        "no room for a version"
    );
    let long_id = long["profile"]["id"].as_str().unwrap();
    let long_path = format!("/api/profiles/{long_id}/duplicate");
    let (status, taken) = api.send(Method::POST, &long_path, &json!(null)).await;
    assert_eq!(
        (status, &taken["error"]),
        (409, &json!("CONFLICT")),
        "{taken}"
    );
    let missing = "/api/profiles/00000000-0000-4000-8000-00000000abcd/duplicate";
    assert_eq!(api.send(Method::POST, missing, &json!({})).await.0, 404);
    assert_eq!(
        api.send(Method::POST, "/api/profiles/nope/duplicate", &json!({}))
            .await
            .0,
        404
    );

    let listed = names(&api, "/api/profiles").await;
    assert_eq!(listed.len(), 8, "{listed:?}");
    assert_eq!(listed[0], "Default", "the default and active profile first");
}

on_each_backend!(only_one_profile_is_active_and_only_an_archived_one_is_deleted);

async fn only_one_profile_is_active_and_only_an_archived_one_is_deleted(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let (_, active) = api.get("/api/profiles/active").await;
    let default = active["profile"]["id"].clone();
    refused(put(&api, &default, "archive").await, "default");
    refused(
        delete(&api, &default, json!({"confirmed": true})).await,
        "default",
    );

    let next = create(&api, json!({"name": "Next"})).await["id"].clone();
    let (status, activated) = put(&api, &next, "activate").await;
    assert_eq!(
        (status, &activated["profile"]["isActive"]),
        (200, &json!(true))
    );
    let (_, listed) = api.get("/api/profiles").await;
    let actives: Vec<&Value> = listed["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["isActive"] == true)
        .collect();
    assert_eq!(actives.len(), 1, "{listed}");
    assert_eq!(actives[0]["id"], next);
    refused(put(&api, &next, "archive").await, "active");
    refused(
        delete(&api, &next, json!({"confirmed": true})).await,
        "active",
    );

    let old = create(&api, json!({"name": "Old"})).await["id"].clone();
    refused(
        delete(&api, &old, json!({"confirmed": true})).await,
        "archived",
    );
    assert_eq!(
        put(&api, &old, "unarchive").await.0,
        400,
        "it is not archived"
    );
    let (status, archived) = put(&api, &old, "archive").await;
    assert_eq!(
        (status, &archived["profile"]["isArchived"]),
        (200, &json!(true))
    );
    assert!(!names(&api, "/api/profiles").await.contains(&"Old".into()));
    let everything = names(&api, "/api/profiles?includeArchived=true").await;
    assert!(everything.contains(&"Old".into()), "{everything:?}");
    refused(put(&api, &old, "activate").await, "archived");
    let (status, restored) = put(&api, &old, "unarchive").await;
    assert_eq!(
        (status, &restored["profile"]["isArchived"]),
        (200, &json!(false))
    );
    put(&api, &old, "archive").await;
    let (status, deleted) = delete(&api, &old, json!({})).await;
    assert_eq!(
        (status, &deleted["success"]),
        (200, &json!(true)),
        "empty: no confirmation"
    );
    assert_eq!(put(&api, &old, "unarchive").await.0, 404);
}

/// Markdown of one section, long enough to pass the quality gate and shorter than 500
/// characters, the default profile's `qualityMinChars`.
fn short_note(topic: &str) -> Vec<u8> {
    format!(
        "# {topic}\n\nThis note about {topic} is a few sentences long. It explains one idea \
         clearly and ends properly. Reviewers read it in a minute.\n"
    )
    .into_bytes()
}

async fn flags_of(api: &Api, document: &Value) -> Vec<Value> {
    let path = format!("/api/chunks?documentId={}", document.as_str().unwrap());
    let (status, explored) = api.get(&path).await;
    assert_eq!(status, 200, "{explored}");
    let chunks = explored["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 1, "{explored}");
    chunks[0]["qualityFlags"].as_array().unwrap().clone()
}

on_each_backend!(a_document_is_scored_by_the_profile_it_was_uploaded_under);

async fn a_document_is_scored_by_the_profile_it_was_uploaded_under(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let (_, strict) = api.upload("strict.md", short_note("tides")).await;
    api.settle(Duration::from_secs(120)).await;
    let lenient = create(&api, json!({"name": "Lenient", "qualityMinChars": 100})).await;
    put(&api, &lenient["id"], "activate").await;
    let (_, relaxed) = api.upload("lenient.md", short_note("winds")).await;
    let documents = api.settle(Duration::from_secs(120)).await;
    assert!(
        documents.iter().all(|d| d["status"] == "COMPLETED"),
        "{documents:#?}"
    );

    let too_short = json!("TOO_SHORT");
    assert!(flags_of(&api, &strict["id"]).await.contains(&too_short));
    let relaxed_flags = flags_of(&api, &relaxed["id"]).await;
    assert!(!relaxed_flags.contains(&too_short), "{relaxed_flags:?}");
    let (_, listed) = api.get("/api/profiles").await;
    let counts: Vec<(&Value, &Value)> = listed["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (&p["name"], &p["documentCount"]))
        .collect();
    assert!(
        counts.contains(&(&json!("Lenient"), &json!(1))),
        "{counts:?}"
    );

    let default = listed["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["isDefault"] == true);
    put(&api, &default.unwrap()["id"], "activate").await;
    put(&api, &lenient["id"], "archive").await;
    let (status, asked) = delete(&api, &lenient["id"], json!({})).await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(
        (
            &asked["requireConfirmation"],
            &asked["documentCount"],
            &asked["chunkCount"]
        ),
        (&json!(true), &json!(1), &json!(1))
    );
    let relaxed_path = format!("/api/documents/{}", relaxed["id"].as_str().unwrap());
    assert_eq!(
        api.get(&relaxed_path).await.0,
        200,
        "nothing deleted unconfirmed"
    );
    let (status, deleted) = delete(&api, &lenient["id"], json!({"confirmed": true})).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(
        (
            &deleted["success"],
            &deleted["deletedDocuments"],
            &deleted["deletedChunks"]
        ),
        (&json!(true), &json!(1), &json!(1))
    );
    assert_eq!(api.get(&relaxed_path).await.0, 404);
    let strict_path = format!("/api/documents/{}", strict["id"].as_str().unwrap());
    assert_eq!(
        api.get(&strict_path).await.0,
        200,
        "another profile's document stays"
    );
}

on_each_backend!(concurrent_activations_leave_one_active_profile_and_no_errors);

async fn concurrent_activations_leave_one_active_profile_and_no_errors(backend: TestBackend) {
    let api = Api::start(&backend, &[]).await;
    let mut urls = Vec::new();
    for n in 0..8 {
        let id = create(&api, json!({"name": format!("Racer {n}")})).await["id"].clone();
        urls.push(
            api.server
                .url(&format!("/api/profiles/{}/activate", id.as_str().unwrap())),
        );
    }
    for round in 0..3 {
        let mut activations = tokio::task::JoinSet::new();
        for url in &urls {
            let request = api.client.put(url).header("x-api-key", KEY);
            activations.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        let statuses = activations.join_all().await;
        // Activations wait for each other: each one succeeds in turn, none deadlocks.
        assert!(
            statuses.iter().all(|s| *s == 200),
            "round {round}: {statuses:?}"
        );
        let (_, listed) = api.get("/api/profiles").await;
        let actives = listed["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["isActive"] == true);
        assert_eq!(actives.count(), 1, "round {round}: {listed}");
    }
}
