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

    /// A subscription fed by a watch channel, for backends that forward hints from a server
    /// (PostgreSQL `LISTEN`, a MongoDB change stream) through a task of their own.
    pub fn from_watch(receiver: watch::Receiver<u64>) -> Self {
        Self { receiver }
    }
}
