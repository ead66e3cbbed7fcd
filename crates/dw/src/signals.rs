//! Process signals, registered once before the server announces itself, so a supervisor's
//! SIGTERM or SIGHUP can never arrive to the default action (which would kill the process).
//! SIGTERM and SIGINT start a graceful shutdown; SIGHUP is broadcast to the reloaders
//! (clients, users, signing keys, TLS certificate).

use crate::error::{CliError, CliResult};
use std::future::Future;
use tokio::sync::{broadcast, watch};

/// Registered signal handlers.
pub struct Signals {
    stop: watch::Receiver<bool>,
    hangup: broadcast::Sender<()>,
}

impl Signals {
    /// Registers the handlers now; must be called inside the runtime.
    pub fn install() -> CliResult<Self> {
        let (stop_tx, stop) = watch::channel(false);
        let (hangup, _) = broadcast::channel(8);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let err = |e| CliError::io_doing("cannot install signal handlers")(e);
            let mut term = signal(SignalKind::terminate()).map_err(err)?;
            let mut int = signal(SignalKind::interrupt()).map_err(err)?;
            let mut hup = signal(SignalKind::hangup()).map_err(err)?;
            let hangups = hangup.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = term.recv() => break,
                        _ = int.recv() => break,
                        _ = hup.recv() => {
                            let _ = hangups.send(());
                        }
                    }
                }
                tracing::info!("shutting down: finishing in-flight requests");
                let _ = stop_tx.send(true);
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        });
        Ok(Self { stop, hangup })
    }

    /// Resolves when the process is asked to stop.
    pub fn shutdown(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.clone();
        async move {
            while !*rx.borrow() {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        }
    }

    /// A subscription to SIGHUP.
    pub fn hangups(&self) -> broadcast::Receiver<()> {
        self.hangup.subscribe()
    }
}
