use std::{future::Future, sync::Arc};

use tokio::sync::watch;

/// The sending side of [`Notifications`]: a backend calls [`notify`](Self::notify) when rows
/// have been committed to its outbox.
#[derive(Debug)]
pub struct Notifier {
    sender: watch::Sender<u64>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifier {
    /// A notifier nobody listens to yet.
    pub fn new() -> Self {
        Self {
            sender: watch::Sender::new(0),
        }
    }

    /// Wakes every subscriber. Cheap when nobody listens.
    pub fn notify(&self) {
        self.sender.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A new subscription; it sees notifications sent after this call.
    pub fn subscribe(&self) -> Notifications {
        Notifications {
            receiver: self.sender.subscribe(),
        }
    }
}

/// Hints that new outbox rows were committed. Hints coalesce: many commits between two waits
/// wake the waiter once. A relay still polls, so a lost hint only delays delivery.
#[derive(Debug, Clone)]
pub struct Notifications {
    receiver: watch::Receiver<u64>,
}

impl Notifications {
    /// Waits for the next hint. Returns `false` when the sender is gone and none will come.
    pub async fn notified(&mut self) -> bool {
        self.receiver.changed().await.is_ok()
    }

    /// A subscription fed by a task of its own, for backends whose server tells them of commits
    /// (PostgreSQL `LISTEN`, a MongoDB change stream): `source` is spawned on the current Tokio
    /// runtime with a [`Hints`] to send through, and dropped at its next `.await` once the
    /// subscription and all its clones are gone. `None` outside a Tokio runtime (the relay then
    /// polls); if `source` returns, no more hints come and the relay polls.
    pub fn forward<F, Fut>(source: F) -> Option<Self>
    where
        F: FnOnce(Hints) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (sender, receiver) = watch::channel(0u64);
        let sender = Arc::new(sender);
        let forwarding = source(Hints {
            sender: Arc::clone(&sender),
        });
        runtime.spawn(async move {
            tokio::select! {
                () = sender.closed() => {}
                () = forwarding => {}
            }
        });
        Some(Self { receiver })
    }
}

/// The sending side given to the task of [`Notifications::forward`].
#[derive(Clone, Debug)]
pub struct Hints {
    sender: Arc<watch::Sender<u64>>,
}

impl Hints {
    /// Tells the subscription that rows were committed.
    pub fn wake(&self) {
        self.sender.send_modify(|n| *n = n.wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn forwarded_hints_arrive_and_the_source_stops_with_the_subscription() {
        let (stopped, mut stop_seen) = tokio::sync::oneshot::channel::<()>();
        let mut notifications = Notifications::forward(|hints| async move {
            let _stopped = stopped;
            hints.wake();
            std::future::pending::<()>().await;
        })
        .expect("inside a runtime");
        assert!(notifications.notified().await);
        drop(notifications);
        let ended = tokio::time::timeout(Duration::from_secs(5), &mut stop_seen).await;
        assert!(ended.is_ok(), "the source outlived its subscription");
    }

    #[test]
    fn no_forwarding_outside_a_runtime() {
        assert!(Notifications::forward(|_| async {}).is_none());
    }
}
