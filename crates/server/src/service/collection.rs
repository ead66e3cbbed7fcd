//! Collection requests: paging options, the paging token's checks, the page's statement and
//! writer, and the response streamed as rows are read.

use super::context::*;
use super::expand::*;
use crate::negotiate::JsonFormat;
use crate::paging::{fingerprint, PageToken};
use crate::stream::{self, Page};
use crate::{ApiError, ApiResult};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use odata::edm::{EntityType, PrimitiveType};
use odata::json::{EntityWriter, MetadataLevel};
use odata::read::ReadQuery;
use odata::ODataError;

use odata::bind::AggregatedType;
use warehouse::sql::{self, KeysetPosition, Reading};
use warehouse::{Tenant, Warehouse};

/// A page of what `read` reads (entities, or `references` to them) of `tenant`'s publication
/// (whose entities carry the ETag `publication`): its rows streamed as they are read in
/// `format`, a next link when there are more.
pub(super) async fn page(
    ctx: RequestContext,
    read: ReadQuery<'static>,
    format: JsonFormat,
    references: bool,
    (tenant, publication): (Tenant, &str),
) -> ApiResult<Response> {
    let entity = read.entity;
    let name = read.set.clone();
    let name = name.as_str();
    let mut page_size = PageSize::of(&ctx);
    if read.expands_collections() {
        page_size.rows = page_size.rows.min(PAGE_WITH_EXPANDED_COLLECTIONS);
    }
    check_at(&ctx, &read, &tenant).await?;
    let fp = query_fingerprint(&ctx, name, &tenant, &read);
    if ctx.options.get("$deltatoken").is_some() {
        return super::delta::page(ctx, read, format, (tenant, publication), &fp).await;
    }
    let token = resume_token(&ctx, &fp, &tenant)?;
    let tracked = token.as_ref().map_or_else(
        || super::delta::asked(&ctx.headers) && super::delta::trackable(&read, references),
        |t| t.tracked,
    );
    let delta_link = tracked.then(|| super::delta::link(&ctx, &fp, tenant.generation));
    let remaining = match &token {
        Some(t) => t.remaining,
        None => read.paging.top,
    };
    let page_len = remaining.map_or(page_size.rows, |r| r.min(page_size.rows));
    let position = token.as_ref().map(|t| KeysetPosition(t.after.clone()));
    let offset = if token.is_none() {
        read.paging.skip.unwrap_or(0)
    } else {
        0
    };
    let want_count = read.paging.count;
    let page_query = PageQuery {
        read,
        tenant: tenant.clone(),
        now_micros: now_micros(),
        store: ctx.app.store.clone(),
        client: ctx.client(),
    };
    let limit = stream::statement_limit(page_len, remaining, 0, false);
    let plan = page_query.plan(position.as_ref(), offset, limit)?;
    let (writer, context) = page_writer(
        &ctx,
        (name, entity),
        &page_query.read,
        &plan.cursor,
        references,
        (format.metadata, format.ieee754),
    );
    let writer = match format.metadata {
        MetadataLevel::None => writer,
        _ if references || read_aggregates(&page_query.read) => writer,
        _ => writer.with_etag(publication),
    };
    let page = Page {
        store: ctx.app.store.clone(),
        plan,
        resume: Box::new(move |position, limit| {
            page_query
                .plan(Some(position), 0, limit)
                .map_err(|e| warehouse::StoreError::Evaluation(e.to_string()))
        }),
        writer,
        want_count,
        context: (format.metadata != MetadataLevel::None).then_some(context),
        page_len,
        remaining,
        next_link_base: next_link_base(&ctx),
        delta_link,
        token_template: PageToken {
            after: Vec::new(),
            remaining: None,
            generation: tenant.generation,
            fingerprint: fp,
            tracked,
        },
        signer: ctx.app.signer.clone(),
        request_id: ctx.request_id.clone(),
        collection: name.to_string(),
        audit: crate::authn::Audit {
            tenant: ctx.principal.tenant.clone(),
            client_id: ctx.principal.client_id.clone().unwrap_or_default(),
            subject: ctx.principal.subject.clone(),
        },
        tenant_labels: ctx.app.config.metrics_tenant_labels,
    };
    let mut resp = stream::respond(page).await?;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format.content_type()).expect("ascii"),
    );
    let mut applied: Vec<String> = page_size
        .preferred
        .map(|p| format!("odata.maxpagesize={}", p.min(ctx.app.config.page_size)))
        .into_iter()
        .collect();
    if tracked {
        applied.push(super::delta::PREFERENCE.to_string());
    }
    if !applied.is_empty() {
        h.insert(
            "preference-applied",
            HeaderValue::from_str(&applied.join(", ")).expect("ascii"),
        );
    }
    Ok(resp)
}

