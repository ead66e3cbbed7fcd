//! What every handler of the service reads: the request's context (its state, principal,
//! version, options, headers and addresses), the collection it names, where a bound query reads,
//! the caller's tenant.

use crate::negotiate::JsonFormat;
use crate::{ApiError, ApiResult, AppState};
use auth::Principal;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use odata::edm::{EntityType, Model};
use odata::syntax::QueryOptions;
use odata::{ErrorKind, ODataError};

use odata::read::{ReadQuery, Temporal};
use warehouse::calendar::date_of_key;
use warehouse::model::{ApiVersion, Collection};
use warehouse::sql::counts::kept_days;
use warehouse::sql::{fact_days, KeysetPosition, Reading};
use warehouse::store::Cell;
use warehouse::{Tenant, Warehouse};

/// Everything a handler needs to know about one request.
pub(crate) struct RequestContext {
    pub app: AppState,
    pub principal: Principal,
    pub version: ApiVersion,
    pub options: QueryOptions,
    pub raw_query: String,
    pub headers: HeaderMap,
    pub base_url: String,
    /// The service root as the client addressed it (with the routed prefix when it used it).
    pub service_root: String,
    pub path: String,
    pub request_id: String,
}

impl RequestContext {
    /// Who the request's statements run for within its tenant: its client, or its subject
    /// (a user signed in without a client id); the store shares a tenant's statements between
    /// them (`warehouse::TenantFair`).
    pub(super) fn client(&self) -> String {
        self.principal
            .client_id
            .clone()
            .unwrap_or_else(|| self.principal.subject.clone())
    }

    pub(super) fn model(&self) -> &'static Model {
        Warehouse::get().edm(self.version)
    }

    pub(super) fn metadata_url(&self) -> String {
        format!("{}/$metadata", self.service_root)
    }
}

/// The service's own query option `name` (any case), refused when given more than once: which
/// one counts would be a guess, as for a system query option.
pub(super) fn service_option<'o>(
    options: &'o QueryOptions,
    name: &str,
) -> Result<Option<&'o odata::syntax::QueryOption>, ODataError> {
    let mut given = options
        .custom
        .iter()
        .filter(|o| o.name.eq_ignore_ascii_case(name));
    let first = given.next();
    if given.next().is_some() {
        return Err(ODataError::bad_request(format!(
            "the query option '{name}' is given more than once"
        ))
        .with_target(name));
    }
    Ok(first)
}

pub(super) fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

pub(super) fn json_response(format: &JsonFormat, body: Vec<u8>) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format.content_type()).expect("ascii"),
    );
    r
}

/// The entity set `name`, its type and its warehouse collection, or a 404 that helps.
pub(super) fn resolve(
    ctx: &RequestContext,
    name: &str,
) -> Result<(&'static EntityType, &'static Collection), ODataError> {
    let model = ctx.model();
    match model.entity_set(name) {
        Some(set) => Ok((
            model.type_of(set),
            Warehouse::get()
                .collection(name)
                .expect("model sets are collections"),
        )),
        None => {
            let w = Warehouse::get();
            let other_version = w.collection(name).or_else(|| {
                w.collections
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(name))
            });
            let hint = if let Some(c) = other_version {
                format!(
                    " '{}' is available in api-version {}.",
                    c.name,
                    c.versions.join(", ")
                )
            } else {
                String::new()
            };
            Err(ODataError::not_found(format!(
                "'{name}' is not a collection of api-version {}.{hint}",
                ctx.version.as_str()
            ))
            .with_target(name.to_string()))
        }
    }
}

/// `maxhistorydays` (any case), for whichever facts the request reads.
pub(super) fn history_days(ctx: &RequestContext) -> Result<Option<u32>, ODataError> {
    let Some(o) = service_option(&ctx.options, "maxhistorydays")? else {
        return Ok(None);
    };
    let days: u32 = o.value.trim_matches([' ', '\t']).parse().map_err(|_| {
        ODataError::bad_request(format!(
            "maxhistorydays must be a non-negative integer, not '{}'.",
            o.value
        ))
        .with_target("maxhistorydays")
    })?;
    Ok(Some(days))
}

/// Where and for whom `read` is planned: the tenant, its snapshot, and the page.
pub(super) fn reading<'a>(
    tenant: &Tenant,
    after: Option<&'a KeysetPosition>,
    offset: u64,
    limit: Option<u64>,
) -> Reading<'a> {
    Reading {
        tenant: tenant.id,
        snapshot_date_key: tenant.snapshot_date_key,
        now_micros: now_micros(),
        after,
        offset,
        limit,
        changed: None,
    }
}

