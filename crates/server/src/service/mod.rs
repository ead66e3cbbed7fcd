//! The OData request handler: service document, `$metadata`, collections, entities, properties
//! and counts.

mod collection;
mod context;
mod delta;
mod entity;
mod etag;
mod expand;
mod extract;
mod target;

use crate::negotiate::{self, MetadataFormat};
use crate::{ApiError, ApiResult};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use context::*;
use extract::ServiceRequest;
use odata::json::{key_literal, MetadataLevel};
use odata::read::ReadQuery;
use odata::{ErrorKind, ODataError};
use target::{Document, Target};
use warehouse::store::Cell;

use warehouse::sql::{self};
use warehouse::{Tenant, Warehouse};

/// Answers methods other than GET and HEAD.
pub async fn method_not_allowed() -> ApiError {
    ApiError(ODataError::new(
        ErrorKind::MethodNotAllowed,
        "This service is read-only: use GET or HEAD.",
    ))
}

/// The single entry point for GET/HEAD under the service root: the request as
/// [`ServiceRequest`] parsed and resolved it, answered by the handler of its target.
pub async fn handle(ServiceRequest { ctx, target }: ServiceRequest) -> Response {
    match dispatch(ctx, target).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn dispatch(ctx: RequestContext, target: Target) -> ApiResult<Response> {
    let (body, content_type) = match target {
        Target::Document(Document::Service) => service_document(&ctx)?,
        Target::Document(Document::Metadata) => metadata(&ctx)?,
        Target::Document(Document::OpenApi) => openapi(&ctx),
        data => return data_response(ctx, data).await,
    };
    let tag = etag::of_document(&body);
    if etag::none_match(&ctx.headers, &tag) {
        return Ok(etag::not_modified(&tag));
    }
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, content_type);
    etag::set(&mut r, &tag);
    Ok(r)
}

/// The answer to a target that reads the caller's tenant: `304 Not Modified` when the client
/// holds the response's ETag (nothing read but the tenant), else the handler's answer with it.
async fn data_response(ctx: RequestContext, target: Target) -> ApiResult<Response> {
    let tenant = load_tenant(&ctx).await?;
    let one_entity = matches!(target, Target::Entity(_) | Target::Related { .. });
    let tag = etag::of_data(&ctx, &tenant, one_entity);
    if let Some(tag) = tag.as_deref().filter(|t| etag::none_match(&ctx.headers, t)) {
        return Ok(etag::not_modified(tag));
    }
    let publication = etag::publication(&tenant);
    let publication = (tenant, publication.as_str());
    let mut response = match target {
        Target::Page {
            read,
            format,
            references,
        } => collection::page(ctx, read, format, references, publication).await?,
        Target::Count(read) => count(ctx, read, publication.0).await?,
        Target::Entity(target) => entity::entity(ctx, target, publication).await?,
        Target::Related {
            read,
            key_text,
            target,
        } => related(ctx, read, &key_text, target, publication).await?,
        Target::Document(_) => {
            return Err(ODataError::new(ErrorKind::Internal, "internal error").into())
        }
    };
    if let Some(tag) = &tag {
        etag::set(&mut response, tag);
    }
    Ok(response)
}

/// `/{set}({key})/{navigation}` of a single-valued navigation property: the reference `read`
/// reads, then the entity of `target` it names, read as `/{target}({reference})` is (so its
/// `$select` and `$expand` apply); 204 when the reference is null.
async fn related(
    ctx: RequestContext,
    read: ReadQuery<'static>,
    key_text: &str,
    target: &'static str,
    (tenant, publication): (Tenant, &str),
) -> ApiResult<Response> {
    let plan = sql::plan_read(
        &read,
        &reading(&tenant, None, 0, Some(1)),
        ctx.app.store.dialect(),
    )?
    .for_client(&ctx.client());
    let ty = read.entity.properties[read.select[0]].ty;
    let store = ctx.app.store.clone();
    let found = tokio::task::spawn_blocking(
        move || -> Result<Option<Option<String>>, warehouse::StoreError> {
            let mut out = None;
            store.stream(&plan.rows, &mut |row| {
                out = Some(match row.cell(0) {
                    Cell::Null => None,
                    cell => {
                        let mut literal = String::new();
                        key_literal(&mut literal, ty, cell);
                        Some(literal)
                    }
                });
                false
            })?;
            Ok(out)
        },
    )
    .await
    .map_err(|_| ApiError(ODataError::new(ErrorKind::Internal, "internal error")))??;
    match found {
        None => Err(
            ODataError::not_found(format!("{}({key_text}) does not exist.", read.set))
                .with_target("key")
                .into(),
        ),
        Some(None) => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(Some(target_key)) => {
            let entity = target::entity(&ctx, target, &target_key, None, false)?;
            entity::entity(ctx, entity, (tenant, publication)).await
        }
    }
}

