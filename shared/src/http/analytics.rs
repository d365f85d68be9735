//! The chunk explorer and the analytics routes: what the original service's dashboard reads.

use axum::{
    Json,
    extract::{Path, State},
};
use chrono::Utc;

use super::{
    AppState,
    errors::ApiError,
    extract::ApiQuery,
    types::{
        ChunkDetailBody, ChunkListBody, ChunkListParams, DocumentChunksBody, ErrorBody,
        MetricsParams, OverviewBody, PageParams, PeriodBody, PeriodParams, ProcessedPageBody,
        ProcessingBody, ProcessingParams, QualityBody,
    },
};
use crate::{
    Error,
    domain::{
        analytics::{ChunkQuery, MetricsQuery, Period, parse_paging},
        documents::parse_document_id,
        formats::Format,
    },
};

/// List chunks with their quality, by filters.
#[utoipa::path(get, path = "/api/chunks", operation_id = "listChunks", tag = "analytics",
    params(ChunkListParams),
    responses(
        (status = 200, description = "A page of chunks", body = ChunkListBody),
        (status = 400, description = "`VALIDATION_ERROR`: a parameter out of range", body = ErrorBody),
    ))]
pub async fn chunks(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ChunkListParams>,
) -> Result<Json<ChunkListBody>, ApiError> {
    let query = ChunkQuery::parse(params.into())?;
    let page = state.catalog.list_chunks(&query).await?;
    Ok(Json(ChunkListBody::new(page, (query.page, query.limit))))
}

/// Read one chunk: its text, quality and document.
#[utoipa::path(get, path = "/api/chunks/{id}", operation_id = "getChunk", tag = "analytics",
    params(("id" = Uuid, Path, description = "The chunk's id")),
    responses(
        (status = 200, description = "The chunk", body = ChunkDetailBody),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn chunk(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ChunkDetailBody>, ApiError> {
    let not_found = || Error::NotFound("Chunk not found".into());
    // Any other text names no chunk, as in the original service.
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let chunk = state.catalog.chunk(id).await?.ok_or_else(not_found)?;
    Ok(Json(chunk.into()))
}

/// Documents uploaded in a period, and how their processing went.
#[utoipa::path(get, path = "/api/analytics/overview", operation_id = "analyticsOverview", tag = "analytics",
    params(PeriodParams),
    responses(
        (status = 200, description = "The period's summary", body = OverviewBody),
        (status = 400, description = "`VALIDATION_ERROR`: an unknown period", body = ErrorBody),
    ))]
pub async fn overview(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PeriodParams>,
) -> Result<Json<OverviewBody>, ApiError> {
    let (period, now) = (Period::parse(params.period.as_deref())?, Utc::now());
    let overview = state.analytics.overview(period.start(now)).await?;
    Ok(Json(OverviewBody::new(
        PeriodBody::new(period, now),
        overview,
    )))
}

/// Time spent in each phase of processing, and its trend, for one format or all.
#[utoipa::path(get, path = "/api/analytics/processing", operation_id = "analyticsProcessing", tag = "analytics",
    params(ProcessingParams),
    responses(
        (status = 200, description = "The period's processing times", body = ProcessingBody),
        (status = 400, description = "`VALIDATION_ERROR`: an unknown period or format", body = ErrorBody),
    ))]
pub async fn processing(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ProcessingParams>,
) -> Result<Json<ProcessingBody>, ApiError> {
    let (period, now) = (Period::parse(params.period.as_deref())?, Utc::now());
    let format = params
        .format
        .map(|f| {
            Format::parse(&f).ok_or_else(|| {
                Error::Validation("format must be one of the ten format names".into())
            })
        })
        .transpose()?;
    let since = period.start(now);
    let totals = state.analytics.metric_totals(since, format).await?;
    let trends = state
        .analytics
        .trends(since, format, period.hourly())
        .await?;
    let name = format.map_or("all", Format::as_str);
    let body = ProcessingBody::new(PeriodBody::new(period, now), name, totals, trends);
    Ok(Json(body))
}

/// The quality of the chunks of the documents processed in a period.
#[utoipa::path(get, path = "/api/analytics/quality", operation_id = "analyticsQuality", tag = "analytics",
    params(PeriodParams),
    responses(
        (status = 200, description = "The period's chunk quality", body = QualityBody),
        (status = 400, description = "`VALIDATION_ERROR`: an unknown period", body = ErrorBody),
    ))]
pub async fn quality(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PeriodParams>,
) -> Result<Json<QualityBody>, ApiError> {
    let (period, now) = (Period::parse(params.period.as_deref())?, Utc::now());
    let summary = state.analytics.quality(period.start(now)).await?;
    Ok(Json(QualityBody::new(
        PeriodBody::new(period, now),
        summary,
    )))
}

/// Documents processed in a period, each with its figures.
#[utoipa::path(get, path = "/api/analytics/documents", operation_id = "analyticsDocuments", tag = "analytics",
    params(MetricsParams),
    responses(
        (status = 200, description = "A page of processed documents", body = ProcessedPageBody),
        (status = 400, description = "`VALIDATION_ERROR`: a parameter out of range", body = ErrorBody),
    ))]
pub async fn documents(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<MetricsParams>,
) -> Result<Json<ProcessedPageBody>, ApiError> {
    let period = Period::parse(params.period.as_deref())?;
    let paging = parse_paging(params.page.as_deref(), params.limit.as_deref())?;
    let query = MetricsQuery::parse(
        period.start(Utc::now()),
        paging,
        params.sort_by.as_deref(),
        params.sort_order.as_deref(),
    )?;
    let page = state.analytics.processed_documents(&query).await?;
    Ok(Json(ProcessedPageBody::new(period, page, paging)))
}

/// One document's chunks in order, with their quality.
#[utoipa::path(get, path = "/api/analytics/documents/{id}/chunks", operation_id = "analyticsDocumentChunks", tag = "analytics",
    params(("id" = Uuid, Path, description = "The document's id"), PageParams),
    responses(
        (status = 200, description = "A page of the document's chunks", body = DocumentChunksBody),
        (status = 400, description = "`INVALID_ID` or `VALIDATION_ERROR`", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn document_chunks(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<DocumentChunksBody>, ApiError> {
    let id = parse_document_id(&id)?;
    let paging = parse_paging(params.page.as_deref(), params.limit.as_deref())?;
    let document = state.documents.document(id).await?;
    let document = document.ok_or_else(|| Error::NotFound("Document not found".into()))?;
    let query = ChunkQuery::of_document(id, paging.0, paging.1);
    let page = state.catalog.list_chunks(&query).await?;
    Ok(Json(DocumentChunksBody::new(document, page, paging)))
}
