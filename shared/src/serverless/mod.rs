//! The AWS Lambda runtime. The HTTP functions serve their share of the routes to API Gateway
//! (REST v1 and HTTP API v2 events) through `lambda_http`; the worker handles SQS batches through
//! `lambda_runtime`, and the reconciler its scheduled events. Ports are built once per execution environment, at init, and every
//! invocation reuses them.

mod emf;
mod reconciler;
mod secrets;
mod worker;

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Request},
    middleware::{Next, from_fn},
    response::Response,
};
use lambda_http::request::RequestContext;

use crate::{
    http::{self, Routes},
    telemetry,
    wiring::{Backends, load_embedder},
};
/// What a function's `main` returns when init or the runtime fails (Lambda logs it).
pub use lambda_http::Error;
pub use reconciler::run_reconciler;
pub use worker::run_worker;

/// Serves `routes` until the execution environment ends. `model`: load the embedding model at
/// init (only search needs it).
pub async fn serve(routes: Routes, model: bool) -> Result<(), Error> {
    let config = secrets::config_from_env().await?;
    telemetry::init_logging(&config);
    let backends = Backends::connect(&config).await?;
    let embedder = if model {
        Some(load_embedder(&config)?)
    } else {
        None
    };
    let router = http::router_for(routes, backends.app_state(config, embedder))
        .layer(from_fn(emf::record))
        .layer(from_fn(source_ip));
    lambda_http::run(router).await
}

/// The client's address, as API Gateway saw it, becomes the connection's peer, so rate limits
/// are per client (with `TRUST_PROXY` unset, `X-Forwarded-For` is not believed).
async fn source_ip(mut request: Request, next: Next) -> Response {
    let ip = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
        _ => None,
    };
    if let Some(ip) = ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    next.run(request).await
}
