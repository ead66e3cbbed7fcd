//! Change tracking (OData delta links): `Prefer: odata.track-changes` on a collection request
//! ends its last page with an `@odata.deltaLink`; a GET of that link answers what changed since,
//! by publication: first the entities the later publications deleted (`@removed`, reason
//! `deleted`), then those they wrote, each as it now is when it meets the request's `$filter`,
//! else as removed (reason `changed`: it left the result). Pages follow `@odata.nextLink`; the
//! last ends with a new delta link. A link older than the changes the warehouse keeps
//! ([`warehouse::sql::changes::KEPT_PUBLICATIONS`]) answers 410 Gone with the request to start
//! over in `Location`.
//!
//! Tracked: entities of a collection, all of them (no `$top`, `$skip`, `$apply`, temporal
//! options or `maxhistorydays`, whose results change without a publication writing their rows),
//! with one level of `$expand` (without nested temporal options): an entity whose expanded
//! entities a publication wrote is told as it now is, with them; when a publication deleted
//! expanded entities (retention, a day ingested again), every entity is. Elsewhere the
//! preference is not applied.

use super::context::*;
use super::entity::key_text;
use super::expand::entity_writer;
use crate::negotiate::JsonFormat;
use crate::paging::{fingerprint, PageToken};
use crate::{ApiError, ApiResult};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use odata::bind::Computed;
use odata::edm::PrimitiveType;
use odata::json::MetadataLevel;
use odata::read::ReadQuery;
use odata::{ErrorKind, ODataError};
use warehouse::sql::changes::{days_written_since, removed_since};
use warehouse::sql::{self, Changed, KeysetPosition, Reading, SqlValue};
use warehouse::store::Store;
use warehouse::store::{Cell, Row};
use warehouse::Tenant;

/// The preference, as `Preference-Applied` names it.
pub(super) const PREFERENCE: &str = "odata.track-changes";

/// The computed property a delta's statement reads to tell whether a changed row meets the
/// request's `$filter`.
const MEETS_FILTER: &str = "__meets_filter";

/// Whether the request prefers its changes tracked (`Prefer: odata.track-changes`).
pub(super) fn asked(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| {
            p.split(';')
                .next()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case(PREFERENCE))
        })
}

/// Whether the changes of `read` can be told by publication: entities, all of them, as they are
/// now, with at most one level of expansions, read as they are now.
pub(super) fn trackable(read: &ReadQuery<'_>, references: bool) -> bool {
    !references
        && read.apply.is_none()
        && read
            .expand
            .iter()
            .all(|e| e.expand.is_empty() && e.temporal.is_none())
        && read.paging.top.is_none()
        && read.paging.skip.is_none()
        && read.temporal.is_none()
        && read.history_days.is_none()
}

/// What a delta token is bound to: the query (`fp`, which holds its tenant) and the client.
fn delta_fingerprint(ctx: &RequestContext, fp: &str) -> String {
    fingerprint(&["delta", fp, &ctx.client()])
}

/// The delta link of the request, for a client current at `generation`.
pub(super) fn link(ctx: &RequestContext, fp: &str, generation: i64) -> String {
    let token = ctx.app.signer.encode(&PageToken {
        after: Vec::new(),
        remaining: None,
        generation,
        fingerprint: delta_fingerprint(ctx, fp),
        tracked: true,
    });
    format!("{}&$deltatoken={token}", request_without_tokens(ctx))
}

/// The request's URL without `$skiptoken` and `$deltatoken`: where a client starts over.
fn request_without_tokens(ctx: &RequestContext) -> String {
    let rest: Vec<String> = continuation_query(&ctx.raw_query)
        .split('&')
        .filter(|part| {
            let name = part.split('=').next().unwrap_or("");
            let name = percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            !part.is_empty() && name.trim_start_matches('$') != "deltatoken"
        })
        .map(str::to_string)
        .collect();
    format!("{}{}?{}", ctx.base_url, ctx.path, rest.join("&"))
}

/// Where a page of a delta continues: the deletions from a recorded row (its id, and how many of
/// its entities were told), or the written rows after a key (read in key order or by the index
/// of publications, [`Changed::by_key`]; a token holds `1` or `2` before the key).
enum Position {
    Removed(Option<(i64, u64)>),
    Written { by_key: bool, after: Vec<SqlValue> },
}

/// The first value of a token's position among the written rows: how they are read.
fn written_marker(by_key: bool) -> SqlValue {
    SqlValue::Integer(if by_key { 2 } else { 1 })
}

