//! Single-entity requests: an entity by key, one of its properties, or a property's raw value
//! (`$value`).

use super::context::*;
use super::expand::*;
use super::target::EntityTarget;
use crate::negotiate::JsonFormat;
use crate::{ApiError, ApiResult};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use odata::edm::{EntityType, PrimitiveType};
use odata::json::{key_literal, EntityWriter, MetadataLevel};
use odata::{ErrorKind, ODataError};
use warehouse::store::Cell;
use warehouse::Tenant;

use warehouse::sql::{self};

/// What reading one entity found.
struct EntityRead {
    /// The JSON object, JSON value, or raw value.
    body: Vec<u8>,
    /// Whether the first selected column was null.
    is_null: bool,
    /// The entity's key in URL form, for the context URL.
    key: String,
}

/// One entity, one of its properties, or that property's raw value, as `target` names it, of
/// `tenant`'s publication (the entity's ETag: `publication`).
pub(super) async fn entity(
    ctx: RequestContext,
    target: EntityTarget,
    (tenant, publication): (Tenant, &str),
) -> ApiResult<Response> {
    let EntityTarget {
        read,
        key_text,
        property,
        format,
    } = target;
    let (name, entity) = (read.set.as_str(), read.entity);
    let prop_index = property.as_ref().map(|(i, _)| *i);
    let raw = format.is_none();
    check_at(&ctx, &read, &tenant).await?;
    let plan = sql::plan_read(
        &read,
        &reading(&tenant, None, 0, Some(1)),
        ctx.app.store.dialect(),
    )?
    .for_client(&ctx.client());
    let writer = entity_writer(
        &ctx,
        name,
        entity,
        &read.select,
        &read.expand,
        &plan.cursor,
        format.map_or((MetadataLevel::None, false), |f| (f.metadata, f.ieee754)),
    );
    let writer = match format {
        Some(f) if f.metadata != MetadataLevel::None && property.is_none() => {
            writer.with_etag(publication)
        }
        _ => writer,
    };
    let prop_ty = prop_index.map(|i| entity.properties[i].ty);
    let read = read_one(&ctx, entity, plan, writer, prop_ty, raw).await?;
    let Some(read) = read else {
        return Err(
            ODataError::not_found(format!("{name}({key_text}) does not exist."))
                .with_target("key")
                .into(),
        );
    };
    if prop_index.is_some() && read.is_null {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let Some(format) = format else {
        let mut r = (StatusCode::OK, read.body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain;charset=utf-8"),
        );
        return Ok(r);
    };
    let context = match &property {
        Some((_, p)) => format!("{}#{name}({})/{p}", ctx.metadata_url(), read.key),
        None => format!("{}#{name}/$entity", ctx.metadata_url()),
    };
    let body = json_body(&format, &context, property.is_some(), &read.body);
    Ok(json_response(&format, body))
}

/// Runs `plan` for at most one row on a blocking thread and writes it: the entity through
/// `writer`, or the property of type `prop_ty` as a JSON value (as its raw text when `raw`).
async fn read_one(
    ctx: &RequestContext,
    entity: &EntityType,
    plan: sql::Plan,
    writer: EntityWriter,
    prop_ty: Option<PrimitiveType>,
    raw: bool,
) -> Result<Option<EntityRead>, ApiError> {
    let store = ctx.app.store.clone();
    let key_types: Vec<_> = entity
        .key_indices()
        .iter()
        .map(|&i| (entity.properties[i].name.clone(), entity.properties[i].ty))
        .collect();
    tokio::task::spawn_blocking(
        move || -> Result<Option<EntityRead>, warehouse::StoreError> {
            let mut out = None;
            store.stream(&plan.rows, &mut |row| {
                let mut body = Vec::new();
                match (prop_ty, row.cell(0)) {
                    (Some(_), Cell::Text(s)) if raw => body.extend_from_slice(s.as_bytes()),
                    (Some(PrimitiveType::DateTimeOffset), Cell::Integer(v)) if raw => {
                        odata::json::write_timestamp(&mut body, v)
                    }
                    (Some(ty), cell) => odata::json::write_value(&mut body, ty, cell, false),
                    (None, _) => writer.write(&mut body, row),
                }
                out = Some(EntityRead {
                    body,
                    is_null: matches!(row.cell(0), Cell::Null),
                    key: key_text(&key_types, &plan.cursor.key_columns, row),
                });
                false
            })?;
            Ok(out)
        },
    )
    .await
    .map_err(|_| ApiError(ODataError::new(ErrorKind::Internal, "internal error")))?
    .map_err(ApiError::from)
}

/// The key of `row` in URL form (`4242`, or `a=1,b='x'` for a composite key).
pub(super) fn key_text(
    key_types: &[(String, PrimitiveType)],
    key_columns: &[usize],
    row: &dyn warehouse::store::Row,
) -> String {
    let mut key = String::new();
    for (i, ((name, ty), col)) in key_types.iter().zip(key_columns).enumerate() {
        if i > 0 {
            key.push(',');
        }
        if key_types.len() > 1 {
            key.push_str(name);
            key.push('=');
        }
        key_literal(&mut key, *ty, row.cell(*col));
    }
    key
}

/// The JSON response body: the context URL (unless the metadata level is none), then the
/// entity's members, or the property's `value`.
fn json_body(format: &JsonFormat, context: &str, is_property: bool, value: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(value.len() + 128);
    body.push(b'{');
    if format.metadata != MetadataLevel::None {
        body.extend_from_slice(b"\"@odata.context\":");
        odata::json::write_string(&mut body, context);
    }
    if is_property {
        if body.len() > 1 {
            body.push(b',');
        }
        body.extend_from_slice(b"\"value\":");
        body.extend_from_slice(value);
        body.push(b'}');
    } else {
        if body.len() > 1 && value.len() > 2 {
            body.push(b',');
        }
        body.extend_from_slice(&value[1..]);
    }
    body
}
