//! Connection accounting for the accept loop: the cap on open connections, which connection
//! to shed when it is reached, and when a connection has been idle too long.
//!
//! Every accepted connection holds a [`Slot`]. A connection that has not sent a request yet
//! (still in its TLS handshake, or silent after it) is *pending*; once a request arrives it is
//! *established*. At the cap, a new connection displaces the oldest pending one: a flood of
//! connections that never send anything cannot lock out the apiserver or the kubelet's probes,
//! whose connections send their request within milliseconds and are then never displaced. When
//! no connection is pending the new one is refused (closed at once, never left hanging).

use prometheus_client::metrics::gauge::Gauge;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};

/// The process's soft limit on open files (`ulimit -n`), where the system tells it
/// (`/proc/self/limits` on Linux).
pub fn open_file_limit() -> Option<u64> {
    parse_open_file_limit(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// The soft limit from the text of `/proc/<pid>/limits` (`None` when unlimited or absent).
fn parse_open_file_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Descriptors the webhook needs besides its connections: listener, runtime, stdio, the files
/// it reloads, with room to spare.
pub const RESERVED_FILES: u64 = 64;

/// What [`Tracker::admit`] decided about a new connection.
#[derive(Debug)]
pub enum Admission {
    /// Serve it (the cap was not reached).
    Admitted(Slot),
    /// Serve it; the oldest pending connection was told to close to make room.
    Displaced(Slot),
    /// Close it: the cap is reached and every connection has sent a request.
    Refused,
}

/// The open connections of one listener.
#[derive(Debug)]
pub struct Tracker {
    max: usize,
    open: AtomicUsize,
    /// Connections in accept order that had not sent a request when last looked at.
    pending: Mutex<VecDeque<Arc<ConnState>>>,
    started: Instant,
    open_gauge: Gauge,
}

/// What the accept loop and the connection's requests share about one connection.
#[derive(Debug)]
pub struct ConnState {
    /// Set by the first request.
    established: AtomicBool,
    /// Set when it is displaced.
    displaced: AtomicBool,
    displace: Notify,
    in_flight: AtomicUsize,
    /// When a request last started or finished, in milliseconds since [`Tracker::started`].
    last_active_ms: AtomicU64,
}

/// One open connection; dropping it frees its place.
#[derive(Debug)]
pub struct Slot {
    tracker: Arc<Tracker>,
    state: Arc<ConnState>,
}

/// A request in flight on a connection; dropping it marks the end of the request.
#[derive(Debug)]
pub struct InFlight {
    tracker: Arc<Tracker>,
    state: Arc<ConnState>,
}

impl Tracker {
    /// A tracker for at most `max` connections, reporting the count on `open_gauge`.
    pub fn new(max: usize, open_gauge: Gauge) -> Arc<Tracker> {
        Arc::new(Tracker {
            max: max.max(1),
            open: AtomicUsize::new(0),
            pending: Mutex::new(VecDeque::new()),
            started: Instant::now(),
            open_gauge,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Decides about a connection just accepted (see the module documentation).
    pub fn admit(self: &Arc<Self>) -> Admission {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let displaced = if self.open() >= self.max {
            if !Self::displace_oldest(&mut pending) {
                return Admission::Refused;
            }
            true
        } else {
            false
        };
        // Forget connections that closed or sent a request since, so the queue stays small.
        if pending.len() > 2 * self.max {
            pending.retain(|c| Arc::strong_count(c) > 1 && c.is_pending());
        }
        let state = Arc::new(ConnState {
            established: AtomicBool::new(false),
            displaced: AtomicBool::new(false),
            displace: Notify::new(),
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(self.now_ms()),
        });
        pending.push_back(state.clone());
        drop(pending);
        self.open.fetch_add(1, Ordering::Relaxed);
        self.open_gauge.inc();
        let slot = Slot {
            tracker: self.clone(),
            state,
        };
        if displaced {
            Admission::Displaced(slot)
        } else {
            Admission::Admitted(slot)
        }
    }

    /// Tells the oldest pending connection to close, to free a file descriptor after the
    /// process ran out of them. Whether there was one.
    pub fn displace_one(&self) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        Self::displace_oldest(&mut pending)
    }

    fn displace_oldest(pending: &mut VecDeque<Arc<ConnState>>) -> bool {
        while let Some(oldest) = pending.pop_front() {
            // Still open (its slot holds a reference) and still without a request.
            if Arc::strong_count(&oldest) > 1 && oldest.is_pending() {
                oldest.displaced.store(true, Ordering::Relaxed);
                oldest.displace.notify_one();
                return true;
            }
        }
        false
    }
}

impl ConnState {
    fn is_pending(&self) -> bool {
        !self.established.load(Ordering::Relaxed) && !self.displaced.load(Ordering::Relaxed)
    }
}

impl Slot {
    /// Whether a request has arrived on the connection.
    pub fn established(&self) -> bool {
        self.state.established.load(Ordering::Relaxed)
    }

    /// Resolves when the connection is displaced (only pending connections are).
    pub async fn displaced(&self) {
        self.state.displace.notified().await;
    }

    /// When the connection will have been idle for `idle` (no request in flight, none started
    /// or finished within `idle`); `None` while a request is in flight.
    pub fn idle_deadline(&self, idle: Duration) -> Option<Instant> {
        if self.state.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = self.state.last_active_ms.load(Ordering::Relaxed);
        Some(self.tracker.started + Duration::from_millis(last) + idle)
    }

    /// A handle for the connection's service, to mark its requests.
    pub fn requests(&self) -> Requests {
        Requests {
            tracker: self.tracker.clone(),
            state: self.state.clone(),
        }
    }
}

/// Marks the requests of one connection (see [`Slot::requests`]).
#[derive(Debug, Clone)]
pub struct Requests {
    tracker: Arc<Tracker>,
    state: Arc<ConnState>,
}

impl Requests {
    /// Marks a request as started (the connection is then established); drop the guard when
    /// it is answered.
    pub fn started(&self) -> InFlight {
        self.state.established.store(true, Ordering::Relaxed);
        self.state.in_flight.fetch_add(1, Ordering::Relaxed);
        self.state
            .last_active_ms
            .store(self.tracker.now_ms(), Ordering::Relaxed);
        InFlight {
            tracker: self.tracker.clone(),
            state: self.state.clone(),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.tracker.open.fetch_sub(1, Ordering::Relaxed);
        self.tracker.open_gauge.dec();
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.state
            .last_active_ms
            .store(self.tracker.now_ms(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_is_read_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             127540               127540               processes \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_file_limit(text), Some(1024));
        assert_eq!(
            parse_open_file_limit("Max open files  unlimited  unlimited  files\n"),
            None
        );
        assert_eq!(parse_open_file_limit(""), None);
    }

    fn slot(admission: Admission) -> Slot {
        match admission {
            Admission::Admitted(slot) | Admission::Displaced(slot) => slot,
            Admission::Refused => panic!("refused"),
        }
    }

    #[test]
    fn the_oldest_connection_without_a_request_is_displaced_then_new_ones_are_refused() {
        let tracker = Tracker::new(2, Gauge::default());
        let first = slot(tracker.admit());
        let second = slot(tracker.admit());
        // The first one sends a request: it is established for good.
        drop(first.requests().started());
        let third = tracker.admit();
        assert!(matches!(third, Admission::Displaced(_)), "{third:?}");
        assert!(second.state.displaced.load(Ordering::Relaxed));
        assert!(!first.state.displaced.load(Ordering::Relaxed));
        // The third one sends a request too; the second is still closing (counted).
        let third = slot(third);
        let _request = third.requests().started();
        assert!(matches!(tracker.admit(), Admission::Refused));
        assert_eq!(tracker.open(), 3);
        drop(second);
        assert_eq!(tracker.open(), 2);
        assert!(matches!(tracker.admit(), Admission::Refused));
        drop(first);
        let _fourth = slot(tracker.admit());
        assert_eq!(tracker.open(), 2);
    }

    #[test]
    fn idle_deadline_waits_for_requests_in_flight() {
        let tracker = Tracker::new(1, Gauge::default());
        let slot = slot(tracker.admit());
        let idle = Duration::from_secs(5);
        assert!(slot.idle_deadline(idle).unwrap() > Instant::now());
        let request = slot.requests().started();
        assert_eq!(slot.idle_deadline(idle), None);
        drop(request);
        assert!(slot.idle_deadline(idle).is_some());
        assert!(slot.established());
    }
}