/// The generation the client's copy is current at, from the request's `$deltatoken`; a token
/// of other changes than the warehouse keeps is 410 Gone.
fn since(ctx: &RequestContext, fp: &str, tenant: &Tenant) -> Result<i64, Box<Response>> {
    let text = ctx.options.get("$deltatoken").unwrap_or_default();
    let invalid = || {
        ApiError(
            ODataError::bad_request(
                "The $deltatoken is not valid: use the @odata.deltaLink exactly as the service returned it.",
            )
            .with_target("$deltatoken"),
        )
        .into_response()
        .into()
    };
    let token = ctx.app.signer.decode(text).map_err(|_| invalid())?;
    if token.fingerprint != delta_fingerprint(ctx, fp) || !token.after.is_empty() {
        return Err(invalid());
    }
    let kept_from = tenant.changes_since.unwrap_or(tenant.generation);
    if token.generation < kept_from || token.generation > tenant.generation {
        let mut r = ApiError(
            ODataError::new(
                ErrorKind::Gone,
                "The changes since this delta link are no longer kept: read the collection again \
                 (Location) with Prefer: odata.track-changes for a new delta link.",
            )
            .with_target("$deltatoken"),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&request_without_tokens(ctx)) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Err(Box::new(r));
    }
    Ok(token.generation)
}

/// One page of the changes of `read` since the generation the request's `$deltatoken` names,
/// in `format`, of `tenant`'s publication.
pub(super) async fn page(
    ctx: RequestContext,
    read: ReadQuery<'static>,
    format: JsonFormat,
    (tenant, publication): (Tenant, &str),
    fp: &str,
) -> ApiResult<Response> {
    if !trackable(&read, false) {
        return Err(ODataError::bad_request(
            "Changes are told of entities only, without $top, $skip, $apply, nested $expand, \
             temporal options or maxhistorydays.",
        )
        .with_target("$deltatoken")
        .into());
    }
    let since = match since(&ctx, fp, &tenant) {
        Ok(since) => since,
        Err(response) => return Ok(*response),
    };
    let page_fp = fingerprint(&["delta-page", fp, &since.to_string()]);
    let position = position(&ctx, &page_fp, &tenant)?;
    let rows = PageSize::of(&ctx).rows;
    let store = ctx.app.store.clone();
    let client = ctx.client();
    let set_url = format!("{}/{}", ctx.service_root, read.set);
    let key: Vec<(String, PrimitiveType)> = read
        .entity
        .key_indices()
        .iter()
        .map(|&i| {
            let p = &read.entity.properties[i];
            (p.name.clone(), p.ty)
        })
        .collect();
    let mut out = Vec::new();
    let mut written = 0u64;
    let mut next: Option<Vec<SqlValue>> = None;
    // deletions first: a row deleted and written again is told written after
    if let Position::Removed(mut at) = position {
        const BATCH: u64 = 16;
        'deletions: loop {
            let query = removed_since(
                store.dialect(),
                (tenant.id, &read.set),
                since,
                at.map(|(id, _)| id - 1),
                BATCH,
            );
            let found = run(store.clone(), query, &client, |row| {
                let id = match row.cell(0) {
                    Cell::Integer(id) => id,
                    _ => 0,
                };
                let entities = match row.cell(1) {
                    Cell::Text(t) => t.to_string(),
                    _ => String::new(),
                };
                (id, entities)
            })
            .await?;
            let exhausted = (found.len() as u64) < BATCH;
            for (id, entities) in found {
                let skip = match at {
                    Some((at_id, offset)) if at_id == id => offset,
                    _ => 0,
                };
                let keys = keys_of_json(&entities, &key);
                for (n, entity) in keys.iter().enumerate().skip(skip as usize) {
                    if written == rows {
                        next = Some(vec![
                            SqlValue::Integer(0),
                            SqlValue::Integer(id),
                            SqlValue::Integer(n as i64),
                        ]);
                        break 'deletions;
                    }
                    removed(&mut out, &mut written, &set_url, entity, "deleted");
                }
                at = Some((id + 1, 0));
            }
            if exhausted {
                break;
            }
        }
        if next.is_none() && written == rows {
            // a full page of deletions: the written rows start the next page
            next = Some(vec![SqlValue::Integer(1)]);
        }
    }
    if next.is_none() {
        let (after, by_key) = match &position {
            Position::Written { by_key, after } if !after.is_empty() => {
                (Some(KeysetPosition(after.clone())), Some(*by_key))
            }
            _ => (None, None),
        };
        next = written_rows(
            &ctx,
            (&read, format, publication),
            (&tenant, since),
            (after, by_key, key.clone()),
            rows - written,
            &mut (&mut out, &mut written),
        )
        .await?;
    }
    let mut body = Vec::with_capacity(out.len() + 256);
    body.push(b'{');
    if format.metadata != MetadataLevel::None {
        body.extend_from_slice(b"\"@odata.context\":");
        odata::json::write_string(
            &mut body,
            &format!("{}#{}/$delta", ctx.metadata_url(), read.set),
        );
        body.push(b',');
    }
    body.extend_from_slice(b"\"value\":[");
    body.extend_from_slice(&out);
    body.push(b']');
    match next {
        Some(after) => {
            let token = ctx.app.signer.encode(&PageToken {
                after,
                remaining: None,
                generation: tenant.generation,
                fingerprint: page_fp,
                tracked: true,
            });
            body.extend_from_slice(b",\"@odata.nextLink\":");
            let base = request_without_skiptoken(&ctx);
            odata::json::write_string(&mut body, &format!("{base}&$skiptoken={token}"));
        }
        None => {
            body.extend_from_slice(b",\"@odata.deltaLink\":");
            odata::json::write_string(&mut body, &link(&ctx, fp, tenant.generation));
        }
    }
    body.push(b'}');
    let mut r = json_response(&format, body);
    r.headers_mut()
        .insert("preference-applied", HeaderValue::from_static(PREFERENCE));
    Ok(r)
}

