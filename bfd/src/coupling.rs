//! What a BFD state change means for the client protocol (RFC 5882): the decision a BGP
//! speaker takes on each [`crate::Action::StateChanged`].

use crate::State;

/// What a BFD state change means for the client session (RFC 5882).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coupling {
    /// Not a failure of an Up session: nothing to do.
    None,
    /// Up -> Down because the remote system signalled AdminDown. RFC 5882 §3.2: "the receipt
    /// of AdminDown [...] MUST NOT be treated as a failure by the client protocol".
    KeepClient,
    /// Up -> Down: the path failed (RFC 5882 §4.3): take the client session down at once
    /// (for BGP, Cease 6/10, RFC 9384).
    CloseClient,
}

/// The coupling of a change `from` -> `to` while the remote system reports `remote_state`.
/// Our own Stop (AdminDown) is no failure either.
pub fn coupling(from: State, to: State, remote_state: State) -> Coupling {
    match (from, to) {
        (State::Up, State::Down) if remote_state == State::AdminDown => Coupling::KeepClient,
        (State::Up, State::Down) => Coupling::CloseClient,
        _ => Coupling::None,
    }
}
