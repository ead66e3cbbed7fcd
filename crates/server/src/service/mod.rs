//! The OData request handler: service document, `$metadata`, collections, entities, properties
//! and counts.

mod collection;
mod context;
mod entity;
mod expand;
mod extract;

use crate::negotiate::{self, MetadataFormat};
use crate::request::Resource;
use crate::{ApiError, ApiResult};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use context::*;
use expand::navigation_target;
use extract::ServiceRequest;
use odata::bind::bind_key;
use odata::edm::Lookup;
use odata::json::{key_literal, MetadataLevel};
use odata::read::{PropertyValues, ReadQuery};
use odata::syntax::{self};
use odata::{ErrorKind, ODataError};
use warehouse::store::Cell;

use warehouse::sql::{self};
use warehouse::Warehouse;

/// Answers methods other than GET and HEAD.
pub async fn method_not_allowed() -> ApiError {
    ApiError(ODataError::new(
        ErrorKind::MethodNotAllowed,
        "This service is read-only: use GET or HEAD.",
    ))
}

/// The single entry point for GET/HEAD under the service root: the request as
/// [`ServiceRequest`] parsed it, answered by the handler of the resource it names.
pub async fn handle(ServiceRequest { ctx, resource }: ServiceRequest) -> Response {
    match dispatch(ctx, resource).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn dispatch(ctx: RequestContext, resource: Resource) -> ApiResult<Response> {
    match resource {
        Resource::ServiceDocument => service_document(&ctx),
        Resource::Metadata => metadata(&ctx),
        Resource::OpenApi => openapi(&ctx),
        Resource::Collection(name) => {
            let name = canonical_set(&ctx, &name)?;
            collection::collection(ctx, &name).await
        }
        Resource::Count(name) => {
            let name = canonical_set(&ctx, &name)?;
            count(ctx, &name).await
        }
        Resource::Deeper { set, key, segments } => {
            let set = canonical_set(&ctx, &set)?;
            let collection_valued = |nav: &str| {
                ctx.model().entity_set(&set).and_then(|s| {
                    let ty = ctx.model().type_of(s);
                    match ty.find_navigation(nav) {
                        Lookup::Found(n) if ty.navigation[n].collection => Some(n),
                        _ => None,
                    }
                })
            };
            match &segments[..] {
                [nav, count] if count == "$count" => {
                    if let Some(n) = collection_valued(nav) {
                        let (target, parent) = collection::parent_scope(&ctx, &set, &key, n)?;
                        return count_of(ctx, target, parent).await;
                    }
                }
                [nav, reference] if reference == "$ref" => {
                    if let Some(n) = collection_valued(nav) {
                        return collection::related_collection(ctx, &set, &key, n, true).await;
                    }
                }
                _ => {}
            }
            let through_navigation = ctx.model().entity_set(&set).is_some_and(|s| {
                let ty = ctx.model().type_of(s);
                matches!(ty.find_navigation(&segments[0]), Lookup::Found(_))
            });
            Err(if through_navigation {
                ODataError::not_implemented(format!(
                    "Paths that go on after the navigation property '{}' are not supported yet; \
                     read /{}(key)/{} and then follow its own URL.",
                    segments[0], set, segments[0]
                ))
                .with_target("path")
            } else {
                ODataError::not_found(format!("No resource at '{}'.", ctx.path)).with_target("path")
            }
            .into())
        }
        Resource::Entity {
            set,
            key,
            property,
            raw,
        } => {
            let set = canonical_set(&ctx, &set)?;
            let navigation = match (&property, raw) {
                (Some(p), false) => ctx.model().entity_set(&set).and_then(|s| {
                    match ctx.model().type_of(s).find_navigation(p) {
                        Lookup::Found(n) => Some(n),
                        _ => None,
                    }
                }),
                _ => None,
            };
            let collection_valued = |n: usize| {
                ctx.model()
                    .entity_set(&set)
                    .is_some_and(|s| ctx.model().type_of(s).navigation[n].collection)
            };
            match navigation {
                Some(n) if collection_valued(n) => {
                    collection::related_collection(ctx, &set, &key, n, false).await
                }
                Some(n) => related(ctx, &set, &key, n).await,
                None => entity::entity(ctx, &set, &key, property.as_deref(), raw).await,
            }
        }
    }
}

/// `/{set}({key})/{navigation}`: the related entity, read as `/{target}({reference})` is (so its
/// `$select` and `$expand` apply); 204 when the reference is null.
async fn related(
    ctx: RequestContext,
    name: &str,
    key_text: &str,
    navigation: usize,
) -> ApiResult<Response> {
    let (source, _) = resolve(&ctx, name)?;
    let reference = source
        .property_index(&source.navigation[navigation].property)
        .expect("navigation properties name a property");
    let key_values = syntax::parse_key(key_text).map_err(|e| e.into_odata("key"))?;
    let key = bind_key(&key_values, source).map_err(|e| e.with_target("key"))?;
    let tenant = load_tenant(&ctx).await?;
    let read = ReadQuery {
        select: vec![reference],
        ..ReadQuery::all(name, source, ctx.model()).within(key)
    };
    let plan = sql::plan_read(
        &read,
        &reading(&tenant, None, 0, Some(1)),
        ctx.app.store.dialect(),
    )?
    .for_client(&ctx.client());
    let ty = source.properties[reference].ty;
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
            ODataError::not_found(format!("{name}({key_text}) does not exist."))
                .with_target("key")
                .into(),
        ),
        Some(None) => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(Some(target_key)) => {
            let target = navigation_target(&ctx, source, navigation);
            entity::entity(ctx, target, &target_key, None, false).await
        }
    }
}

fn service_document(ctx: &RequestContext) -> ApiResult<Response> {
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
    Ok(json_response(&format, buf))
}

fn metadata(ctx: &RequestContext) -> ApiResult<Response> {
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
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(r)
}

/// `openapi.json`: the OpenAPI 3.1 description of the requested version, generated from the
/// same model as `$metadata`, naming the built-in token service's endpoints.
fn openapi(ctx: &RequestContext) -> ApiResult<Response> {
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
    let mut r = (StatusCode::OK, doc.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    Ok(r)
}

/// The model's spelling of a collection name a client wrote (exact, else the one that differs
/// only in case); a name matching none is returned as written, for the 404 that follows.
fn canonical_set(ctx: &RequestContext, name: &str) -> Result<String, ODataError> {
    let model = ctx.model();
    match model.find_entity_set(name) {
        Lookup::Found(i) => Ok(model.entity_sets[i].name.clone()),
        Lookup::Missing => Ok(name.to_string()),
        Lookup::Ambiguous(candidates) => Err(ODataError::bad_request(format!(
            "'{name}' matches the collections {} when case is ignored; write one exactly.",
            candidates.join(", ")
        ))
        .with_target("path")),
    }
}

async fn count(ctx: RequestContext, name: &str) -> ApiResult<Response> {
    count_of(ctx, name, Vec::new()).await
}

/// `$count` of a collection, of the entities whose properties hold the `parent` values only.
async fn count_of(ctx: RequestContext, name: &str, parent: PropertyValues) -> ApiResult<Response> {
    let (entity, _) = resolve(&ctx, name)?;
    let read = read_query(&ctx, name, entity)?.within(parent);
    let tenant = load_tenant(&ctx).await?;
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
