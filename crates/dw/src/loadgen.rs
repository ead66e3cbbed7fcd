//! The load `dw bench` puts on a server over real HTTP: exports that follow `@odata.nextLink`
//! (on one keep-alive connection, as Power BI, PowerShell and .NET's HttpClient do, or on a new
//! connection per page), and a mix of requests sent by many keep-alive connections at once.

use crate::error::{CliError, CliResult};
use serde::de::IgnoredAny;
use std::time::{Duration, Instant};

/// An HTTP client with the benchmark's bearer token.
pub struct Client {
    agent: ureq::Agent,
    authorization: String,
}

impl Client {
    /// A client that keeps its connection open between requests.
    pub fn keep_alive(token: &str) -> Self {
        Self::with_idle_connections(token, 4)
    }

    /// A client that opens a new connection for every request.
    pub fn fresh_connections(token: &str) -> Self {
        Self::with_idle_connections(token, 0)
    }

    fn with_idle_connections(token: &str, idle: usize) -> Self {
        let agent = ureq::Agent::config_builder()
            .max_idle_connections(idle)
            .max_idle_connections_per_host(idle)
            .build()
            .new_agent();
        Self {
            agent,
            authorization: format!("Bearer {token}"),
        }
    }

    /// `GET url` read to its end: the body and the time from sending to the last byte.
    pub fn get(&self, url: &str) -> CliResult<(Vec<u8>, Duration)> {
        let started = Instant::now();
        let mut response = self
            .agent
            .get(url)
            .header("Accept-Encoding", "identity")
            .header("Authorization", &self.authorization)
            .call()
            .map_err(|e| CliError::Failed(format!("{url}: {e}")))?;
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| CliError::Failed(format!("{url}: {e}")))?;
        Ok((body, started.elapsed()))
    }
}

impl Client {
    /// The `ETag` of the answer to `url`, if it has one.
    pub fn etag(&self, url: &str) -> CliResult<Option<String>> {
        let response = self
            .agent
            .get(url)
            .header("Authorization", &self.authorization)
            .call()
            .map_err(|e| CliError::Failed(format!("{url}: {e}")))?;
        Ok(response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string))
    }

    /// A conditional GET of `url` naming `etag` (`If-None-Match`): its status and how long it
    /// took.
    pub fn revalidate(&self, url: &str, etag: &str) -> CliResult<(u16, Duration)> {
        let started = Instant::now();
        let mut response = self
            .agent
            .get(url)
            .header("Authorization", &self.authorization)
            .header("If-None-Match", etag)
            .call()
            .map_err(|e| CliError::Failed(format!("{url}: {e}")))?;
        let status = response.status().as_u16();
        response
            .body_mut()
            .read_to_vec()
            .map_err(|e| CliError::Failed(format!("{url}: {e}")))?;
        Ok((status, started.elapsed()))
    }
}

/// What an export through every page of a collection took.
pub struct Export {
    /// Rows read.
    pub rows: u64,
    /// Pages read.
    pub pages: u64,
    /// Bytes of JSON read.
    pub bytes: u64,
    /// From the first request to the last page read (with the client's own work).
    pub wall: Duration,
    /// Request to last byte, summed over the pages: the server's part.
    pub served: Duration,
    /// The URL of every page, in order.
    pub links: Vec<String>,
}

/// The parts of a page the export needs; rows are skipped without being built.
#[derive(serde::Deserialize)]
struct Page {
    value: Vec<IgnoredAny>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Reads every page of a collection from `first`, following `@odata.nextLink`.
pub fn export(client: &Client, first: &str) -> CliResult<Export> {
    let mut out = Export {
        rows: 0,
        pages: 0,
        bytes: 0,
        wall: Duration::ZERO,
        served: Duration::ZERO,
        links: Vec::new(),
    };
    let started = Instant::now();
    let mut url = Some(first.to_string());
    while let Some(u) = url.take() {
        let (body, took) = client.get(&u)?;
        let page: Page =
            serde_json::from_slice(&body).map_err(|e| CliError::Failed(format!("{u}: {e}")))?;
        out.served += took;
        out.bytes += body.len() as u64;
        out.pages += 1;
        out.rows += page.value.len() as u64;
        out.links.push(u);
        url = page.next_link;
    }
    out.wall = started.elapsed();
    Ok(out)
}

/// A request of a workload.
pub struct Request {
    /// What it is, for the report.
    pub name: String,
    /// URLs to send, in turn (one, or many keys of a lookup).
    pub urls: Vec<String>,
}

/// Figures of one request of a workload.
pub struct Figures {
    /// What it is.
    pub name: String,
    /// Requests answered.
    pub answered: usize,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// Sends `requests` from `connections` keep-alive connections at once for `duration`, each
/// connection going round the list from its own starting point; returns the figures per
/// request and the requests answered per second in all. Errors stop the run.
pub fn workload(
    token: &str,
    requests: &[Request],
    connections: usize,
    duration: Duration,
) -> CliResult<(Vec<Figures>, f64)> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let samples = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|worker| {
                scope.spawn(move || -> CliResult<Vec<Vec<Duration>>> {
                    let client = Client::keep_alive(token);
                    let mut mine = vec![Vec::new(); requests.len()];
                    let mut turn = worker;
                    while Instant::now() < deadline {
                        let which = turn % requests.len();
                        let urls = &requests[which].urls;
                        let url = &urls[(turn / requests.len()) % urls.len()];
                        mine[which].push(client.get(url)?.1);
                        turn += 1;
                    }
                    Ok(mine)
                })
            })
            .collect();
        let mut all = vec![Vec::new(); requests.len()];
        for w in workers {
            let mine = w
                .join()
                .map_err(|_| CliError::Failed("a load thread panicked".into()))??;
            for (into, from) in all.iter_mut().zip(mine) {
                into.extend(from);
            }
        }
        Ok::<_, CliError>(all)
    })?;
    let secs = started.elapsed().as_secs_f64();
    let total: usize = samples.iter().map(Vec::len).sum();
    let figures = requests
        .iter()
        .zip(samples)
        .map(|(r, mut s)| Figures {
            name: r.name.clone(),
            answered: s.len(),
            p50: quantile(&mut s, 0.5),
            p99: quantile(&mut s, 0.99),
        })
        .collect();
    Ok((figures, total as f64 / secs))
}

/// The `p` quantile (0..=1) of `samples` (zero when there are none).
pub fn quantile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let i = ((samples.len().max(1) as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or_default()
}

/// [`quantile`] in milliseconds.
pub fn quantile_ms(samples: &mut [Duration], p: f64) -> f64 {
    quantile(samples, p).as_secs_f64() * 1000.0
}

/// Keys spread over `1..=n`, the same on every run.
pub fn spread_keys(n: u32, count: usize) -> Vec<u32> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % u64::from(n.max(1))) as u32 + 1
        })
        .collect()
}
