//! Reading an HTTP answer's body within a cap, as it streams in: never more than the cap is held,
//! whatever the server announces or sends.

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// The body passed the cap: `announced` is its `Content-Length`, when that said so before a
    /// byte was read.
    TooLarge { announced: Option<u64> },
    /// The connection failed (a reset, a close before the announced length, a timeout) before
    /// the body was complete: a transport failure like a failed connect, worth another attempt.
    Cut(reqwest::Error),
}

/// At most this much is reserved up front from a `Content-Length`: a server may announce a
/// large body and send nothing.
const RESERVE_AT_MOST: u64 = 16 * 1024 * 1024;

/// The whole body, or why not: larger than `max` bytes, or cut short.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max: u64,
) -> Result<Vec<u8>, BodyError> {
    let announced = response.content_length();
    if let Some(length) = announced.filter(|length| *length > max) {
        return Err(BodyError::TooLarge {
            announced: Some(length),
        });
    }
    let reserve = announced.unwrap_or(0).min(RESERVE_AT_MOST);
    let mut body = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Cut)? {
        if (body.len() + chunk.len()) as u64 > max {
            return Err(BodyError::TooLarge { announced: None });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `max` bytes of an error answer's body, for an excerpt in a message; the rest, or a
/// failure to read it, is ignored.
pub(crate) async fn read_prefix(mut response: reqwest::Response, max: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = max.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= max {
            break;
        }
    }
    body
}

/// A reqwest error that cut a body short, for a message: its causes (the reset, the early
/// close), without reqwest's own summary, which calls any failure while reading a body a
/// decoding error. A time-out is described by `timed_out`, which knows the setting.
pub(crate) fn describe_cut(
    error: reqwest::Error,
    timed_out: impl FnOnce(reqwest::Error) -> String,
) -> String {
    if error.is_timeout() {
        return format!("the answer was cut short: {}", timed_out(error));
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.iter().any(|seen: &String| seen.contains(&text)) {
            causes.push(text);
        }
        source = cause.source();
    }
    let detail = if causes.is_empty() {
        error.without_url().to_string()
    } else {
        causes.join(": ")
    };
    format!("the answer was cut short: {detail}")
}
