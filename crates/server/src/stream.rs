//! Streaming a page of a collection: rows go from the statement cursor into fixed-size chunks
//! sent through a bounded channel to the response body, so memory use does not depend on the
//! page or collection size and a client that goes away stops the query.
//!
//! A client that reads slowly or not at all must not keep a store connection: the pool is
//! shared by every tenant, and a few stalled sockets would otherwise lock everybody out. So when
//! the channel stays full for [`HOLD`], the statement is closed (its connection goes back to the
//! pool), an async task waits for the client to take the buffered chunks, and the page goes on
//! with a new statement that continues after the last row sent, exactly as a next link would
//! (keyset position, same filter, order and snapshot check). A client that takes nothing for
//! [`STALL_TIMEOUT`] is dropped.

use crate::paging::{PageToken, TokenSigner};
use crate::{ApiError, ApiResult};
use auth::log_safe;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use metrics::Label;
use odata::json::EntityWriter;
use odata::{ErrorKind, ODataError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::SendTimeoutError;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use warehouse::sql::{KeysetPosition, Plan, SqlValue};
use warehouse::store::{Cell, Row};
use warehouse::{Store, StoreError};

/// Bytes per chunk handed to the socket.
const CHUNK: usize = 64 * 1024;
/// Chunks buffered between the database thread and the socket.
const CHANNEL_DEPTH: usize = 4;
/// How long a full channel may keep a statement (and its pooled connection) open.
pub(crate) const HOLD: Duration = Duration::from_millis(100);
/// How long a paused page waits for its client to take anything before giving up on it.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Most bytes of sort values a paging token carries. A page whose last row has larger ones (a
/// sort by a long text) goes on to the first row whose values fit, for at most
/// [`MAX_PAGE_EXTENSION`] rows (or the page's length, when longer).
pub(crate) const MAX_TOKEN_SORT_BYTES: usize = 4096;

/// Rows a page may go on for to reach a row whose sort values fit in a token.
pub(crate) const MAX_PAGE_EXTENSION: u64 = 1000;

/// The most rows a page of `page_len` may hold (see [`MAX_TOKEN_SORT_BYTES`]), never more than
/// `remaining` (`$top`).
pub(crate) fn page_limit(page_len: u64, remaining: Option<u64>) -> u64 {
    let extended = page_len.saturating_add(page_len.max(MAX_PAGE_EXTENSION));
    remaining.map_or(extended, |r| r.min(extended))
}

/// The most rows a statement of a page reads when `rows` are written and the page is
/// `extending` (see [`page_limit`]): the rest of the page and one more to tell whether more
/// follow; past the page's length, the rest of the extension. A store that computes rows ahead
/// of the reader (PostgreSQL sends them as they come) so never computes the whole extension of
/// a page that does not need it: a page of 100 devices with their expanded histories computed
/// 1 100 of them, 40 ms instead of 8.
pub(crate) fn statement_limit(
    page_len: u64,
    remaining: Option<u64>,
    rows: u64,
    extending: bool,
) -> u64 {
    let most = page_limit(page_len, remaining);
    let wanted = if extending || rows >= page_len {
        most
    } else {
        most.min(page_len)
    };
    wanted.saturating_sub(rows) + 1
}

/// The size of a row's sort values as a token carries them.
fn sort_bytes(row: &dyn Row, cursor: &warehouse::sql::Cursor) -> usize {
    (cursor.selected..cursor.selected + cursor.sort_keys)
        .map(|i| match row.cell(i) {
            Cell::Text(t) => t.len() + 8,
            _ => 24,
        })
        .sum()
}

/// Plans the rest of a page: the rows after `position`, at most `limit` of them.
pub(crate) type Resume =
    Box<dyn Fn(&KeysetPosition, u64) -> Result<Plan, StoreError> + Send + Sync>;

/// Everything needed to write one page.
pub(crate) struct Page {
    pub store: Arc<dyn Store>,
    pub plan: Plan,
    pub resume: Resume,
    pub writer: EntityWriter,
    pub want_count: bool,
    pub context: Option<String>,
    pub page_len: u64,
    pub remaining: Option<u64>,
    pub next_link_base: String,
    /// The delta link the last page ends with (`Prefer: odata.track-changes`).
    pub delta_link: Option<String>,
    pub token_template: PageToken,
    pub signer: TokenSigner,
    pub request_id: String,
    pub collection: String,
    pub audit: crate::authn::Audit,
    /// Whether the page's metrics name its tenant ([`crate::Config::metrics_tenant_labels`]).
    pub tenant_labels: bool,
}

/// Marks a response whose log line is written when its stream ends.
#[derive(Clone, Copy)]
pub(crate) struct Streamed;

type Chunks = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Starts the page and answers once the statement is running (so store errors still become
/// proper error responses), then streams the rest.
pub(crate) async fn respond(page: Page) -> ApiResult<Response> {
    let (start_tx, start_rx) = oneshot::channel::<Result<(), StoreError>>();
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    // set when this future or the body is dropped: the client went away
    let cancelled = Arc::new(AtomicBool::new(false));
    let guard = CancelOnDrop(cancelled.clone());
    tokio::spawn(drive(page, start_tx, tx, cancelled));
    match start_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ApiError::from(e)),
        Err(_) => {
            return Err(ApiError(ODataError::new(
                ErrorKind::Internal,
                "internal error",
            )))
        }
    }
    let chunks = tokio_stream::wrappers::ReceiverStream::new(rx).map(move |chunk| {
        let _ = &guard;
        chunk
    });
    let body = Body::from_stream(chunks);
    let mut resp = Response::new(body);
    resp.extensions_mut().insert(Streamed);
    Ok(resp)
}

