//! Control's decisions, stamped: what made the desired routes change, when, and in which
//! order. The peer task hands the stamp back with what it applied
//! ([`crate::status::Applied`]), so events and the latency histogram read
//! `written_at - decided_at` instead of guessing.

use std::fmt;
use std::time::Instant;

/// The `cause` label of the latency histogram (`bgpd_update_latency_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// `bgpctl announce` / `withdraw`.
    Api,
    /// A health check verdict (or its disable file).
    Health,
    /// A configuration reload.
    Reload,
    /// `bgpctl drain` / `undrain`, per peer or for all (RFC 8326).
    Drain,
}

impl Cause {
    /// Every cause, in the order the metrics list them.
    pub const ALL: [Cause; 4] = [Cause::Api, Cause::Health, Cause::Reload, Cause::Drain];

    /// The metric label: "api", "health", "reload", "drain".
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Api => "api",
            Cause::Health => "health",
            Cause::Reload => "reload",
            Cause::Drain => "drain",
        }
    }
}

/// What made control decide; its text ends the event lines ("announced ... to tor-a
/// (bgpctl announce)").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The first decision, at start.
    Start,
    /// The configuration was reloaded.
    Reload,
    /// A health check changed its verdict.
    HealthCheck,
    /// `bgpctl announce`.
    Announce,
    /// `bgpctl withdraw`.
    Withdraw,
    /// `bgpctl drain` (RFC 8326).
    Drain,
    /// `bgpctl undrain`.
    Undrain,
    /// `bgpctl neighbor PEER drain` (`drain`) or `undrain`.
    NeighborDrain {
        /// The peer's name.
        peer: String,
        /// `true` for drain, `false` for undrain.
        drain: bool,
    },
}

impl Trigger {
    /// The latency histogram label of this trigger.
    pub fn cause(&self) -> Cause {
        match self {
            Trigger::Start | Trigger::Reload => Cause::Reload,
            Trigger::HealthCheck => Cause::Health,
            Trigger::Announce | Trigger::Withdraw => Cause::Api,
            Trigger::Drain | Trigger::Undrain | Trigger::NeighborDrain { .. } => Cause::Drain,
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Start => f.write_str("start"),
            Trigger::Reload => f.write_str("reload"),
            Trigger::HealthCheck => f.write_str("health check"),
            Trigger::Announce => f.write_str("bgpctl announce"),
            Trigger::Withdraw => f.write_str("bgpctl withdraw"),
            Trigger::Drain => f.write_str("drain"),
            Trigger::Undrain => f.write_str("undrain"),
            Trigger::NeighborDrain { peer, drain } => write!(
                f,
                "bgpctl neighbor {peer} {}",
                if *drain { "drain" } else { "undrain" }
            ),
        }
    }
}

/// One decision of control about what the peers should announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Increases with each decision that changes the routes.
    pub generation: u64,
    /// What caused the decision.
    pub trigger: Trigger,
    /// When it was made.
    pub decided_at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_read_as_the_event_lines_name_them() {
        let t = Trigger::NeighborDrain {
            peer: "tor-a".into(),
            drain: false,
        };
        assert_eq!(t.to_string(), "bgpctl neighbor tor-a undrain");
        assert_eq!(t.cause(), Cause::Drain);
        assert_eq!(Trigger::HealthCheck.to_string(), "health check");
        assert_eq!(Trigger::Announce.cause().as_str(), "api");
    }
}