/// The request's URL without `$skiptoken` (its `$deltatoken` kept).
fn request_without_skiptoken(ctx: &RequestContext) -> String {
    format!(
        "{}{}?{}",
        ctx.base_url,
        ctx.path,
        continuation_query(&ctx.raw_query)
    )
}

/// Where the request's page of a delta starts (its `$skiptoken`).
fn position(ctx: &RequestContext, page_fp: &str, tenant: &Tenant) -> Result<Position, ApiError> {
    let Some(text) = ctx.options.get("$skiptoken") else {
        return Ok(Position::Removed(None));
    };
    let token = ctx.app.signer.decode(text)?;
    if token.fingerprint != page_fp {
        return Err(ODataError::bad_request(
            "This $skiptoken belongs to a different query; follow @odata.nextLink without changing it.",
        )
        .with_target("$skiptoken")
        .into());
    }
    if token.generation != tenant.generation {
        return Err(ODataError::bad_request(
            "The data was republished since these changes were read; follow the delta link again.",
        )
        .with_target("$skiptoken")
        .into());
    }
    match token.after.split_first() {
        Some((SqlValue::Integer(0), [SqlValue::Integer(id), SqlValue::Integer(told)])) => {
            Ok(Position::Removed(Some((*id, (*told).max(0) as u64))))
        }
        Some((SqlValue::Integer(marker @ (1 | 2)), after)) => Ok(Position::Written {
            by_key: *marker == 2,
            after: after.to_vec(),
        }),
        _ => Err(ODataError::bad_request("The $skiptoken is not valid.")
            .with_target("$skiptoken")
            .into()),
    }
}

