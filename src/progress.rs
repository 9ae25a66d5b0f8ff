//! A one-line progress display on stderr for long runs: HR pages fetched, then steps applied
//! of the total. Only when stderr is a terminal; log lines clear it and it redraws after them.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// Whether a progress line is on the screen (to be cleared before a log line).
static SHOWN: AtomicBool = AtomicBool::new(false);

/// Whether progress is shown at all: stderr is a terminal.
pub fn enabled() -> bool {
    std::io::stderr().is_terminal()
}

/// Whether text on stderr may carry colour codes: only on a terminal (a pipe or a log file
/// would keep them as junk bytes), and not when `NO_COLOR` is set to anything non-empty
/// (<https://no-color.org>).
pub fn colour() -> bool {
    enabled() && !no_color()
}

/// [`colour`] for stdout: the plan printed on a terminal.
pub fn stdout_colour() -> bool {
    std::io::stdout().is_terminal() && !no_color()
}

/// `NO_COLOR` set to anything non-empty (<https://no-color.org>).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

fn draw(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{text}");
    let _ = err.flush();
    SHOWN.store(true, Ordering::SeqCst);
}

/// Clears the progress line, if one is shown.
pub fn clear() {
    if SHOWN.swap(false, Ordering::SeqCst) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// Steps applied of a total.
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    total: usize,
    done: AtomicUsize,
    started: Instant,
    /// Milliseconds since `started` of the last redraw (at most ten a second).
    last_draw: AtomicU64,
}

impl Progress {
    /// `None` when stderr is not a terminal or there is nothing to apply.
    pub fn steps(total: usize) -> Option<Self> {
        (enabled() && total > 0).then(|| Self {
            inner: Arc::new(Inner {
                total,
                done: AtomicUsize::new(0),
                started: Instant::now(),
                last_draw: AtomicU64::new(0),
            }),
        })
    }

    /// Counts one step done (for [`crate::apply::Control::on_step`]).
    pub fn callback(&self) -> Arc<dyn Fn() + Send + Sync> {
        let inner = self.inner.clone();
        Arc::new(move || {
            let done = inner.done.fetch_add(1, Ordering::SeqCst) + 1;
            let elapsed = u64::try_from(inner.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let last = inner.last_draw.load(Ordering::SeqCst);
            if done == inner.total || elapsed.saturating_sub(last) >= 100 {
                inner.last_draw.store(elapsed, Ordering::SeqCst);
                draw(&format!("applying: {done}/{} steps", inner.total));
            }
        })
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        clear();
    }
}

/// A tracing layer that shows HR pages as they are read (the HR engine's "HR page read"
/// events) and clears the progress line before any other event is printed.
pub struct ProgressLayer {
    pages: AtomicUsize,
    records: AtomicU64,
    last_page: std::sync::Mutex<Option<Instant>>,
}

impl ProgressLayer {
    pub fn new() -> Self {
        Self {
            pages: AtomicUsize::new(0),
            records: AtomicU64::new(0),
            last_page: std::sync::Mutex::new(None),
        }
    }
}

impl Default for ProgressLayer {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct PageVisitor {
    message: bool,
    records: Option<u64>,
}

impl Visit for PageVisitor {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "records" {
            self.records = Some(value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "records" {
            self.records = u64::try_from(value).ok();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" && format!("{value:?}") == "HR page read" {
            self.message = true;
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" && value == "HR page read" {
            self.message = true;
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ProgressLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut visitor = PageVisitor::default();
        if event.metadata().target().starts_with("hrsync::hr") {
            event.record(&mut visitor);
        }
        if visitor.message {
            let pages = self.pages.fetch_add(1, Ordering::SeqCst) + 1;
            let records = self
                .records
                .fetch_add(visitor.records.unwrap_or(0), Ordering::SeqCst)
                + visitor.records.unwrap_or(0);
            if let Ok(mut last) = self.last_page.lock() {
                if last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
                    *last = Some(Instant::now());
                    draw(&format!("HR: {pages} page(s) fetched, {records} record(s)"));
                }
            }
        } else if *event.metadata().level() <= tracing::Level::INFO {
            clear();
        }
    }
}
