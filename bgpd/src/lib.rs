//! `bgpd`: a BGP speaker that announces service addresses (/32, /128) to routers.
//!
//! This crate is the only one in the workspace that touches the world: TOML files, sockets,
//! signals, the tracing subscriber (installed by the `bgpd` binary only). The protocol lives
//! in `bgp-proto` (codec) and `bgp-fsm` (session state machine).
//!
//! - [`config`]: the configuration file, parsed into validated types ([`config::Config::load`]
//!   with [`link::ThisHost`]); the `bgpd-config` crate, re-exported.
//! - [`diff`]: what a reload changes ([`diff::ConfigDiff::between`]), from `bgpd-config` too.
//! - [`decode`]: BGP messages (hex, raw, MRT, pcap) to JSON lines, for `bgpd decode`.
//! - [`fib`]: a router's kernel FIB over rtnetlink (`[fib]`): shared next-hop groups changed
//!   in place, so resilient buckets of staying next hops never move.

// `deny`, not `forbid`: transport.rs needs `setsockopt` for TCP_MD5SIG and IP_MINTTL,
// which socket2 does not wrap; it opts in with `#![allow(unsafe_code)]`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod announce;
pub mod api;
pub mod bfd;
pub mod control;
pub mod daemon;
pub mod decode;
pub mod events;
pub mod fib;
pub mod health;
pub mod link;
pub mod locrib;
pub mod memory;
pub mod metrics;
pub mod peer;
pub mod statefile;
pub mod status;
pub mod transport;
pub mod unnumbered;

/// The configuration ([`bgpd_config`], sans-IO); [`link::ThisHost`] answers its questions
/// about this host.
pub use bgpd_config as config;
/// What a reload changes ([`bgpd_config::diff`]).
pub use bgpd_config::diff;

/// Log output format of the daemon (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines on stderr.
    #[default]
    Text,
    /// One JSON object per line on stderr.
    Json,
}