/// Appends the rows publications after `since` wrote (after `after`, at most `limit`) to `out`:
/// each entity that meets the request's filter as it now is, the others as removed (changed).
/// Returns where the next page continues when more follow.
async fn written_rows(
    ctx: &RequestContext,
    (read, format, publication): (&ReadQuery<'static>, JsonFormat, &str),
    (tenant, since): (&Tenant, i64),
    (after, by_key, key_types): (
        Option<KeysetPosition>,
        Option<bool>,
        Vec<(String, PrimitiveType)>,
    ),
    limit: u64,
    (out, written): &mut (&mut Vec<u8>, &mut u64),
) -> Result<Option<Vec<SqlValue>>, ApiError> {
    let store = ctx.app.store.clone();
    let client = ctx.client();
    let collection = warehouse::Warehouse::get()
        .collection(&read.set)
        .ok_or_else(|| ApiError(ODataError::new(ErrorKind::Internal, "internal error")))?;
    let from_day = if collection.has_date_key() {
        let query = days_written_since(store.dialect(), tenant.id, since);
        let day = run(store.clone(), query, &client, |row| match row.cell(0) {
            Cell::Integer(d) => Some(d),
            _ => None,
        })
        .await?
        .into_iter()
        .flatten()
        .next();
        match day {
            Some(day) => Some(day),
            // no publication since wrote a day of it (nor, without expansions, of anything
            // it shows)
            None if read.expand.is_empty() => return Ok(None),
            None => None,
        }
    } else {
        None
    };
    let every_row = expanded_rows_removed(ctx, read, tenant, since).await?;
    let mut changed_rows = Changed {
        since,
        from_day,
        every_row,
        by_key: false,
    };
    changed_rows.by_key = match by_key {
        Some(by_key) => by_key,
        None => mostly_written(ctx, read, tenant, changed_rows).await?,
    };
    // every row written, in key order, with whether it meets the filter
    let mut changed = read.clone();
    changed.orderby = Vec::new();
    let filtered = match changed.filter.take() {
        Some(filter) => {
            changed.computed.push(Computed {
                name: MEETS_FILTER.into(),
                expr: filter,
            });
            true
        }
        None => false,
    };
    let reading = Reading {
        changed: Some(changed_rows),
        ..reading(tenant, after.as_ref(), 0, Some(limit + 1))
    };
    let plan = sql::plan_read(&changed, &reading, store.dialect())?.for_client(&client);
    let writer = entity_writer(
        ctx,
        &read.set,
        read.entity,
        &read.select,
        &read.expand,
        &plan.cursor,
        (format.metadata, format.ieee754),
    );
    let writer = read.computed.iter().enumerate().fold(writer, |w, (i, c)| {
        w.extra(
            &c.name,
            c.expr.ty.unwrap_or(PrimitiveType::String),
            read.select.len() + i,
        )
    });
    let writer = match format.metadata {
        MetadataLevel::None => writer,
        _ => writer.with_etag(publication),
    };
    let meets_column = read.select.len() + read.computed.len();
    let cursor = plan.cursor.clone();
    let set_url = format!("{}/{}", ctx.service_root, read.set);
    let rows_plan = plan.rows;
    let (chunk, count, last, more) = tokio::task::spawn_blocking(move || {
        let (mut buf, mut one) = (Vec::new(), Vec::new());
        let (mut count, mut last, mut more) = (0u64, None, false);
        store.stream(&rows_plan, &mut |row| {
            if count == limit {
                more = true;
                return false;
            }
            let key = key_text(&key_types, &cursor.key_columns, row);
            let meets = !filtered || matches!(row.cell(meets_column), Cell::Integer(n) if n != 0);
            if !buf.is_empty() {
                buf.push(b',');
            }
            if meets {
                one.clear();
                writer.write(&mut one, row);
                buf.extend_from_slice(b"{\"@id\":");
                odata::json::write_string(&mut buf, &format!("{set_url}({key})"));
                if one.len() > 2 {
                    buf.push(b',');
                }
                buf.extend_from_slice(&one[1..]);
            } else {
                write_removed(&mut buf, &set_url, &key, "changed");
            }
            count += 1;
            last = Some(
                (cursor.selected..cursor.selected + cursor.sort_keys)
                    .map(|i| sql_value(row.cell(i)))
                    .collect::<Vec<_>>(),
            );
            true
        })?;
        Ok::<_, warehouse::StoreError>((buf, count, last, more))
    })
    .await
    .map_err(|_| ApiError(ODataError::new(ErrorKind::Internal, "internal error")))??;
    if !chunk.is_empty() {
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(&chunk);
    }
    **written += count;
    // the statement read one row more than the page holds: another page follows
    Ok(match (more, last) {
        (true, Some(last)) => {
            let mut after = vec![written_marker(changed_rows.by_key)];
            after.extend(last);
            Some(after)
        }
        _ => None,
    })
}

/// Whether the later publications wrote most of a dimension's rows `read` reads (more than a
/// quarter), which then reads faster in key order than through the index of publications (and
/// a sort of what it finds): a dimension whose every row changes daily (`devices`: each syncs).
/// Daily facts read the days written since; with expansions, every row is weighed anyway.
async fn mostly_written(
    ctx: &RequestContext,
    read: &ReadQuery<'static>,
    tenant: &Tenant,
    changed: Changed,
) -> Result<bool, ApiError> {
    let collection = warehouse::Warehouse::get().collection(&read.set);
    if collection.is_none_or(|c| c.has_date_key()) || !read.expand.is_empty() {
        return Ok(false);
    }
    let store = ctx.app.store.clone();
    let client = ctx.client();
    let all = ReadQuery::all(&read.set, read.entity, read.catalog);
    let count = |changed: Option<Changed>| -> Result<sql::PlannedQuery, ApiError> {
        let reading = Reading {
            changed,
            ..reading(tenant, None, 0, None)
        };
        Ok(sql::plan_read(&all, &reading, store.dialect())?.count)
    };
    let number = |row: &dyn Row| match row.cell(0) {
        Cell::Integer(n) => n,
        _ => 0,
    };
    let total = run(store.clone(), count(None)?, &client, number).await?;
    let written = run(store.clone(), count(Some(changed))?, &client, number).await?;
    Ok(written.first().copied().unwrap_or(0) * 4 > total.first().copied().unwrap_or(0))
}

/// Whether publications after `since` deleted rows of a collection `read` expands.
async fn expanded_rows_removed(
    ctx: &RequestContext,
    read: &ReadQuery<'static>,
    tenant: &Tenant,
    since: i64,
) -> Result<bool, ApiError> {
    let store = ctx.app.store.clone();
    let client = ctx.client();
    for e in &read.expand {
        let target_type = &read.entity.navigation[e.navigation].target_type;
        let Some(target) = read.catalog.entity_set_of(target_type) else {
            continue;
        };
        let query = removed_since(store.dialect(), (tenant.id, target), since, None, 1);
        if !run(store.clone(), query, &client, |_| ()).await?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A cell as a statement parameter (a keyset position).
fn sql_value(cell: Cell<'_>) -> SqlValue {
    match cell {
        Cell::Null => SqlValue::Null,
        Cell::Integer(i) => SqlValue::Integer(i),
        Cell::Real(f) => SqlValue::Real(f),
        Cell::Text(t) => SqlValue::Text(t.to_string()),
    }
}

/// The keys in URL form of the deleted entities recorded as a JSON array of JSON rows of their
/// key's cells (the key's properties: `key`); an entry that is not one is left out.
fn keys_of_json(json: &str, key: &[(String, PrimitiveType)]) -> Vec<String> {
    let rows: Vec<Vec<Vec<serde_json::Value>>> = serde_json::from_str(json).unwrap_or_default();
    rows.into_iter()
        .filter_map(|chunks| {
            let cells: Vec<serde_json::Value> = chunks.into_iter().flatten().collect();
            key_text_of(&cells, key)
        })
        .collect()
}

/// One deleted entity's key cells, read as a row.
struct KeyCells<'a>(Vec<Cell<'a>>);

impl Row for KeyCells<'_> {
    fn cell(&self, index: usize) -> Cell<'_> {
        self.0.get(index).copied().unwrap_or(Cell::Null)
    }
}

