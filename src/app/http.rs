//! The HTTP server under hrsync's endpoints (`/metrics`, `/healthz`): hyper's HTTP/1.1, held to
//! what a small unauthenticated endpoint on a shared machine must survive.
//!
//! - At most [`Limits::max_connections`] connections are open at once. The loop waits for a free
//!   slot before it accepts, so a client holding a thousand connections takes that many slots and
//!   no more: the others wait in the kernel's listen queue, holding none of hrsync's file
//!   descriptors, and the run's own connections (the directory, HR, the audit file) never go
//!   short.
//! - A client must send its request headers within [`Limits::header_timeout`], and a connection
//!   lasts [`Limits::connection_timeout`] at most: idle or slow clients free their slot.
//! - One request per connection (no keep-alive): two read-only endpoints need no more, and a slot
//!   comes back as soon as the answer is sent.
//! - An accept that fails (out of file descriptors, most likely) is retried after a pause that
//!   doubles up to a second, rather than at once in a loop that would take a whole core.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How much of hrsync a client may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) connection_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            header_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(10),
        }
    }
}

/// The first and the longest pause after a failed accept.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// A response with a body held in memory.
pub(crate) type Reply = Response<Full<Bytes>>;

/// A response of `status` with `body` as `content_type`.
pub(crate) fn reply(status: StatusCode, content_type: &str, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// The TLS side of a listener: a certificate chain and its key, read once at the start.
pub(crate) type Tls = tokio_rustls::TlsAcceptor;

/// A TLS acceptor for the PEM certificate chain at `cert` and the PEM private key at `key`
/// (TLS 1.2 and 1.3, aws-lc-rs), or an error naming the file and what is wrong with it.
pub(crate) fn tls(cert: &std::path::Path, key: &std::path::Path) -> Result<Tls, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: holds no certificate", cert.display()));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("{}: not a PEM private key: {e}", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            format!(
                "{} and {}: the key does not fit the certificate: {e}",
                cert.display(),
                key.display()
            )
        })?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `handle` on `listener` until the process ends. Each request is answered by `handle`;
/// everything else (limits, timeouts, errors) is this module's.
pub(crate) async fn serve<H, F>(listener: TcpListener, limits: Limits, handle: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    serve_with(listener, limits, None, handle).await;
}

/// [`serve`], over TLS when `tls` is given: the handshake must finish within the header
/// timeout, and a client that fails it is dropped like any other bad connection.
pub(crate) async fn serve_with<H, F>(
    listener: TcpListener,
    limits: Limits,
    tls: Option<Tls>,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut pause = ACCEPT_BACKOFF.0;
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                pause = ACCEPT_BACKOFF.0;
                stream
            }
            Err(error) => {
                tracing::warn!(%error, pause_ms = pause.as_millis() as u64, "cannot accept a connection; pausing");
                drop(slot);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(ACCEPT_BACKOFF.1);
                continue;
            }
        };
        let handle = handle.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // A connection that outlives its time is dropped, and with it the socket.
            let connection = async {
                match tls {
                    None => converse(stream, limits, handle).await,
                    Some(tls) => {
                        let handshake =
                            tokio::time::timeout(limits.header_timeout, tls.accept(stream));
                        if let Ok(Ok(stream)) = handshake.await {
                            converse(stream, limits, handle).await;
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(limits.connection_timeout, connection).await;
            drop(slot);
        });
    }
}

/// One request on `stream`, answered by `handle`.
async fn converse<S, H, F>(stream: S, limits: Limits, handle: H)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let service = service_fn(move |request| {
        let answer = handle(request);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(false)
        .max_buf_size(16 * 1024)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    async fn server(limits: Limits) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(
            listener,
            limits,
            |request: Request<Incoming>| async move {
                reply(
                    StatusCode::OK,
                    "text/plain",
                    format!("you asked for {}\n", request.uri().path()),
                )
            },
        ));
        addr
    }

    /// Sends `request` and reads until the server closes the connection.
    fn exchange(addr: std::net::SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    fn limits(max_connections: usize) -> Limits {
        Limits {
            max_connections,
            header_timeout: Duration::from_millis(300),
            connection_timeout: Duration::from_secs(2),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn answers_one_request_and_closes() {
        let addr = server(limits(4)).await;
        let answer = tokio::task::spawn_blocking(move || {
            exchange(addr, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        })
        .await
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("you asked for /healthz\n"), "{answer}");
        assert!(
            answer.to_lowercase().contains("connection: close"),
            "{answer}"
        );
        let head = tokio::task::spawn_blocking(move || {
            exchange(addr, "HEAD /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        })
        .await
        .unwrap();
        assert!(!head.contains("you asked"), "HEAD has no body: {head}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_client_that_sends_no_request_loses_its_connection_at_the_header_timeout() {
        let addr = server(limits(4)).await;
        let closed = tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut rest = Vec::new();
            // Some hyper versions answer 408 before closing; either way the read ends.
            stream.read_to_end(&mut rest).is_ok()
        })
        .await
        .unwrap();
        assert!(closed, "the idle connection was not closed within 10 s");
    }

    /// With every slot held by idle clients, a real request waits for a slot (an idle client
    /// times out) and is answered: never refused, never served beyond the cap.
    #[tokio::test(flavor = "multi_thread")]
    async fn held_slots_delay_a_request_but_do_not_lose_it() {
        let addr = server(limits(2)).await;
        let answer = tokio::task::spawn_blocking(move || {
            let _idle: Vec<TcpStream> = (0..6).map(|_| TcpStream::connect(addr).unwrap()).collect();
            exchange(addr, "GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        })
        .await
        .unwrap();
        assert!(answer.ends_with("you asked for /metrics\n"), "{answer}");
    }
}
