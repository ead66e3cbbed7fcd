//! Streaming a page of a collection: rows go from the statement cursor into fixed-size chunks
//! sent through a bounded channel to the response body, so memory use does not depend on the
//! page or collection size and a client that goes away stops the query.

use crate::paging::{PageToken, TokenSigner};
use crate::{ApiError, ApiResult};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use odata::json::{Cell, EntityWriter};
use odata::{ErrorKind, ODataError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use warehouse::sql::{Plan, SqlValue};
use warehouse::{Store, StoreError};

/// Bytes per chunk handed to the socket.
const CHUNK: usize = 64 * 1024;
/// Chunks buffered between the database thread and the socket.
const CHANNEL_DEPTH: usize = 4;

/// Everything needed to write one page.
pub(crate) struct Page {
    pub store: Arc<dyn Store>,
    pub plan: Plan,
    pub writer: EntityWriter,
    pub want_count: bool,
    pub context: Option<String>,
    pub page_len: u64,
    pub remaining: Option<u64>,
    pub next_link_base: String,
    pub token_template: PageToken,
    pub signer: TokenSigner,
    pub request_id: String,
    pub collection: String,
    pub audit: crate::authn::Audit,
}

/// Marks a response whose log line is written when its stream ends.
#[derive(Clone, Copy)]
pub(crate) struct Streamed;

/// Starts the page and answers once the statement is running (so store errors still become
/// proper error responses), then streams the rest.
pub(crate) async fn respond(page: Page) -> ApiResult<Response> {
    let (start_tx, start_rx) = oneshot::channel::<Result<(), StoreError>>();
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || run(page, start_tx, tx));
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
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut resp = Response::new(body);
    resp.extensions_mut().insert(Streamed);
    Ok(resp)
}

fn owned(cell: Cell<'_>) -> SqlValue {
    match cell {
        Cell::Null => SqlValue::Null,
        Cell::Integer(i) => SqlValue::Integer(i),
        Cell::Real(f) => SqlValue::Real(f),
        Cell::Text(s) => SqlValue::Text(s.to_string()),
    }
}

fn run(
    page: Page,
    start_tx: oneshot::Sender<Result<(), StoreError>>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let started_at = Instant::now();
    let mut start = Some(start_tx);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    buf.push(b'{');
    let mut first_member = true;
    if let Some(ctx) = &page.context {
        buf.extend_from_slice(b"\"@odata.context\":");
        odata::json::write_string(&mut buf, ctx);
        first_member = false;
    }
    if page.want_count {
        match page.store.count(&page.plan.count) {
            Ok(n) => {
                if !first_member {
                    buf.push(b',');
                }
                buf.extend_from_slice(b"\"@odata.count\":");
                odata::json::write_integer(&mut buf, n as i64);
                first_member = false;
            }
            Err(e) => {
                let _ = start.take().map(|s| s.send(Err(e)));
                return;
            }
        }
    }
    if !first_member {
        buf.push(b',');
    }
    buf.extend_from_slice(b"\"value\":[");
    let cursor = &page.plan.cursor;
    let mut rows: u64 = 0;
    let mut has_more = false;
    let mut last_keys: Vec<SqlValue> = Vec::new();
    let mut client_gone = false;
    let result = page.store.stream(&page.plan.rows, &mut |row| {
        if rows == page.page_len {
            has_more = true;
            return false;
        }
        if rows > 0 {
            buf.push(b',');
        }
        page.writer.write(&mut buf, row);
        rows += 1;
        if rows == page.page_len {
            last_keys = (cursor.selected..cursor.selected + cursor.sort_keys)
                .map(|i| owned(row.cell(i)))
                .collect();
        }
        if buf.len() >= CHUNK {
            if let Some(s) = start.take() {
                let _ = s.send(Ok(()));
            }
            let chunk = Bytes::from(std::mem::replace(
                &mut buf,
                Vec::with_capacity(CHUNK + 4096),
            ));
            if tx.blocking_send(Ok(chunk)).is_err() {
                client_gone = true;
                return false;
            }
        }
        true
    });
    let status = match result {
        Err(e) => match start.take() {
            Some(s) => {
                let _ = s.send(Err(e));
                return;
            }
            None => {
                tracing::error!(request_id = %page.request_id, error = %e, "store error in the middle of a stream; aborting the response");
                let _ = tx.blocking_send(Err(std::io::Error::other("store error")));
                "aborted"
            }
        },
        Ok(()) if client_gone => "client-gone",
        Ok(()) => {
            buf.push(b']');
            let more_allowed = page.remaining.is_none_or(|r| r > page.page_len);
            if has_more && more_allowed {
                let token = PageToken {
                    after: last_keys,
                    remaining: page.remaining.map(|r| r - page.page_len),
                    ..page.token_template.clone()
                };
                buf.extend_from_slice(b",\"@odata.nextLink\":");
                let link = format!("{}{}", page.next_link_base, page.signer.encode(&token));
                odata::json::write_string(&mut buf, &link);
            }
            buf.push(b'}');
            if let Some(s) = start.take() {
                let _ = s.send(Ok(()));
            }
            let _ = tx.blocking_send(Ok(Bytes::from(buf)));
            "complete"
        }
    };
    tracing::info!(
        request_id = %page.request_id,
        tenant = %page.audit.tenant,
        client_id = %page.audit.client_id,
        subject = %page.audit.subject,
        collection = %page.collection,
        rows,
        stream = status,
        duration_ms = started_at.elapsed().as_millis() as u64,
        "request"
    );
}
