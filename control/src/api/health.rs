//! Handles the daemon keeps to drive the API: [`HealthHandle`] (the serving state behind
//! `grpc.health.v1.Health` and `GetStatus`) and [`EventHub`] (what `WatchEvents` streams).
//!
//! Both are cheap to clone and usable from any thread, async or not: setting the state or
//! publishing an event never blocks and never fails when nobody listens.

use std::time::SystemTime;

use tokio::sync::{broadcast, watch};

use super::model::{ApiEvent, ApiEventKind, ServingState};

/// The serving state. Starts as [`ServingState::Starting`] (health NOT_SERVING); the daemon
/// sets [`Serving`](ServingState::Serving) once every port is up and every worker polls, and
/// [`Draining`](ServingState::Draining) when it shuts down.
#[derive(Debug, Clone)]
pub struct HealthHandle {
    tx: watch::Sender<ServingState>,
    events: EventHub,
}

impl HealthHandle {
    /// A handle in state `Starting`; state changes are also published on `events`.
    pub fn new(events: EventHub) -> Self {
        Self {
            tx: watch::Sender::new(ServingState::Starting),
            events,
        }
    }

    /// Sets the state (a no-op if unchanged).
    pub fn set(&self, state: ServingState) {
        let changed = self.tx.send_if_modified(|s| {
            let changed = *s != state;
            *s = state;
            changed
        });
        if changed {
            self.events.publish(ApiEventKind::HealthChanged { state });
        }
    }

    /// The current state.
    pub fn get(&self) -> ServingState {
        *self.tx.borrow()
    }

    /// A receiver that sees every change.
    pub fn watch(&self) -> watch::Receiver<ServingState> {
        self.tx.subscribe()
    }
}

/// Events for `WatchEvents`: a bounded broadcast. A subscriber that falls behind by more than
/// the capacity loses the oldest events and is told how many (an `EVENT_KIND_LAGGED` event).
#[derive(Debug, Clone)]
pub struct EventHub {
    tx: broadcast::Sender<ApiEvent>,
}

impl EventHub {
    /// Events kept for slow subscribers by default.
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// A hub keeping `capacity` events (at least 1) for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::Sender::new(capacity.max(1)),
        }
    }

    /// Publishes an event stamped now.
    pub fn publish(&self, kind: ApiEventKind) {
        self.publish_event(ApiEvent {
            at: SystemTime::now(),
            kind,
        });
    }

    /// Publishes an event with its own time.
    pub fn publish_event(&self, ev: ApiEvent) {
        // An error only means nobody is subscribed.
        let _ = self.tx.send(ev);
    }

    /// A new subscriber, seeing events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ApiEvent> {
        self.tx.subscribe()
    }
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}
