//! Retained messages, one per topic, shared by every connection, as AWS IoT keeps them.
//!
//! AWS's Publish API reference: `retain=true` "causes the message to be retained and sent to
//! new subscribers to the topic", and "publishing an empty (null) payload with retain = true
//! deletes the retained message". A publish without `retain` leaves the retained message alone
//! (MQTT 5 §3.3.1.3). A retained message published with `messageExpiry` is dropped once that
//! many seconds have passed (MQTT 5 §3.3.2.3.3).
//!
//! The data plane's `GetRetainedMessage` (`GET /retainedMessage/{topic}`) reads one back and
//! `ListRetainedMessages` (`GET /retainedMessage`) lists them: see [`crate::http`].

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::publish_api::Publish;

/// One retained message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedMessage {
    /// Its topic.
    pub topic: String,
    /// Its payload (never empty: an empty one deletes).
    pub payload: Vec<u8>,
    /// The QoS it was published with.
    pub qos: u8,
    /// Its user properties, name then value (`None` if it had none).
    pub user_properties: Option<Vec<(String, String)>>,
    /// When it was stored, in milliseconds since the Unix epoch (AWS's `lastModifiedTime`).
    pub last_modified_ms: u64,
    /// When it expires, if it was published with `messageExpiry`.
    pub expires: Option<Instant>,
}

/// What a publish did to the retained messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainOutcome {
    /// Not a retained publish: nothing changed.
    Untouched,
    /// The message is now the topic's retained message.
    Stored,
    /// An empty retained publish: the topic's retained message (if any) is gone.
    Deleted,
}

impl RetainOutcome {
    /// For the log line: `-`, `stored` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            RetainOutcome::Untouched => "-",
            RetainOutcome::Stored => "stored",
            RetainOutcome::Deleted => "deleted",
        }
    }
}

/// The retained messages by topic. Thread-safe; cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct RetainedStore {
    messages: Mutex<BTreeMap<String, RetainedMessage>>,
}

impl RetainedStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, RetainedMessage>> {
        self.messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies an accepted publish (see the module docs).
    pub fn apply(&self, publish: &Publish) -> RetainOutcome {
        if !publish.retain {
            return RetainOutcome::Untouched;
        }
        let mut messages = self.lock();
        if publish.payload.is_empty() {
            messages.remove(&publish.topic);
            return RetainOutcome::Deleted;
        }
        let now = Instant::now();
        messages.insert(
            publish.topic.clone(),
            RetainedMessage {
                topic: publish.topic.clone(),
                payload: publish.payload.clone(),
                qos: publish.qos,
                user_properties: publish.user_properties.clone(),
                last_modified_ms: epoch_ms(),
                expires: publish
                    .message_expiry
                    .map(|seconds| now + Duration::from_secs(u64::from(seconds))),
            },
        );
        RetainOutcome::Stored
    }

    /// The topic's retained message, unless there is none or it has expired.
    pub fn get(&self, topic: &str) -> Option<RetainedMessage> {
        let mut messages = self.lock();
        drop_expired(&mut messages);
        messages.get(topic).cloned()
    }

    /// Every retained message that has not expired, by topic.
    pub fn list(&self) -> Vec<RetainedMessage> {
        let mut messages = self.lock();
        drop_expired(&mut messages);
        messages.values().cloned().collect()
    }
}

fn drop_expired(messages: &mut BTreeMap<String, RetainedMessage>) {
    let now = Instant::now();
    messages.retain(|_, message| message.expires.is_none_or(|at| at > now));
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(topic: &str, retain: bool, payload: &[u8], expiry: Option<u32>) -> Publish {
        Publish {
            topic: topic.into(),
            qos: 1,
            retain,
            content_type: None,
            message_expiry: expiry,
            response_topic: None,
            user_properties: None,
            payload_format: None,
            correlation_data: None,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn retain_stores_replaces_and_an_empty_payload_deletes() {
        let store = RetainedStore::default();
        assert_eq!(
            store.apply(&publish("a", false, b"x", None)),
            RetainOutcome::Untouched
        );
        assert_eq!(store.get("a"), None);
        assert_eq!(
            store.apply(&publish("a", true, b"one", None)),
            RetainOutcome::Stored
        );
        assert_eq!(
            store.apply(&publish("a", true, b"two", None)),
            RetainOutcome::Stored
        );
        assert_eq!(
            store.apply(&publish("a", false, b"three", None)),
            RetainOutcome::Untouched
        );
        assert_eq!(store.get("a").expect("kept").payload, b"two");
        assert_eq!(
            store.apply(&publish("b", true, b"b", None)),
            RetainOutcome::Stored
        );
        assert_eq!(store.list().len(), 2);
        assert_eq!(
            store.apply(&publish("a", true, b"", None)),
            RetainOutcome::Deleted
        );
        assert_eq!(store.get("a"), None);
        assert_eq!(store.get("b").expect("other topic kept").payload, b"b");
    }

    #[test]
    fn a_retained_message_expires_after_its_message_expiry() {
        let store = RetainedStore::default();
        store.apply(&publish("a", true, b"x", Some(0)));
        assert_eq!(store.get("a"), None);
        store.apply(&publish("a", true, b"x", Some(3600)));
        assert!(store.get("a").is_some());
    }
}
