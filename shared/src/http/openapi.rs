//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers and wire types, served
//! at `/openapi.json` with its reference page at `/docs`. What every `/api` route shares (the key,
//! the rate limit and its headers) and every answer's request id are added here, in one place,
//! as the router adds them in one layer stack.

use axum::Json;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Components, Content, Object, Ref, RefOr, ResponseBuilder, SecurityRequirement, Type,
        extensions::Extensions,
        header::{Header, HeaderBuilder},
        security::{ApiKey, ApiKeyValue, SecurityScheme},
    },
};

use super::{analytics, bulk, documents, events, probes, profiles, query, types::EventBody};

#[derive(OpenApi)]
#[openapi(
    info(title = "RAGBase", description = "Documents in, cited passages out: upload, process, search."),
    paths(
        probes::health, probes::ready, probes::live, probes::metrics, document,
        documents::list, documents::upload, documents::get, documents::delete,
        documents::content, documents::retry, documents::set_availability,
        bulk::set_availability, bulk::delete, bulk::retry, events::stream, query::query,
        analytics::chunks, analytics::chunk, analytics::overview, analytics::processing,
        analytics::quality, analytics::documents, analytics::document_chunks,
        profiles::list, profiles::active, profiles::create, profiles::duplicate,
        profiles::activate, profiles::archive, profiles::unarchive, profiles::delete,
    ),
    components(schemas(EventBody)),
    modifiers(&SharedParts),
    tags(
        (name = "documents", description = "Upload, read, change and watch documents"),
        (name = "search", description = "Semantic and hybrid search"),
        (name = "analytics", description = "Chunks by quality, and how processing went"),
        (name = "profiles", description = "The settings uploads are processed with"),
        (name = "probes", description = "Health, readiness and metrics"),
    ),
)]
struct ApiDoc;

/// The document, built once per call (it is small, and asked for rarely).
pub fn openapi() -> openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "probes",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn document() -> Json<openapi::OpenApi> {
    Json(openapi())
}

/// The API key scheme, the gate's answers and headers on every `/api` operation, and the
/// request id on every answer.
struct SharedParts;

impl Modify for SharedParts {
    fn modify(&self, api: &mut openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Components::new);
        let key = ApiKeyValue::with_description(
            "X-API-Key",
            "One of the keys in `API_KEY` (none when it is unset)",
        );
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(key)));
        for (name, header) in shared_headers() {
            components.headers.insert(name.into(), RefOr::T(header));
        }
        for (path, item) in api.paths.paths.iter_mut() {
            let gated = path.starts_with("/api/");
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                if gated {
                    operation.security = Some(vec![SecurityRequirement::new(
                        "api_key",
                        Vec::<String>::new(),
                    )]);
                    add_gate_answers(&mut operation.responses.responses);
                }
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        let names = [
                            "x-request-id",
                            "x-ratelimit-limit",
                            "x-ratelimit-remaining",
                            "x-ratelimit-reset",
                        ];
                        for name in names.into_iter().take(if gated { 4 } else { 1 }) {
                            response.headers.insert(name.into(), header_ref(name));
                        }
                    }
                }
            }
        }
    }
}

type Answers = std::collections::BTreeMap<String, RefOr<openapi::Response>>;

/// 401 and 429 (with `Retry-After`), which the gate in front of `/api` may answer to anything.
fn add_gate_answers(answers: &mut Answers) {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build()
    };
    answers.insert(
        "401".into(),
        RefOr::T(error("`UNAUTHORIZED`: `X-API-Key` is missing or wrong")),
    );
    let mut limited = error("`RATE_LIMITED`: over `RATE_LIMIT_MAX` in this window");
    limited
        .headers
        .insert("retry-after".into(), header_ref("retry-after"));
    answers.insert("429".into(), RefOr::T(limited));
}

fn header_ref(name: &str) -> RefOr<Header> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{name}")))
}

fn shared_headers() -> [(&'static str, Header); 5] {
    let described = |kind: Type, description: &str| {
        HeaderBuilder::new()
            .schema(Some(Object::with_type(kind)))
            .description(Some(description))
            .build()
    };
    let mut request_id = described(
        Type::String,
        "The client's own `x-request-id`, or a new UUID",
    );
    // utoipa's header has no `required`; as an extension it is written out all the same.
    request_id.extensions = Some(Extensions::from_iter([("required", true)]));
    [
        ("x-request-id", request_id),
        (
            "x-ratelimit-limit",
            described(Type::Integer, "Requests allowed per window"),
        ),
        (
            "x-ratelimit-remaining",
            described(Type::Integer, "Requests left in this window"),
        ),
        (
            "x-ratelimit-reset",
            described(Type::Integer, "Seconds until the window resets"),
        ),
        (
            "retry-after",
            described(Type::Integer, "Seconds to wait before trying again"),
        ),
    ]
}