/// The caller's tenant, as named by the validated token and never by the request.
pub(super) async fn load_tenant(ctx: &RequestContext) -> ApiResult<Tenant> {
    let store = ctx.app.store.clone();
    let name = ctx.principal.tenant.clone();
    let tenant = tokio::task::spawn_blocking(move || store.tenant(&name))
        .await
        .map_err(|_| ApiError(ODataError::new(ErrorKind::Internal, "internal error")))??;
    tenant.ok_or_else(|| {
        ApiError(ODataError::new(
            ErrorKind::Forbidden,
            format!(
                "Tenant '{}' is not provisioned on this service.",
                ctx.principal.tenant
            ),
        ))
    })
}

/// Checks the days `read` asks for of a daily fact (`$at`, `$from`/`$to`), or of a dimension
/// read as of a day from its daily states, against the days `tenant`'s publications hold: a
/// day, or a period touching none of them, is a 400 naming them (a kept day with no rows is an
/// empty answer; a period partly kept reads what is kept).
pub(super) async fn check_at(
    ctx: &RequestContext,
    read: &ReadQuery<'_>,
    tenant: &Tenant,
) -> ApiResult<()> {
    let (Some(temporal), Some(collection)) =
        (read.temporal, Warehouse::get().collection(&read.set))
    else {
        return Ok(());
    };
    let Temporal::Period { start, end, point } = temporal else {
        return Ok(());
    };
    // a daily fact's own days, or those of the fact recording a dimension's daily states
    let days_of = match collection.daily_states() {
        Some(states) => Warehouse::get().collection(&states.collection),
        None => Some(collection).filter(|c| c.has_date_key()),
    };
    let Some(days_of) = days_of else {
        return Ok(());
    };
    let (first_asked, last_asked) = fact_days((start, end));
    let cache = &ctx.app.kept_days;
    let publication = (tenant.generation, tenant.published_at);
    let kept = match cache.get(tenant.id, &days_of.name, publication) {
        Some(kept) => kept,
        None => {
            let query = kept_days(days_of, tenant.id, ctx.app.store.dialect());
            let store = ctx.app.store.clone();
            let kept = tokio::task::spawn_blocking(move || {
                let mut kept = None;
                store.stream(&query, &mut |row| {
                    let day = |i| match row.cell(i) {
                        Cell::Integer(k) => date_of_key(k),
                        _ => None,
                    };
                    kept = day(0).zip(day(1));
                    false
                })?;
                Ok::<_, warehouse::StoreError>(kept)
            })
            .await
            .map_err(|_| ApiError(ODataError::new(ErrorKind::Internal, "internal error")))??;
            cache.put(tenant.id, &days_of.name, publication, kept);
            kept
        }
    };
    let Some((first, last)) = kept else {
        return Ok(());
    };
    let asked = |key: i64| date_of_key(key).map_or(key.to_string(), |d| d.to_string());
    let outside = date_of_key(first_asked).is_some_and(|d| d > last)
        || last_asked.and_then(date_of_key).is_some_and(|d| d < first);
    if !outside {
        return Ok(());
    }
    let what = if point {
        format!("$at={}", asked(first_asked))
    } else {
        let until = last_asked.map_or("the latest day".to_string(), asked);
        format!("The period from {} to {until}", asked(first_asked))
    };
    Err(ODataError::bad_request(format!(
        "{what} is outside the history kept of {}: it holds the days from {first} to {last}.",
        read.set
    ))
    .with_target(temporal.option())
    .into())
}

pub(super) fn now_micros() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64
}

/// How many rows a page holds: the service's page size, or less when
/// `Prefer: odata.maxpagesize` asks for it.
pub(super) struct PageSize {
    /// What `Prefer` asked for, if anything.
    pub(super) preferred: Option<u64>,
    pub(super) rows: u64,
}

impl PageSize {
    /// The page size for `ctx`.
    pub(super) fn of(ctx: &RequestContext) -> Self {
        let preferred = parse_prefer_maxpagesize(&ctx.headers);
        let rows = preferred
            .map_or(ctx.app.config.page_size, |p| {
                p.min(ctx.app.config.page_size)
            })
            .max(1);
        Self { preferred, rows }
    }
}

/// The page size `Prefer: odata.maxpagesize=N` (or `maxpagesize`) asks for.
fn parse_prefer_maxpagesize(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            (k.trim().eq_ignore_ascii_case("odata.maxpagesize")
                || k.trim().eq_ignore_ascii_case("maxpagesize"))
            .then(|| v.trim().trim_matches('"').parse().ok())
            .flatten()
            .filter(|n: &u64| *n > 0)
        })
}

/// The raw query string without `$skip` and `$skiptoken`, for next links.
pub(super) fn continuation_query(raw: &str) -> String {
    raw.split('&')
        .filter(|part| {
            let name = part.split('=').next().unwrap_or("");
            let name = percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            let name = name.trim_start_matches('$');
            !part.is_empty() && name != "skip" && name != "skiptoken"
        })
        .collect::<Vec<_>>()
        .join("&")
}
