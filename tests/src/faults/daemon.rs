//! The daemon as an OS process: started with the suite's settings, killed, or stopped with
//! SIGTERM; its log goes to a file the suite shows when something fails.

use std::{
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::process::{Child, Command};

/// How to start daemons on one outbox and one broker.
#[derive(Clone, Debug)]
pub struct DaemonSpec {
    /// The `tidings` binary.
    pub binary: PathBuf,
    /// The outbox's URL.
    pub outbox: String,
    /// Where in that database the outbox lives (a schema, a database, a table prefix), as
    /// `TIDINGS_…` variables.
    pub place: Vec<(String, String)>,
    /// The broker's bootstrap servers.
    pub bootstrap: String,
    /// Where the daemons' logs go.
    pub logs: PathBuf,
    /// Settings of the scenario's own, as `TIDINGS_…` variables (they override the suite's).
    pub settings: Vec<(&'static str, &'static str)>,
}

/// A running daemon; dropped, it is killed.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    /// Its log file.
    pub log: PathBuf,
}

impl DaemonSpec {
    /// Starts a daemon named `owner` in leases. Leases are short (3 s) so that the rows a killed
    /// daemon held come back soon, and retries go on for as long as an outage lasts.
    pub fn start(&self, owner: &str) -> Daemon {
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let start = STARTS.fetch_add(1, Ordering::Relaxed);
        let log = self.logs.join(format!("{owner}-{start}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the daemon's log");
        let child = Command::new(&self.binary)
            .args(["--outbox", &self.outbox, "relay", "--broker"])
            .arg(format!("kafka://{}", self.bootstrap))
            .envs(self.place.iter().map(|(k, v)| (k, v)))
            .env("TIDINGS_RELAY__OWNER", owner)
            .env("TIDINGS_RELAY__LEASE", "3s")
            .env("TIDINGS_RELAY__POLL_INTERVAL", "100ms")
            .env("TIDINGS_RELAY__RETRY__MAX_ATTEMPTS", "100000")
            .env("TIDINGS_RELAY__RETRY__INITIAL_DELAY", "100ms")
            .env("TIDINGS_RELAY__RETRY__MAX_DELAY", "1s")
            .envs(self.settings.iter().copied())
            .env_remove("TIDINGS_OUTBOX")
            .env_remove("TIDINGS_BROKER")
            .stdout(Stdio::null())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("start the daemon");
        Daemon { child, log }
    }
}

impl Daemon {
    /// SIGKILL: no chance to release its leases or finish its batch.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill the daemon");
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("poll the daemon").is_none()
    }

    /// SIGTERM once the relay has started (a process given SIGTERM in its first milliseconds,
    /// before it listens for signals, dies of it), then its exit, which must come within
    /// `limit`.
    pub async fn terminate(mut self, limit: Duration) -> ExitStatus {
        let log = self.log.clone();
        tidings_testkit::eventually(
            "the daemon to start",
            Duration::from_secs(30),
            Duration::from_millis(20),
            || {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                std::future::ready(text.contains("relay started").then_some(()))
            },
        )
        .await;
        let pid = self.child.id().expect("a running daemon");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        assert!(sent.success(), "kill -TERM {pid} failed");
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the daemon did not exit within {limit:?} of SIGTERM"))
            .expect("wait for the daemon")
    }
}

/// The last lines of a daemon's log, for a failure message.
pub(super) fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The signs of an outage in a daemon's log: the relay's own (a failure logged once per
/// outage), and the connection pool's and the LISTEN connection's (which reconnect without the
/// relay seeing an error); and the relay's recoveries.
pub(super) fn outages(log: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let count = |needles: &[&str]| {
        text.lines()
            .filter(|line| needles.iter().any(|needle| line.contains(needle)))
            .count()
    };
    let failures = count(&[
        "trying again until it works",
        "connection lost",
        "terminating connection",
    ]);
    (failures, count(&["works again"]))
}
