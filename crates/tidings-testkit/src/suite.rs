//! The suites as named tests: every case one libtest-mimic [`Trial`], so `cargo test -p
//! tidings-postgres late_commit` runs one case, a failure names its case in cargo's summary,
//! and nextest runs and retries cases one by one.

use std::{
    any::Any, future::Future, panic::AssertUnwindSafe, pin::Pin, process::ExitCode, sync::Arc,
};

use futures_util::FutureExt;
use libtest_mimic::{Arguments, Failed, Trial};
use tidings_core::{EventPublisher, EventStore};

use crate::{
    conformance, env,
    persistent::{self, Bench},
    publisher::{self, PublisherUnderTest},
    store::MarkerStore,
};

// The futures need not be `Send`: each case runs on a runtime of its own with `block_on`.
// (Asking for `Send` makes rustc look inside sqlx's futures, where it cannot prove it,
// rust-lang/rust#100013.)
type Fresh<T> = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = T>>> + Send + Sync>;

fn boxed<T, F, Fut>(fresh: F) -> Fresh<T>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
{
    Arc::new(move || Box::pin(fresh()))
}

/// The named tests of one test binary (`harness = false`): the suites a backend registers.
///
/// ```no_run
/// // tests/conformance.rs of an adapter, with `harness = false` for it in Cargo.toml.
/// use tidings_core::{MessageId, Result};
/// use tidings_memory::{MemoryBackend, MemoryTransaction};
/// use tidings_testkit::{Capabilities, MarkerStore, Suite};
///
/// #[derive(Clone)]
/// struct Memory(MemoryBackend);
///
/// impl MarkerStore for Memory {
///     type Backend = MemoryBackend;
///
///     fn backend(&self) -> &MemoryBackend {
///         &self.0
///     }
///
///     fn capabilities() -> Capabilities {
///         Capabilities::new()
///     }
///
///     async fn write_marker(&self, tx: &mut MemoryTransaction, marker: &str) -> Result<()> {
///         tx.insert(format!("markers:{marker}"), MessageId::new().to_string(), marker);
///         Ok(())
///     }
///
///     async fn count_markers(&self, marker: &str) -> Result<u64> {
///         Ok(self.0.count(&format!("markers:{marker}")) as u64)
///     }
///
///     async fn reconnect(&self) -> Result<Self> {
///         Ok(self.clone())
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     Suite::new()
///         .conformance(|| async { Memory(MemoryBackend::new()) })
///         .run()
/// }
/// ```
#[must_use = "a suite does nothing until it runs"]
pub struct Suite {
    trials: Vec<Trial>,
    required: Vec<String>,
    prefix: Option<String>,
}

impl Default for Suite {
    fn default() -> Self {
        Self::new()
    }
}

impl Suite {
    /// A suite with no cases yet.
    pub fn new() -> Self {
        Self {
            trials: Vec::new(),
            required: Vec::new(),
            prefix: None,
        }
    }

    /// The cases need the server named by environment variable `var`. Without it every case
    /// is listed as ignored and the run says why; under CI (`CI=true`) the run fails instead.
    pub fn requires(mut self, var: &str) -> Self {
        self.required.push(var.to_owned());
        self
    }

    /// Adds the conformance suite: every case on a fresh, empty store from `fresh`, cleaned up
    /// after the case. Cases that need a capability the backend lacks
    /// ([`MarkerStore::capabilities`]) are listed as ignored.
    pub fn conformance<B, F, Fut>(mut self, fresh: F) -> Self
    where
        B: MarkerStore,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = B> + 'static,
    {
        let fresh = boxed(fresh);
        for case in conformance::cases::<B>() {
            let trial = match case.needs.lacking(&B::capabilities()) {
                // Listed, so the summary shows what this backend does not do, and why when
                // run with --include-ignored.
                Some(reason) => self
                    .named(case.name, move || {
                        println!("not applicable: {reason}");
                        Ok(())
                    })
                    .with_ignored_flag(true),
                None => {
                    let (fresh, run) = (Arc::clone(&fresh), case.run);
                    self.named(case.name, move || {
                        on_runtime(async move {
                            let store = fresh().await;
                            let outcome = AssertUnwindSafe(run(&store)).catch_unwind().await;
                            store.clean_up().await;
                            outcome
                        })
                    })
                }
            };
            self.trials.push(trial);
        }
        self
    }

