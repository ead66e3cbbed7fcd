//! The connection pool's manager. Checking a connection with a round trip every time it is
//! taken from the pool costs two round trips a request (its tenant, its query), so a connection
//! is checked only when it has rested in the pool for [`CHECK_AFTER_IDLE`], or went back to it
//! before a connection was last found lost ([`Lost`]): a server restart shows there, and the
//! store runs a request whose connection turned out lost once more ([`super::PostgresStore`]).

use postgres::{Client, Config, Error};
use r2d2::ManageConnection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long a connection may rest in the pool and still be taken without a check.
pub const CHECK_AFTER_IDLE: Duration = Duration::from_secs(2);

/// When a connection was last found lost, shared by the pool's manager and the store.
#[derive(Clone)]
pub struct Lost {
    epoch: Instant,
    /// Microseconds after `epoch`; 0 before any.
    at: Arc<AtomicU64>,
}

impl Lost {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            at: Arc::new(AtomicU64::new(0)),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64 + 1
    }

    /// A connection was found lost: every connection in the pool is checked before its next use.
    pub fn mark(&self) {
        self.at.store(self.now(), Ordering::Relaxed);
    }
}

/// A pooled connection and when it last went back to the pool.
pub struct Session {
    client: Client,
    /// Microseconds after [`Lost`]'s epoch.
    returned: u64,
    /// Closed instead of going back to the pool ([`Session::discard`]).
    discarded: bool,
}

impl Session {
    /// Closes this connection when it would go back to the pool. For a connection a cancel
    /// request may have been sent for: PostgreSQL signals the backend after the request's own
    /// connection has closed, so a cancel can land on whatever statement the backend runs next,
    /// another client's; a closed backend takes it with it.
    pub fn discard(&mut self) {
        self.discarded = true;
    }
}

impl std::ops::Deref for Session {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Opens connections with the store's configuration and TLS connector.
pub struct Connections {
    config: Config,
    tls: MakeRustlsConnect,
    lost: Lost,
}

impl Connections {
    /// Connections to the server `config` names, over `tls`.
    pub fn new(config: Config, tls: MakeRustlsConnect) -> Self {
        Self {
            config,
            tls,
            lost: Lost::new(),
        }
    }

    /// Where the store marks a lost connection.
    pub fn lost(&self) -> Lost {
        self.lost.clone()
    }
}

impl ManageConnection for Connections {
    type Connection = Session;
    type Error = Error;

    fn connect(&self) -> Result<Session, Error> {
        Ok(Session {
            client: self.config.connect(self.tls.clone())?,
            returned: self.lost.now(),
            discarded: false,
        })
    }

    fn is_valid(&self, session: &mut Session) -> Result<(), Error> {
        let rested = Duration::from_micros(self.lost.now().saturating_sub(session.returned));
        let after_loss = session.returned > self.lost.at.load(Ordering::Relaxed);
        if rested < CHECK_AFTER_IDLE && after_loss && !session.client.is_closed() {
            return Ok(());
        }
        session.client.simple_query("").map(|_| ())
    }

    /// Called as the connection goes back to the pool: notes when; a discarded or closed one
    /// is dropped.
    fn has_broken(&self, session: &mut Session) -> bool {
        session.returned = self.lost.now();
        session.discarded || session.client.is_closed()
    }
}