/// Sets its flag when dropped: the statements of a page whose client is gone stop.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Where a page stands between two statements.
struct Progress {
    buf: Vec<u8>,
    rows: u64,
    has_more: bool,
    /// The page has its rows but goes on to the first row whose sort values fit in a token.
    extending: bool,
    /// Sort values of the page's last row: where the next page starts.
    page_end: Vec<SqlValue>,
    /// Sort values of the row written before a pause: where the page goes on.
    resume_at: Vec<SqlValue>,
    /// Answers `respond` once the first bytes (or an error) are ready.
    start: Option<oneshot::Sender<Result<(), StoreError>>>,
    /// Statements the page needed (one, plus one per pause, plus one per stretch of rows with
    /// long sort values at its end).
    statements: u32,
    /// Bytes handed to the client so far.
    bytes: u64,
}

impl Progress {
    fn started(&mut self) {
        if let Some(s) = self.start.take() {
            let _ = s.send(Ok(()));
        }
    }
}

/// A page being streamed, counted in `dw_streams_in_flight` until it is dropped (whichever
/// way the stream ends).
struct InFlight;

impl InFlight {
    fn start() -> Self {
        metrics::gauge!("dw_streams_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("dw_streams_in_flight").decrement(1.0);
    }
}

/// A page in the metrics: its outcome, rows, bytes and duration, by collection (and tenant
/// when configured).
fn record_page(page: &Page, outcome: &'static str, progress: &Progress, took: Duration) {
    let mut labels = vec![Label::new("collection", page.collection.clone())];
    if page.tenant_labels {
        labels.push(Label::new("tenant", page.audit.tenant.clone()));
    }
    let mut with_outcome = labels.clone();
    with_outcome.push(Label::new("outcome", outcome));
    metrics::counter!("dw_pages_total", with_outcome).increment(1);
    metrics::counter!("dw_rows_served_total", labels.clone()).increment(progress.rows);
    metrics::counter!("dw_bytes_served_total", labels.clone()).increment(progress.bytes);
    metrics::histogram!("dw_page_duration_seconds", labels).record(took.as_secs_f64());
}

/// How one statement of a page ended.
enum Segment {
    /// The client is slow: the statement was closed with this chunk still to send.
    Paused(Bytes),
    /// The page is complete: its last bytes.
    Finished(Bytes),
    /// The store failed.
    Failed(StoreError),
    /// The client went away.
    ClientGone,
    /// The statement read all the rows its limit allowed before the page could end (rows with
    /// long sort values at the end of the page): continue after the last one at once.
    Continue,
}

async fn drive(
    page: Page,
    start: oneshot::Sender<Result<(), StoreError>>,
    tx: Chunks,
    cancelled: Arc<AtomicBool>,
) {
    let started_at = Instant::now();
    let _in_flight = InFlight::start();
    let page = Arc::new(page);
    let runtime = tokio::runtime::Handle::current();
    let mut progress = Progress {
        buf: Vec::with_capacity(CHUNK + 4096),
        rows: 0,
        has_more: false,
        extending: false,
        page_end: Vec::new(),
        resume_at: Vec::new(),
        start: Some(start),
        statements: 0,
        bytes: 0,
    };
    let mut position: Option<KeysetPosition> = None;
    let status = loop {
        let (page2, tx2, runtime2) = (page.clone(), tx.clone(), runtime.clone());
        let flag = cancelled.clone();
        let work = tokio::task::spawn_blocking(move || {
            let end = warehouse::store::with_cancellation(flag, || {
                segment(&page2, &mut progress, position.as_ref(), &tx2, &runtime2)
            });
            (progress, end)
        });
        let end;
        (progress, end) = match work.await {
            Ok(done) => done,
            Err(_) => {
                tracing::error!(request_id = %page.request_id, "a page's stream panicked; aborting the response");
                return;
            }
        };
        match end {
            Segment::Paused(chunk) => {
                // no store connection is held while waiting: wait until the client has taken
                // everything buffered, so the next statement has room for several chunks
                match tokio::time::timeout(STALL_TIMEOUT, tx.reserve_many(CHANNEL_DEPTH)).await {
                    Ok(Ok(mut permits)) => {
                        progress.bytes += chunk.len() as u64;
                        permits.next().expect("reserved").send(Ok(chunk));
                    }
                    Ok(Err(_)) => break "client-gone",
                    Err(_) => break "client-stalled",
                }
                position = Some(KeysetPosition(std::mem::take(&mut progress.resume_at)));
            }
            Segment::Finished(last) => {
                progress.started();
                progress.bytes += last.len() as u64;
                match tokio::time::timeout(STALL_TIMEOUT, tx.send(Ok(last))).await {
                    Ok(Ok(())) => break "complete",
                    Ok(Err(_)) => break "client-gone",
                    Err(_) => break "client-stalled",
                }
            }
            Segment::Failed(e) => match progress.start.take() {
                Some(s) => {
                    let _ = s.send(Err(e));
                    return;
                }
                None => {
                    tracing::error!(request_id = %page.request_id, error = %log_safe(&e.to_string()), "store error in the middle of a stream; aborting the response");
                    let _ = tx.try_send(Err(std::io::Error::other("store error")));
                    break "aborted";
                }
            },
            Segment::ClientGone => break "client-gone",
            Segment::Continue => {
                position = Some(KeysetPosition(std::mem::take(&mut progress.resume_at)));
            }
        }
    };
    record_page(&page, status, &progress, started_at.elapsed());
    tracing::info!(
        request_id = %page.request_id,
        tenant = %log_safe(&page.audit.tenant),
        client_id = %log_safe(&page.audit.client_id),
        subject = %log_safe(&page.audit.subject),
        collection = %log_safe(&page.collection),
        rows = progress.rows,
        statements = progress.statements,
        stream = status,
        duration_ms = started_at.elapsed().as_millis() as u64,
        "request"
    );
}

/// Opens the page's JSON object: context, count, and the start of `value`.
fn open(page: &Page, progress: &mut Progress) -> Result<(), StoreError> {
    let buf = &mut progress.buf;
    buf.push(b'{');
    let mut first_member = true;
    if let Some(ctx) = &page.context {
        buf.extend_from_slice(b"\"@odata.context\":");
        odata::json::write_string(buf, ctx);
        first_member = false;
    }
    if page.want_count {
        let n = page.store.count(&page.plan.count)?;
        if !first_member {
            buf.push(b',');
        }
        buf.extend_from_slice(b"\"@odata.count\":");
        odata::json::write_integer(buf, n as i64);
        first_member = false;
    }
    if !first_member {
        buf.push(b',');
    }
    buf.extend_from_slice(b"\"value\":[");
    Ok(())
}

/// Runs one statement of the page: the first, or one that continues after `position`.
fn segment(
    page: &Page,
    progress: &mut Progress,
    position: Option<&KeysetPosition>,
    tx: &Chunks,
    runtime: &tokio::runtime::Handle,
) -> Segment {
    let resumed;
    let plan = match position {
        None => {
            if let Err(e) = open(page, progress) {
                return Segment::Failed(e);
            }
            &page.plan
        }
        Some(p) => {
            let limit = statement_limit(
                page.page_len,
                page.remaining,
                progress.rows,
                progress.extending,
            );
            resumed = match (page.resume)(p, limit) {
                Ok(plan) => plan,
                Err(e) => return Segment::Failed(e),
            };
            &resumed
        }
    };
    let limit = statement_limit(
        page.page_len,
        page.remaining,
        progress.rows,
        progress.extending,
    );
    let rows_before = progress.rows;
    progress.statements += 1;
    let cursor = &plan.cursor;
    let mut outcome = None;
    let most = page_limit(page.page_len, page.remaining);
    let result = page.store.stream(&plan.rows, &mut |row| {
        if progress.rows >= page.page_len && !progress.extending {
            progress.has_more = true;
            return false;
        }
        if progress.rows == most {
            if page.remaining != Some(most) {
                outcome = Some(Segment::Failed(StoreError::Evaluation(format!(
                    "the sort values of more than {} consecutive rows are larger than {MAX_TOKEN_SORT_BYTES} \
                     bytes, more than a paging link carries; order by shorter values",
                    most - page.page_len
                ))));
            }
            return false;
        }
        let buf = &mut progress.buf;
        if progress.rows > 0 {
            buf.push(b',');
        }
        page.writer.write(buf, row);
        progress.rows += 1;
        let keys = |row: &dyn Row| {
            (cursor.selected..cursor.selected + cursor.sort_keys)
                .map(|i| SqlValue::from(row.cell(i)))
                .collect()
        };
        if progress.rows == page.page_len || progress.extending {
            // a page may end only where the next page's token stays small
            progress.extending = sort_bytes(row, cursor) > MAX_TOKEN_SORT_BYTES;
            if !progress.extending {
                progress.page_end = keys(row);
            }
        }
        if progress.rows >= page.page_len {
            // where a next statement continues if this one reaches its limit first
            progress.resume_at = keys(row);
        }
        if progress.buf.len() >= CHUNK {
            progress.started();
            let chunk = Bytes::from(std::mem::replace(
                &mut progress.buf,
                Vec::with_capacity(CHUNK + 4096),
            ));
            let len = chunk.len() as u64;
            match runtime.block_on(tx.send_timeout(Ok(chunk), HOLD)) {
                Ok(()) => progress.bytes += len,
                Err(SendTimeoutError::Closed(_)) => {
                    outcome = Some(Segment::ClientGone);
                    return false;
                }
                Err(SendTimeoutError::Timeout(chunk)) => {
                    progress.resume_at = keys(row);
                    outcome = Some(Segment::Paused(chunk.expect("a chunk")));
                    return false;
                }
            }
        }
        true
    });
    if let Err(e) = result {
        return Segment::Failed(e);
    }
    if let Some(outcome) = outcome {
        return outcome;
    }
    if !progress.has_more && progress.rows - rows_before == limit && progress.rows < most {
        return Segment::Continue;
    }
    finish(page, progress)
}

/// The end of a page whose rows are all written: `]`, the next link when more follow, `}`.
fn finish(page: &Page, progress: &mut Progress) -> Segment {
    if progress.statements > 1 {
        // the page was read by several statements: they must all have seen one snapshot
        match page.store.tenant(&page.audit.tenant) {
            Ok(Some(t)) if t.generation == page.token_template.generation => {}
            Ok(_) => {
                return Segment::Failed(StoreError::Query(
                    "the data was republished while a slow client read a page".into(),
                ))
            }
            Err(e) => return Segment::Failed(e),
        }
    }
    let mut buf = std::mem::take(&mut progress.buf);
    buf.push(b']');
    let more_allowed = page.remaining.is_none_or(|r| r > progress.rows);
    if progress.has_more && more_allowed {
        let token = PageToken {
            after: std::mem::take(&mut progress.page_end),
            remaining: page.remaining.map(|r| r - progress.rows),
            ..page.token_template.clone()
        };
        buf.extend_from_slice(b",\"@odata.nextLink\":");
        let link = format!("{}{}", page.next_link_base, page.signer.encode(&token));
        odata::json::write_string(&mut buf, &link);
    } else if let Some(link) = &page.delta_link {
        buf.extend_from_slice(b",\"@odata.deltaLink\":");
        odata::json::write_string(&mut buf, link);
    }
    buf.push(b'}');
    Segment::Finished(Bytes::from(buf))
}