/// The service document's body and content type.
fn service_document(ctx: &RequestContext) -> ApiResult<(Vec<u8>, HeaderValue)> {
    let format = negotiate::json_format(
        ctx.options.get("$format"),
        header_str(&ctx.headers, "accept"),
    )?;
    let mut buf = Vec::new();
    buf.push(b'{');
    if format.metadata != MetadataLevel::None {
        buf.extend_from_slice(b"\"@odata.context\":");
        odata::json::write_string(&mut buf, &ctx.metadata_url());
        buf.push(b',');
    }
    buf.extend_from_slice(b"\"value\":[");
    for (i, set) in ctx.model().entity_sets.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"name\":");
        odata::json::write_string(&mut buf, &set.name);
        buf.extend_from_slice(b",\"kind\":\"EntitySet\",\"url\":");
        odata::json::write_string(&mut buf, &set.name);
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}");
    Ok((
        buf,
        HeaderValue::from_str(&format.content_type()).expect("ascii"),
    ))
}

/// `$metadata`'s body (CSDL XML or JSON) and content type.
fn metadata(ctx: &RequestContext) -> ApiResult<(Vec<u8>, HeaderValue)> {
    let model = ctx.model();
    let (body, ct) = match negotiate::metadata_format(
        ctx.options.get("$format"),
        header_str(&ctx.headers, "accept"),
    )? {
        MetadataFormat::Xml => (odata::csdl::to_xml(model), "application/xml;charset=utf-8"),
        MetadataFormat::Json => (
            odata::csdl::to_json(model).to_string(),
            "application/json;charset=utf-8",
        ),
    };
    Ok((body.into_bytes(), HeaderValue::from_static(ct)))
}

/// `openapi.json`: the OpenAPI 3.1 description of the requested version, generated from the
/// same model as `$metadata`, naming the built-in token service's endpoints; its body and
/// content type.
fn openapi(ctx: &RequestContext) -> (Vec<u8>, HeaderValue) {
    let dated = |name: &str| {
        Warehouse::get()
            .collection(name)
            .is_some_and(|c| c.has_date_key())
    };
    let token_url = format!("{}/oauth2/token", ctx.base_url);
    let authorization_url = format!("{}/oauth2/authorize", ctx.base_url);
    let doc = odata::openapi::to_openapi(
        ctx.model(),
        &odata::openapi::Service {
            title: "Device Warehouse",
            version: ctx.version.as_str(),
            root: &ctx.service_root,
            token_url: &token_url,
            authorization_url: &authorization_url,
            dated: &dated,
        },
    );
    (
        doc.to_string().into_bytes(),
        HeaderValue::from_static("application/json;charset=utf-8"),
    )
}

/// `$count` of what `read` reads of `tenant`.
async fn count(
    ctx: RequestContext,
    read: ReadQuery<'static>,
    tenant: Tenant,
) -> ApiResult<Response> {
    check_at(&ctx, &read, &tenant).await?;
    let plan = sql::plan_read(
        &read,
        &reading(&tenant, None, 0, None),
        ctx.app.store.dialect(),
    )?
    .for_client(&ctx.client());
    let store = ctx.app.store.clone();
    let n = tokio::task::spawn_blocking(move || store.count(&plan.count))
        .await
        .map_err(|_| ApiError(ODataError::new(ErrorKind::Internal, "internal error")))??;
    let mut r = (StatusCode::OK, n.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    Ok(r)
}
