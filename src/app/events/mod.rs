//! The event mode of `hrsync run` (`[events]`): the webhook endpoint ([`endpoint`]) on its own
//! listener, and the worker ([`worker`]) that syncs the employees the events name.

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

/// The counters the endpoint and the worker keep, with every configured source at 0.
pub(crate) fn totals(config: &Config) -> Option<Arc<Mutex<EventTotals>>> {
    let events = config.operations.events.as_ref()?;
    Some(Arc::new(Mutex::new(EventTotals {
        sources: events.sources.iter().map(|s| s.name.clone()).collect(),
        ..EventTotals::default()
    })))
}

/// Reads the sources' keys and the TLS files, binds `events.listen` and starts serving it and
/// the worker. Every failure is at start-up: a key that cannot be read, a certificate that
/// does not load, an address in use.
pub(crate) async fn start(
    config: Arc<Config>,
    clock: Clock,
    shared: Shared,
) -> Result<SocketAddr, RunError> {
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
    tokio::spawn(worker::work(config, clock, shared));
    Ok(local)
}
