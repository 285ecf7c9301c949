//! `bgp-fsm`: the RFC 4271 session as a sans-IO state machine. No sockets, no clock, no tokio.
