//! `apply` on a terminal asks before it changes anything, as terraform's apply does: the plan
//! is on the screen, and nothing is applied unless the person types `yes`. Off a terminal
//! (cron, CI, a pipe) it never asks; `--yes` skips the question on a terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use super::RunError;
use super::pipeline::{Execution, stop_requested};
use crate::config::Config;
use crate::plan::Plan;

/// How long the question waits at most. The run lease is held meanwhile (no scheduled run can
/// apply), so a person who walked away must not block the others for long.
const LONGEST_WAIT: Duration = Duration::from_secs(10 * 60);

/// Whether `apply` asks: a person at a terminal (stdin and stdout) who did not say `--yes`.
pub(crate) fn wanted(yes: bool) -> bool {
    !yes && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Asks whether to apply `plan`, already printed above. `Ok` only for the answer `yes`; no
/// answer in time, a closed stdin or a stop (Ctrl-C) refuses, and nothing is applied.
pub(crate) async fn ask(
    config: &Config,
    plan: &Plan,
    execution: &Execution<'_>,
) -> Result<(), RunError> {
    // The question must not outlive `directory.max_apply_secs`: an answer after it would apply
    // nothing anyway.
    let wait = execution.deadline.map_or(LONGEST_WAIT, |deadline| {
        deadline
            .at
            .saturating_duration_since(Instant::now())
            .min(LONGEST_WAIT)
    });
    print!(
        "\nApply these {} change(s) to {}? ({})\nOnly `yes` applies them; anything else, or no \
         answer within {} s, applies nothing: ",
        plan.summary.changes,
        config.directory.url,
        crate::render::lifecycle_counts(&plan.summary),
        wait.as_secs()
    );
    let _ = std::io::stdout().flush();
    let refused = |why: &str| RunError::NotConfirmed(why.to_string());
    tokio::select! {
        answer = read_answer() => match answer.as_deref().map(str::trim) {
            Some("yes") => Ok(()),
            Some(_) => Err(refused("the answer was not `yes`")),
            None => Err(refused("stdin closed before an answer")),
        },
        () = tokio::time::sleep(wait) => {
            println!();
            Err(refused(&format!("no answer within {} s", wait.as_secs())))
        }
        () = stop_requested(execution.stop.as_ref()) => {
            println!();
            Err(refused("stopped (SIGINT or SIGTERM) at the question"))
        }
    }
}

/// One line from stdin, read on a thread of its own: a blocking read on the runtime's thread
/// would stall the directory connection, and a detached thread (unlike a blocking task) does
/// not keep the process alive once the answer no longer matters.
async fn read_answer() -> Option<String> {
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("confirm".into())
        .spawn(move || {
            let mut line = String::new();
            let read = std::io::stdin().lock().read_line(&mut line);
            let _ = send.send(matches!(read, Ok(n) if n > 0).then_some(line));
        })
        .ok()?;
    receive.await.ok().flatten()
}