/// The writer of a page's rows and its context URL: aggregated rows, references, or entities
/// of `name` with their expansions and computed properties, at metadata `level` (Int64 and
/// Decimal as strings when `ieee754`).
fn page_writer(
    ctx: &RequestContext,
    (name, entity): (&str, &'static EntityType),
    q: &ReadQuery<'_>,
    cursor: &sql::Cursor,
    references: bool,
    (level, ieee754): (MetadataLevel, bool),
) -> (EntityWriter, String) {
    let mut context = format!("{}#{name}", ctx.metadata_url());
    let writer = match q.apply.as_ref().and_then(|a| a.aggregation.as_ref()) {
        Some(aggregation) => {
            context = format!("{context}({})", aggregation.output.context_selection());
            aggregated_writer(&aggregation.output, (level, ieee754))
        }
        None if references => {
            context = format!("{}#Collection($ref)", ctx.metadata_url());
            EntityWriter::reference(
                entity,
                &Warehouse::get().namespace,
                &cursor.key_columns,
                &format!("{}/{name}", ctx.service_root),
            )
        }
        None => {
            let mut parts: Vec<String> = context_selection(ctx, entity, &q.select, &q.expand)
                .into_iter()
                .collect();
            if ctx.options.get("$select").is_some() {
                parts.extend(q.computed.iter().map(|c| c.name.clone()));
            }
            if !parts.is_empty() {
                context = format!("{context}({})", parts.join(","));
            }
            let writer = entity_writer(
                ctx,
                name,
                entity,
                &q.select,
                &q.expand,
                cursor,
                (level, ieee754),
            );
            q.computed.iter().enumerate().fold(writer, |w, (i, c)| {
                let ty = c.expr.ty.unwrap_or(PrimitiveType::String);
                w.extra(&c.name, ty, q.select.len() + i)
            })
        }
    };
    (writer, context)
}

/// Whether `q` answers aggregated rows (transient entities, without ETags).
fn read_aggregates(q: &ReadQuery<'_>) -> bool {
    q.apply.as_ref().is_some_and(|a| a.aggregation.is_some())
}

/// System query options that do not change which rows a page holds or their order: the paging
/// position and size, the count, the format, and the delta token (a delta reads the same query).
const NOT_SHAPING_ROWS: &[&str] = &[
    "$top",
    "$skip",
    "$skiptoken",
    "$count",
    "$format",
    "$deltatoken",
];

/// What a paging token is bound to: the request's version, collection, tenant, history window,
/// parameter aliases, and every system option given that shapes the rows (all but
/// [`NOT_SHAPING_ROWS`]), so that an option added to the service is covered without being listed
/// and leaves the tokens of requests that do not use it as they were. A token presented with
/// anything else is refused.
pub(super) fn query_fingerprint(
    ctx: &RequestContext,
    name: &str,
    tenant: &Tenant,
    read: &ReadQuery<'_>,
) -> String {
    let min_date = sql::min_date_key(read, tenant.snapshot_date_key);
    // a continuation must keep the aliases' values too
    let mut aliases: Vec<String> = ctx
        .options
        .custom
        .iter()
        .filter(|o| o.name.starts_with('@'))
        .map(|o| format!("{}={}", o.name, o.value))
        .collect();
    aliases.sort();
    // options are matched by name, in whichever order the URL gives them
    let mut shaping: Vec<[&str; 2]> = ctx
        .options
        .system
        .iter()
        .filter(|o| !NOT_SHAPING_ROWS.contains(&o.name.as_str()))
        .map(|o| [o.name.as_str(), o.value.as_str()])
        .collect();
    shaping.sort_unstable();
    let (tenant_id, min_date) = (
        tenant.id.to_string(),
        min_date.map(|d| d.to_string()).unwrap_or_default(),
    );
    let aliases = aliases.join("&");
    let parts: Vec<&str> = [
        ctx.version.as_str(),
        &ctx.path,
        name,
        &tenant_id,
        &min_date,
        &aliases,
    ]
    .into_iter()
    .chain(shaping.iter().flatten().copied())
    .collect();
    fingerprint(&parts)
}

/// The writer of aggregated rows: their top-level values, then each nested object (columns as
/// the aggregation's plan lays them out). They are transient: no type of the model, no id.
fn aggregated_writer(
    result: &AggregatedType,
    (level, ieee754): (MetadataLevel, bool),
) -> EntityWriter {
    let namespace = &Warehouse::get().namespace;
    let all = |t: &EntityType| (0..t.properties.len()).collect::<Vec<_>>();
    let mut writer = EntityWriter::new(
        &result.entity,
        namespace,
        &all(&result.entity),
        &[],
        level,
        ieee754,
        "",
    );
    let mut start = result.entity.properties.len();
    for (navigation, nested) in result.entity.navigation.iter().zip(&result.nested) {
        let nested_level = match level {
            MetadataLevel::Full => MetadataLevel::Minimal,
            other => other,
        };
        let inner = EntityWriter::new(
            nested,
            namespace,
            &all(nested),
            &[],
            nested_level,
            ieee754,
            "",
        )
        .from_column(start);
        start += nested.properties.len();
        writer = writer.nest(&navigation.name, inner);
    }
    writer
}

/// The request's `$skiptoken`, checked: signed by this service, for this query (`fp`), on the
/// tenant's current publication.
fn resume_token(
    ctx: &RequestContext,
    fp: &str,
    tenant: &Tenant,
) -> Result<Option<PageToken>, ApiError> {
    let Some(t) = ctx.options.get("$skiptoken") else {
        return Ok(None);
    };
    let token = ctx.app.signer.decode(t)?;
    if token.fingerprint != fp {
        return Err(ODataError::bad_request("This $skiptoken belongs to a different query; follow @odata.nextLink without changing it.").with_target("$skiptoken").into());
    }
    if token.generation != tenant.generation {
        return Err(ODataError::bad_request("The data was republished since this paging sequence started; restart from the first page.").with_target("$skiptoken").into());
    }
    Ok(Some(token))
}

/// The next link up to its `$skiptoken` value: the request's own URL and options but `$skip`
/// and `$skiptoken`.
fn next_link_base(ctx: &RequestContext) -> String {
    let rest = continuation_query(&ctx.raw_query);
    let sep = if rest.is_empty() { "" } else { "&" };
    format!("{}{}?{rest}{sep}$skiptoken=", ctx.base_url, ctx.path)
}

/// What a collection request reads, owned, so that a page can be planned again to continue
/// after a pause (see [`stream`]).
struct PageQuery {
    read: ReadQuery<'static>,
    tenant: Tenant,
    now_micros: i64,
    store: std::sync::Arc<dyn warehouse::Store>,
    /// Who the statements run for within the tenant ([`RequestContext::client`]).
    client: String,
}

impl PageQuery {
    /// The statement for `limit` rows after `position` (or `offset` rows from the start).
    fn plan(
        &self,
        position: Option<&KeysetPosition>,
        offset: u64,
        limit: u64,
    ) -> Result<sql::Plan, sql::StatementTooLarge> {
        let reading = Reading {
            tenant: self.tenant.id,
            snapshot_date_key: self.tenant.snapshot_date_key,
            now_micros: self.now_micros,
            after: position,
            offset,
            limit: Some(limit),
            changed: None,
        };
        sql::plan_read(&self.read, &reading, self.store.dialect())
            .map(|p| p.for_client(&self.client))
    }
}
