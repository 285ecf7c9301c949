//! The driver's send queue for one connection, with the RFC 9687 bookkeeping.
//!
//! RFC 9687 (Send Hold Timer) wants the session to know when the peer stops reading: the
//! SendHoldTimer runs while queued bytes cannot be written and restarts whenever some of them
//! are. The session cannot see the socket, so the driver reports `Event::SendBlocked` and
//! `Event::SendProgress`. Getting that right in every place that writes (an immediate
//! non-blocking flush after each batch of actions, the event loop's writable branch, ...) is
//! easy to miss: a drain that is never reported leaves the timer armed, and a healthy peer is
//! reset with 8/0 one SendHoldTime later (issue 17). [`SendQueue`] keeps the queue and the
//! "blocked" flag together, so that every writer path reports through the same two calls:
//! [`SendQueue::wrote`] after writing and [`SendQueue::stalled`] when a write took less than
//! everything. Each returns the event to feed to the session, if any.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::Event;

/// Bytes waiting to be written to one connection, in order (complete messages back to back,
/// the front one possibly partly written).
#[derive(Debug, Default)]
pub struct SendQueue {
    queue: VecDeque<Bytes>,
    queued: usize,
    /// `SendBlocked` was reported and the queue has not drained since.
    blocked: bool,
}

impl SendQueue {
    /// An empty queue, not blocked.
    pub fn new() -> SendQueue {
        SendQueue::default()
    }

    /// Appends the bytes of an `Action::Send`.
    pub fn push(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.queued += bytes.len();
            self.queue.push_back(bytes);
        }
    }

    /// The bytes to write next (a slice of the front message), or `None` when empty.
    pub fn front(&self) -> Option<&[u8]> {
        self.queue.front().map(|b| &b[..])
    }

    /// Whether every queued byte was written.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Bytes not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.queued
    }

    /// `SendBlocked` was reported and the queue has not drained since.
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// `n` bytes from [`SendQueue::front`] were written. Returns `SendProgress` for the
    /// session when it was told `SendBlocked` (RFC 9687: progress restarts the
    /// SendHoldTimer, a drained queue stops it); `None` otherwise.
    pub fn wrote(&mut self, n: usize) -> Option<Event> {
        let mut left = n;
        while left > 0 {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            if left >= front.len() {
                left -= front.len();
                self.queued -= front.len();
                self.queue.pop_front();
            } else {
                let _ = front.split_to(left);
                self.queued -= left;
                left = 0;
            }
        }
        if n == 0 || !self.blocked {
            return None;
        }
        let drained = self.queue.is_empty();
        if drained {
            self.blocked = false;
        }
        Some(Event::SendProgress { drained })
    }

    /// A write attempt left bytes in the queue (the socket would block). Returns
    /// `SendBlocked` the first time (RFC 9687: the SendHoldTimer starts); `None` while the
    /// session already knows, or when nothing is queued.
    pub fn stalled(&mut self) -> Option<Event> {
        if self.queue.is_empty() || self.blocked {
            return None;
        }
        self.blocked = true;
        Some(Event::SendBlocked)
    }

    /// Drops every queued message that has not started to go out; a partly written front
    /// message stays so that the stream remains framed.
    pub fn drop_unsent(&mut self) {
        self.queue.truncate(1);
        self.queued = self.queue.front().map_or(0, Bytes::len);
    }

    /// Removes and returns the front bytes (closing a connection: the session no longer
    /// cares about progress).
    pub fn pop_front(&mut self) -> Option<Bytes> {
        let b = self.queue.pop_front()?;
        self.queued -= b.len();
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unblocked_writes_report_nothing() {
        let mut q = SendQueue::new();
        q.push(Bytes::from_static(b"abcdef"));
        assert_eq!(q.wrote(3), None);
        assert_eq!(q.front(), Some(&b"def"[..]));
        assert_eq!(q.wrote(3), None);
        assert!(q.is_empty());
        assert_eq!(q.stalled(), None, "nothing queued: not blocked");
    }

    #[test]
    fn blocked_then_progress_then_drained() {
        let mut q = SendQueue::new();
        q.push(Bytes::from_static(b"abc"));
        q.push(Bytes::from_static(b"def"));
        assert_eq!(q.stalled(), Some(Event::SendBlocked));
        assert_eq!(q.stalled(), None, "reported once");
        assert_eq!(q.wrote(0), None);
        assert_eq!(q.wrote(4), Some(Event::SendProgress { drained: false }));
        assert_eq!(q.queued_bytes(), 2);
        assert_eq!(q.wrote(2), Some(Event::SendProgress { drained: true }));
        assert!(!q.is_blocked());
        // A later drain on an unblocked queue says nothing.
        q.push(Bytes::from_static(b"x"));
        assert_eq!(q.wrote(1), None);
    }

    #[test]
    fn drop_unsent_keeps_the_partly_written_message() {
        let mut q = SendQueue::new();
        q.push(Bytes::from_static(b"abc"));
        q.push(Bytes::from_static(b"def"));
        q.wrote(1);
        q.drop_unsent();
        assert_eq!(q.front(), Some(&b"bc"[..]));
        assert_eq!(q.queued_bytes(), 2);
        assert_eq!(q.pop_front(), Some(Bytes::from_static(b"bc")));
        assert_eq!(q.queued_bytes(), 0);
    }
}