/// The key in URL form of one deleted entity's cells.
fn key_text_of(cells: &[serde_json::Value], key: &[(String, PrimitiveType)]) -> Option<String> {
    if cells.len() != key.len() {
        return None;
    }
    let cells = cells
        .iter()
        .map(|value| {
            Some(match value {
                serde_json::Value::Number(v) => Cell::Integer(v.as_i64()?),
                serde_json::Value::String(t) => Cell::Text(t),
                serde_json::Value::Bool(b) => Cell::Integer(i64::from(*b)),
                _ => Cell::Null,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let columns: Vec<usize> = (0..key.len()).collect();
    Some(key_text(key, &columns, &KeyCells(cells)))
}

/// Appends a removed entry for the entity of `key`.
fn removed(out: &mut Vec<u8>, written: &mut u64, set_url: &str, key: &str, reason: &str) {
    if !out.is_empty() {
        out.push(b',');
    }
    write_removed(out, set_url, key, reason);
    *written += 1;
}

fn write_removed(out: &mut Vec<u8>, set_url: &str, key: &str, reason: &str) {
    out.extend_from_slice(b"{\"@removed\":{\"reason\":");
    odata::json::write_string(out, reason);
    out.extend_from_slice(b"},\"@id\":");
    odata::json::write_string(out, &format!("{set_url}({key})"));
    out.push(b'}');
}

/// Runs `query` for `client` on a blocking thread, mapping each row.
async fn run<T: Send + 'static>(
    store: std::sync::Arc<dyn Store>,
    query: sql::PlannedQuery,
    client: &str,
    map: impl Fn(&dyn Row) -> T + Send + 'static,
) -> Result<Vec<T>, ApiError> {
    let query = sql::PlannedQuery {
        client: Some(client.to_string()),
        ..query
    };
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        store.stream(&query, &mut |row| {
            out.push(map(row));
            true
        })?;
        Ok::<_, warehouse::StoreError>(out)
    })
    .await
    .map_err(|_| ApiError(ODataError::new(ErrorKind::Internal, "internal error")))?
    .map_err(ApiError::from)
}
