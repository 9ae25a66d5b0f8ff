//! The event mode of `hrsync run`: the webhook endpoint ([`endpoint`], `[events]`) on its own
//! listener, the changed-since run ([`changes`], `schedule.changes`), and the worker
//! ([`worker`]) that syncs the employees either names.

mod changes;
mod endpoint;
pub(crate) mod worker;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper::Request;
use hyper::body::Incoming;
use tokio::net::TcpListener;

use super::RunError;
use super::clock::Clock;
use super::http;
use crate::config::Config;
use crate::metrics::EventTotals;
use endpoint::Endpoint;
use worker::Shared;

/// The counters the endpoint and the worker keep, with every configured source at 0; `None`
/// when neither `[events]` nor `schedule.changes` is configured.
pub(crate) fn totals(config: &Config) -> Option<Arc<Mutex<EventTotals>>> {
    let changes = changes_schedule(config).is_some();
    let events = config.operations.events.as_ref();
    if events.is_none() && !changes {
        return None;
    }
    let mut sources: Vec<String> = events
        .map(|e| e.sources.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    if changes {
        sources.push(worker::CHANGES.to_string());
    }
    Some(Arc::new(Mutex::new(EventTotals {
        sources,
        ..EventTotals::default()
    })))
}

fn changes_schedule(config: &Config) -> Option<crate::schedule::Schedule> {
    config.operations.schedule.as_ref()?.changes.clone()
}

/// Starts the worker, the changes run when `schedule.changes` is set, and the events endpoint
/// when `[events]` is.
pub(crate) async fn start(
    config: Arc<Config>,
    clock: Clock,
    shared: Shared,
) -> Result<(), RunError> {
    if let Some(schedule) = changes_schedule(&config) {
        tokio::spawn(changes::poll(
            config.clone(),
            clock.clone(),
            schedule,
            shared.queue.clone(),
            shared.stop.clone(),
        ));
    }
    if config.operations.events.is_some() {
        serve(config.clone(), clock.clone(), &shared).await?;
    }
    tokio::spawn(worker::work(config, clock, shared));
    Ok(())
}

/// Reads the sources' keys and the TLS files, binds `events.listen` and serves it. Every
/// failure is at start-up: a key that cannot be read, a certificate that does not load, an
/// address in use.
async fn serve(config: Arc<Config>, clock: Clock, shared: &Shared) -> Result<SocketAddr, RunError> {
    let Some(events) = config.operations.events.clone() else {
        return Err(RunError::Config("  - events: not configured".to_string()));
    };
    let setup = |what: String| RunError::Config(format!("  - {what}"));
    let endpoint = Endpoint::new(
        &events,
        shared.queue.clone(),
        shared.totals.clone(),
        clock.clone(),
    )
    .map_err(setup)?;
    let tls = match &events.tls {
        Some((cert, key)) => {
            Some(http::tls(cert, key).map_err(|e| setup(format!("events.tls_cert: {e}")))?)
        }
        None => None,
    };
    let listener = TcpListener::bind(events.listen)
        .await
        .map_err(|source| RunError::Setup {
            what: format!("cannot serve events on {} (events.listen)", events.listen),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| RunError::Setup {
        what: "cannot read the events listener's address".to_string(),
        source,
    })?;
    tracing::info!(
        address = %local,
        tls = tls.is_some(),
        sources = events.sources.len(),
        "serving events on /events/<source>"
    );
    let endpoint = Arc::new(endpoint);
    let handle = move |request: Request<Incoming>| {
        let endpoint = endpoint.clone();
        async move { endpoint.answer(request).await }
    };
    tokio::spawn(http::serve_with(
        listener,
        http::Limits::default(),
        tls,
        handle,
    ));
    Ok(local)
}