    /// Adds the persistent publisher's suite: every case on a fresh store and publisher from
    /// `fresh`, handed to `clean_up` after the case.
    pub fn persistent<S, P, F, Fut, C, CFut>(self, fresh: F, clean_up: C) -> Self
    where
        S: EventStore + Clone + Send + Sync + 'static,
        P: EventPublisher + Clone + Send + Sync + 'static,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = (S, P)> + 'static,
        C: Fn(S, P) -> CFut + Send + Sync + 'static,
        CFut: Future<Output = ()> + 'static,
    {
        self.persistent_with_probe(fresh, clean_up, None)
    }

    /// [`persistent`](Self::persistent) for a store that keeps JSON payloads as queryable
    /// JSON: `probe` reads how the store holds a payload, so the suite checks that JSON is
    /// kept as JSON in the store's own type and other payloads as bytes.
    pub fn persistent_with_probe<S, P, F, Fut, C, CFut>(
        mut self,
        fresh: F,
        clean_up: C,
        probe: Option<persistent::JsonProbe<S>>,
    ) -> Self
    where
        S: EventStore + Clone + Send + Sync + 'static,
        P: EventPublisher + Clone + Send + Sync + 'static,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = (S, P)> + 'static,
        C: Fn(S, P) -> CFut + Send + Sync + 'static,
        CFut: Future<Output = ()> + 'static,
    {
        let fresh = boxed(fresh);
        let clean_up = Arc::new(clean_up);
        for (name, case) in persistent::cases::<S, P>() {
            let (fresh, clean_up) = (Arc::clone(&fresh), Arc::clone(&clean_up));
            let probe = probe.clone();
            self.trials.push(self.named(name, move || {
                on_runtime(async move {
                    let (store, publisher) = fresh().await;
                    let bench = Bench::new(store.clone(), publisher.clone()).with_probe(probe);
                    let outcome = AssertUnwindSafe(case(&bench)).catch_unwind().await;
                    clean_up(store, publisher).await;
                    outcome
                })
            }));
        }
        self
    }

    /// Names the cases added from now on `prefix::case`, so that one binary can run a suite
    /// for two backends (`postgres::…`, `mongodb::…`).
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.prefix = Some(prefix.to_owned());
        self
    }

    fn named(
        &self,
        name: &str,
        run: impl FnOnce() -> Result<(), Failed> + Send + 'static,
    ) -> Trial {
        let name = match &self.prefix {
            Some(prefix) => format!("{prefix}::{name}"),
            None => name.to_owned(),
        };
        Trial::test(name, run)
    }

    /// Adds the publisher contract: every case on a publisher from `fresh`.
    pub fn publisher<P, F, Fut>(mut self, fresh: F) -> Self
    where
        P: PublisherUnderTest,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = P> + 'static,
    {
        let fresh = boxed(fresh);
        for (name, case) in publisher::cases::<P>() {
            let fresh = Arc::clone(&fresh);
            self.trials.push(self.named(name, move || {
                on_runtime(async move {
                    let publisher = fresh().await;
                    let outcome = AssertUnwindSafe(case(&publisher)).catch_unwind().await;
                    publisher.clean_up().await;
                    outcome
                })
            }));
        }
        self
    }

    /// Runs the cases cargo (or nextest) asked for and returns the process's exit code.
    pub fn run(self) -> ExitCode {
        let arguments = Arguments::from_args();
        let missing: Vec<&String> = self
            .required
            .iter()
            .filter(|var| std::env::var(var).map_or(true, |v| v.trim().is_empty()))
            .collect();
        let mut trials = self.trials;
        if !missing.is_empty() {
            let missing = missing
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            if env::under_ci() {
                eprintln!("{missing} not set under CI: start the servers with scripts/services up");
                return ExitCode::FAILURE;
            }
            eprintln!(
                "skipped: {missing} not set (run `eval \"$(scripts/services env)\"` after \
                 `scripts/services up`); every case is listed as ignored"
            );
            trials = trials
                .into_iter()
                .map(|trial| trial.with_ignored_flag(true))
                .collect();
        }
        libtest_mimic::run(&arguments, trials).exit_code()
    }
}

/// Runs a case on a runtime of its own (two workers, as the concurrent cases need) and turns a
/// panic into the case's failure, with its message.
fn on_runtime(case: impl Future<Output = Result<(), Box<dyn Any + Send>>>) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("cannot start a runtime: {e}")))?;
    runtime
        .block_on(case)
        .map_err(|panic| Failed::from(panic_message(panic.as_ref())))
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the case panicked".to_owned())
}
