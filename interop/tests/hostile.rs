//! Hostile-peer suite: scripted raw-TCP peers send malformed and abusive input to a real bgpd
//! over loopback, and each case asserts bgpd's exact reaction.
//!
//! The cases come from `docs/error-handling.md` (section numbers "EH x.y", decisions "Dn")
//! and from past BGP CVEs and incidents (its section 6.2, "Vn"). One table row per case, so the
//! suite reads like the ledger. Each case runs on its own session (its own raw peer address
//! `127.0.1.x`, its own `[[peers]]` entry) against one bgpd; cases run in parallel.
//!
//! What is asserted:
//! - `Notify(code, subcode, data)`: the exact NOTIFICATION, then bgpd closes the connection.
//! - `Taw`: a valid route for the victim prefix is announced first; the hostile UPDATE for the
//!   same prefix is treated as withdraw (bgpd logs "UPDATE from PEER treated as withdraw" and
//!   "received 0 routes and 1 withdrawals"); then the sentinel prefix is accepted.
//! - `Withdrawn`: as `Taw` without the RFC 7606 line (a rejected next hop, D5).
//! - `Discard`: the route arrives with the bad attribute dropped (bgpd logs "attribute ...
//!   discarded") and the sentinel is accepted.
//! - `Accept(line)`: bgpd logs `line` for the hostile message, and the sentinel is accepted.
//! - `Survive`: no route effect; the sentinel is accepted.
//! - `SilentClose(line)`: a NOTIFICATION we send (or a connection we drop mid-message) is never
//!   answered with a NOTIFICATION; bgpd closes and logs a sentence containing `line`.
//! - Always: no NOTIFICATION where the session should survive; and for the whole run a
//!   witness peer keeps its session Established (it never receives a NOTIFICATION or EOF) and
//!   the bgpd process stays alive.
//!
//! Observation is through bgpd's log (stderr with `bgpd::peer` at debug level: one line per
//! received UPDATE, "received N routes and M withdrawals from NAME (ADDRESS)") and, once the
//! session survived, through the control API's Adj-RIB-In (`bgpctl routes --received`): the
//! sentinel must be in it, and a poisoned victim must not.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interop::hostile::wire::{self, *};
use interop::hostile::{label, Daemon, DaemonPeer, Notif, RawPeer, Received};

const BGPD_AS: u32 = 65000;
const PEER_AS: u32 = 65001;
const WITNESS_AS: u32 = 65002;
const WAIT: Duration = Duration::from_secs(15);
/// 203.0.113.0/24 (TEST-NET-3): the prefix a TAW case announces first and then poisons.
const VICTIM: [u8; 4] = [203, 0, 113, 0];
/// 198.51.100.0/24 (TEST-NET-2): the sentinel announced after every surviving case.
const SENTINEL: [u8; 4] = [198, 51, 100, 0];
/// The next hop of valid routes (TEST-NET-1; not a martian, D5).
const NH: [u8; 4] = [192, 0, 2, 1];
const ID: [u8; 4] = [10, 0, 0, 2];

/// When the hostile bytes go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// Right after TCP connect, instead of our OPEN (bgpd is in OpenSent).
    OpenSent,
    /// After our OPEN, before our KEEPALIVE (bgpd is in OpenConfirm).
    OpenConfirm,
    /// After the full handshake.
    Established,
}

/// How the hostile bytes go out.
#[derive(Debug, Clone)]
enum Send {
    /// One write.
    Bytes(Vec<u8>),
    /// One octet per write with a pause in between.
    Drip(Vec<u8>, Duration),
    /// The same message many times, in one burst of writes.
    Repeat(Vec<u8>, usize),
    /// Several messages, each its own write (a flood of different UPDATEs).
    Many(Vec<Vec<u8>>),
    /// These bytes, then close our side (half a message on the wire).
    Hangup(Vec<u8>),
}

#[derive(Debug, Clone)]
enum Expect {
    Notify(u8, u8, Vec<u8>),
    Taw,
    Withdrawn,
    Discard,
    Accept(&'static str),
    /// `n` distinct routes must be accepted (one "received 1 routes" line each).
    AcceptMany(usize),
    Survive,
    /// bgpd closes without a NOTIFICATION and logs a line with this fragment.
    SilentClose(&'static str),
}

/// The kind of session a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// eBGP with 4-octet AS numbers (the default).
    Ebgp4,
    /// iBGP (the raw peer is in bgpd's AS).
    Ibgp,
    /// eBGP without the 4-octet AS capability: 2-octet AS_PATH (RFC 6793 §4.1).
    Ebgp2,
}

struct Case {
    id: &'static str,
    kind: Kind,
    /// Where the expectation comes from: RFC, ERROR-HANDLING.md row, CVE or incident.
    cite: &'static str,
    /// The OPEN we send (ignored when the hostile bytes replace it).
    open: Vec<u8>,
    when: When,
    send: Send,
    expect: Expect,
}

fn case(id: &'static str, cite: &'static str, when: When, send: Vec<u8>, expect: Expect) -> Case {
    Case {
        id,
        kind: Kind::Ebgp4,
        cite,
        open: wire::open(PEER_AS, 0, ID),
        when,
        send: Send::Bytes(send),
        expect,
    }
}

fn with_open(mut c: Case, open: Vec<u8>) -> Case {
    c.open = open;
    c
}

/// The case on an iBGP session.
fn ibgp(mut c: Case) -> Case {
    c.kind = Kind::Ibgp;
    c.open = wire::open(BGPD_AS, 0, ID);
    c
}

/// The case on an eBGP session without the 4-octet AS capability.
fn as2(mut c: Case) -> Case {
    c.kind = Kind::Ebgp2;
    c.open = open_caps(
        PEER_AS as u16,
        0,
        ID,
        &[cap_mp(1, 1), cap_mp(2, 1), cap_rr(), cap_err()],
    );
    c
}

fn with_send(mut c: Case, send: Send) -> Case {
    c.send = send;
    c
}

use Expect::*;
use When::*;

fn n(code: u8, subcode: u8, data: &[u8]) -> Expect {
    Notify(code, subcode, data.to_vec())
}

// ---------------------------------------------------------------------------------------
// Building blocks

/// ORIGIN IGP, AS_PATH [PEER_AS], NEXT_HOP NH: a valid eBGP path on a 4-octet-AS session.
fn base() -> Vec<u8> {
    [origin(0), as_path(&[PEER_AS]), next_hop(NH)].concat()
}

fn victim() -> Vec<u8> {
    prefix4(VICTIM, 24)
}

/// A valid UPDATE for `p`/24.
fn announce(p: [u8; 4]) -> Vec<u8> {
    update(&[], &base(), &prefix4(p, 24))
}

/// iBGP: ORIGIN, an empty AS_PATH, NEXT_HOP, LOCAL_PREF 100.
fn base_ibgp() -> Vec<u8> {
    [
        origin(0),
        attr(WK, 2, &[]),
        next_hop(NH),
        attr(WK, 5, &[0, 0, 0, 100]),
    ]
    .concat()
}

/// 2-octet session: ORIGIN, AS_PATH [PEER_AS] in 2 octets, NEXT_HOP.
fn base_as2() -> Vec<u8> {
    [origin(0), attr(WK, 2, &[2, 1, 0xfd, 0xe9]), next_hop(NH)].concat()
}

/// A valid UPDATE for `p`/24 on a session of `kind`.
fn announce_on(kind: Kind, p: [u8; 4]) -> Vec<u8> {
    let attrs = match kind {
        Kind::Ebgp4 => base(),
        Kind::Ibgp => base_ibgp(),
        Kind::Ebgp2 => base_as2(),
    };
    update(&[], &attrs, &prefix4(p, 24))
}

/// An UPDATE for the victim prefix with `attrs`.
fn upd(attrs: &[u8]) -> Vec<u8> {
    update(&[], attrs, &victim())
}

/// The base attributes plus `extra`, for the victim prefix.
fn plus(extra: &[u8]) -> Vec<u8> {
    upd(&[base(), extra.to_vec()].concat())
}

/// The base attributes with ORIGIN replaced by `o` (and so on), for the victim prefix.
fn with_origin(o: Vec<u8>) -> Vec<u8> {
    upd(&[o, as_path(&[PEER_AS]), next_hop(NH)].concat())
}
fn with_as_path(p: Vec<u8>) -> Vec<u8> {
    upd(&[origin(0), p, next_hop(NH)].concat())
}
fn with_next_hop(h: Vec<u8>) -> Vec<u8> {
    upd(&[origin(0), as_path(&[PEER_AS]), h].concat())
}

/// An OPEN body for PEER_AS, hold 0, with the given optional parameters.
fn open_params(params: &[u8]) -> Vec<u8> {
    msg(OPEN, &open_body(4, PEER_AS as u16, 0, ID, params))
}

/// An OPEN whose capabilities are the standard ones plus `extra`.
fn open_plus_cap(extra: &[u8]) -> Vec<u8> {
    open_params(&param_caps(&[std_caps(PEER_AS), extra.to_vec()].concat()))
}

const V6_NH: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// 2001:db8:1::/48.
const V6_PREFIX: [u8; 7] = [48, 0x20, 0x01, 0x0d, 0xb8, 0, 1];

/// ORIGIN, AS_PATH and an MP_REACH_NLRI attribute `mp`; no IPv4 NLRI.
fn mp_update(mp: &[u8]) -> Vec<u8> {
    update(
        &[],
        &[origin(0), as_path(&[PEER_AS]), mp.to_vec()].concat(),
        &[],
    )
}

// ---------------------------------------------------------------------------------------
// The ledger

/// One row per case; kept on one line each so the table reads like the ledger.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let mut v = Vec::new();

    // --- Message header (RFC 4271 §4.1, §6.1; EH 1.2) -----------------------------------
    let mut bad_marker = keepalive();
    bad_marker[3] = 0;
    v.push(case("hdr-marker", "RFC 4271 §6.1; EH 1.5 row 1", Established, bad_marker.clone(), n(1, 1, &[])));
    let mut bad_marker_open = wire::open(PEER_AS, 0, ID);
    bad_marker_open[0] = 0xfe;
    v.push(case("hdr-marker-opensent", "RFC 4271 §6.1 (before any OPEN)", OpenSent, bad_marker_open, n(1, 1, &[])));
    v.push(case("hdr-len-18", "RFC 4271 §6.1: Length < 19; EH 1.2", Established, msg_with_len(KEEPALIVE, &[], 18), n(1, 2, &[0, 18])));
    v.push(case("hdr-len-4097", "RFC 4271 §6.1, RFC 8654 §4: > 4096 without Extended Message", Established, msg_with_len(UPDATE, &[0; 4078], 4097), n(1, 2, &[0x10, 0x01])));
    v.push(case("hdr-len-65535", "RFC 4271 §6.1: the field's ceiling; header alone must trigger it", Established, msg_with_len(UPDATE, &[], 65535), n(1, 2, &[0xff, 0xff])));
    v.push(case("hdr-type-200", "RFC 4271 §6.1: unknown type, Data = type", Established, msg(200, &[]), n(1, 3, &[200])));
    v.push(case("hdr-type-0", "RFC 4271 §6.1: type 0 is not a message", Established, msg(0, &[]), n(1, 3, &[0])));
    v.push(case("hdr-keepalive-with-body", "RFC 4271 §4.4: KEEPALIVE is exactly 19 octets; EH 1.5", Established, msg(KEEPALIVE, &[0]), n(1, 2, &[0, 20])));
    v.push(case("hdr-update-22", "RFC 4271 §6.1: UPDATE < 23", Established, msg_with_len(UPDATE, &[0, 0, 0], 22), n(1, 2, &[0, 22])));
    v.push(case("hdr-open-28", "RFC 4271 §6.1: OPEN < 29", OpenSent, msg(OPEN, &[4, 0xfd, 0xe9, 0, 0, 10, 0, 0, 2]), n(1, 2, &[0, 28])));
    v.push(case("hdr-notification-20", "RFC 4271 §6.1: NOTIFICATION < 21 is a header error (framing cannot tell; EH 1.5 allows 1/2)", Established, msg(NOTIFICATION, &[6]), n(1, 2, &[0, 20])));
    v.push(case("hdr-route-refresh-22", "RFC 2918 §3 / EH 1.8: short ROUTE-REFRESH is 1/2 (BIRD)", Established, msg(ROUTE_REFRESH, &[0, 1, 0]), n(1, 2, &[0, 22])));
    v.push(case("hdr-open-4097", "RFC 8654 §4: OPEN is never longer than 4096", OpenSent, msg_with_len(OPEN, &[0; 4078], 4097), n(1, 2, &[0x10, 0x01])));

    // --- OPEN (RFC 4271 §6.2; EH 1.3) ---------------------------------------------------
    let caps = param_caps(&std_caps(PEER_AS));
    v.push(case("open-version-3", "RFC 4271 §6.2: Data = largest supported version, 00 04", OpenSent, msg(OPEN, &open_body(3, PEER_AS as u16, 0, ID, &caps)), n(2, 1, &[0, 4])));
    v.push(case("open-version-5", "RFC 4271 §6.2", OpenSent, msg(OPEN, &open_body(5, PEER_AS as u16, 0, ID, &caps)), n(2, 1, &[0, 4])));
    v.push(case("open-bad-peer-as", "RFC 4271 §6.2: My AS not the configured one", OpenSent, wire::open(65099, 0, ID), n(2, 2, &[])));
    v.push(case("open-as-0", "RFC 7607 §2: AS 0 in the OPEN MUST be 2/2", OpenSent, open_caps(0, 0, ID, &[cap_mp(1, 1)]), n(2, 2, &[])));
    v.push(case("open-as4-cap-0", "RFC 7607 §2: AS 0 in the 4-octet AS capability", OpenSent, open_caps(PEER_AS as u16, 0, ID, &[cap_mp(1, 1), cap_as4(0)]), n(2, 2, &[])));
    v.push(case("open-as-trans-no-cap", "RFC 6793 §4.1: AS_TRANS without the capability is not the peer", OpenSent, open_caps(23456, 0, ID, &[cap_mp(1, 1)]), n(2, 2, &[])));
    v.push(case("open-as4-conflict", "D11: two different 4-octet AS capabilities", OpenSent, open_plus_cap(&cap_as4(65005)), n(2, 2, &[])));
    v.push(case("open-hold-1", "RFC 4271 §6.2: Hold Time 1 MUST be rejected", OpenSent, wire::open(PEER_AS, 1, ID), n(2, 6, &[])));
    v.push(case("open-hold-2", "RFC 4271 §6.2: Hold Time 2 MUST be rejected", OpenSent, wire::open(PEER_AS, 2, ID), n(2, 6, &[])));
    v.push(case("open-bgp-id-0", "RFC 6286 §2.2: BGP Identifier 0", OpenSent, wire::open(PEER_AS, 0, [0, 0, 0, 0]), n(2, 3, &[])));
    v.push(case("open-unknown-param", "RFC 4271 §6.2: unknown optional parameter type, 2/4 with the parameter as Data (as BIRD, EH 1.3)", OpenSent, open_params(&[caps.clone(), vec![3, 2, 0xab, 0xcd]].concat()), n(2, 4, &[3, 2, 0xab, 0xcd])));
    v.push(case("open-cap-overrun", "RFC 5492 §4 / EH 1.3: capability longer than its parameter, 2/0 (V29)", OpenSent, open_params(&[2, 6, 1, 10, 0, 1, 0, 1]), n(2, 0, &[])));
    let mut opt_overrun = open_params(&caps);
    opt_overrun[28] = opt_overrun[28].wrapping_add(9);
    v.push(case("open-opt-len-overrun", "RFC 4271 §6.2: Opt Parm Len past the message (V27 CVE-2012-1820 Quagga)", OpenSent, opt_overrun, n(2, 0, &[])));
    v.push(case("open-mp-cap-len-3", "RFC 4760 §8: MP capability is 4 octets; EH 1.3 (BIRD 2/0)", OpenSent, open_plus_cap(&cap(1, &[0, 1, 0])), n(2, 0, &[])));
    v.push(case("open-as4-cap-len-2", "RFC 6793 §3: 4-octet AS capability is 4 octets", OpenSent, open_caps(PEER_AS as u16, 0, ID, &[cap_mp(1, 1), cap(65, &[0xfd, 0xe9])]), n(2, 0, &[])));
    v.push(case("open-rr-cap-len-1", "RFC 2918 §2: Route Refresh capability is empty", OpenSent, open_plus_cap(&cap(2, &[0])), n(2, 0, &[])));
    v.push(case("open-gr-cap-len-3", "RFC 4724 §3: Graceful Restart is 2 + 4n octets", OpenSent, open_plus_cap(&cap(64, &[0, 120, 0])), n(2, 0, &[])));
    v.push(case("open-addpath-cap-len-5", "RFC 7911 §4: ADD-PATH is 4n octets", OpenSent, open_plus_cap(&cap(69, &[0, 1, 1, 3, 0])), n(2, 0, &[])));
    v.push(case("open-ext-msg-cap-len-1", "RFC 8654 §3: Extended Message capability is empty", OpenSent, open_plus_cap(&cap(6, &[1])), n(2, 0, &[])));
    v.push(case("open-llgr-cap-len-6", "RFC 9494 §3: LLGR is 7n octets", OpenSent, open_plus_cap(&cap(71, &[0, 1, 1, 0, 0, 0])), n(2, 0, &[])));
    v.push(case("open-role-cap-len-2", "RFC 9234 §4.1: Role capability is 1 octet", OpenSent, open_plus_cap(&cap(9, &[0, 1])), n(2, 0, &[])));
    let ext_caps = ext_param_caps(&std_caps(PEER_AS));
    v.push(case("open-rfc9072-ext-len-overrun", "RFC 9072 §2: Extended Opt. Parm. Length past the message (V8 CVE-2022-40302 FRR)", OpenSent, open_ext(PEER_AS as u16, 0, ID, ext_caps.len() as u16 + 40, &ext_caps), n(2, 0, &[])));
    let mut long_param = ext_caps.clone();
    long_param[1] = 0x01; // the parameter's 2-octet length now says 256+
    v.push(case("open-rfc9072-param-overrun", "RFC 9072 §2: a parameter's 2-octet length overruns (V8 CVE-2022-40318 FRR)", OpenSent, open_ext(PEER_AS as u16, 0, ID, ext_caps.len() as u16, &long_param), n(2, 0, &[])));
    v.push(case("open-rfc9072-truncated", "RFC 9072 §2: 255/255 marker but no room for the length (V8 CVE-2022-43681 FRR)", OpenSent, msg(OPEN, &[4, 0xfd, 0xe9, 0, 0, 10, 0, 0, 2, 255, 255]), n(2, 0, &[])));
    v.push(with_open(case("open-rfc9072-valid", "RFC 9072 §2, D9: accepted", Established, vec![], Survive), open_ext(PEER_AS as u16, 0, ID, ext_caps.len() as u16, &ext_caps)));
    v.push(with_open(case("open-addpath-send-receive-4", "RFC 7911 §4 (issue 17 item 4): Send/Receive outside 1-3: capability ignored, session up (was 2/0)", Established, vec![], Survive), open_plus_cap(&cap(69, &[0, 1, 1, 4]))));
    v.push(with_open(case("open-unknown-cap", "RFC 5492 §5: an unknown capability MUST be ignored", Established, vec![], Survive), open_plus_cap(&cap(200, &[1, 2, 3]))));
    v.push(with_open(case("open-software-version-cap-bad-len", "V6 FRR PR #14241: software version capability (75) with a bad inner length; unknown here, ignored", Established, vec![], Survive), open_plus_cap(&cap(75, &[200, b'x']))));
    v.push(with_open(case("open-two-cap-params", "RFC 5492 §4: capabilities may be split over several parameters", Established, vec![], Survive), open_params(&[param_caps(&[cap_mp(1, 1), cap_mp(2, 1)].concat()), param_caps(&[cap_rr(), cap_as4(PEER_AS)].concat())].concat())));

    // --- FSM (RFC 4271 §8.2.2, RFC 6608; EH 1.7) ---------------------------------------
    v.push(case("fsm-keepalive-in-opensent", "RFC 6608 §3: 5/1, Data = type", OpenSent, keepalive(), n(5, 1, &[4])));
    v.push(case("fsm-update-in-opensent", "RFC 6608 §3: 5/1", OpenSent, announce(SENTINEL), n(5, 1, &[2])));
    v.push(case("fsm-route-refresh-in-opensent", "RFC 6608 §3: 5/1", OpenSent, route_refresh(1, 0, 1), n(5, 1, &[5])));
    v.push(case("fsm-update-in-openconfirm", "RFC 6608 §3: 5/2", OpenConfirm, announce(SENTINEL), n(5, 2, &[2])));
    v.push(case("fsm-open-in-openconfirm", "D12: a second OPEN in OpenConfirm, 5/2 Data 01", OpenConfirm, wire::open(PEER_AS, 0, ID), n(5, 2, &[1])));
    v.push(case("fsm-route-refresh-in-openconfirm", "RFC 6608 §3: 5/2", OpenConfirm, route_refresh(1, 0, 1), n(5, 2, &[5])));
    v.push(case("fsm-open-in-established", "RFC 6608 §3: 5/3 (V30 ExaBGP dropped it silently)", Established, wire::open(PEER_AS, 0, ID), n(5, 3, &[1])));
    let open_no_rr = open_caps(PEER_AS as u16, 0, ID, &[cap_mp(1, 1), cap_mp(2, 1), cap_as4(PEER_AS)]);
    // D4 is read as "we did not advertise Route Refresh" (bgp-fsm `SessionConfig::route_refresh`;
    // BIRD checks its own capability too): bgpd always advertises it, and RFC 2918 §3 only asks
    // the *receiver* to have advertised it, so a request from a peer that did not advertise the
    // capability is served. bgpd has no setting to stop advertising it, so 1/3 is not reachable
    // from the wire.
    v.push(with_open(case("rr-from-peer-without-cap", "RFC 2918 §3, D4 (we advertised it): served, session kept", Established, route_refresh(1, 0, 1), Survive), open_no_rr));
    let borr_long = msg(ROUTE_REFRESH, &[0, 1, 1, 1, 0]);
    v.push(case("rr-borr-bad-length", "RFC 7313 §5: BoRR longer than 4, 7/1 with the whole message", Established, borr_long.clone(), n(7, 1, &borr_long)));
    v.push(case("rr-unknown-family", "RFC 2918 §4: an AFI/SAFI not negotiated is ignored", Established, route_refresh(25, 0, 65), Survive));
    v.push(case("rr-unknown-subtype", "RFC 7313 §5: unknown subtype ignored", Established, route_refresh(1, 9, 1), Survive));
    v.push(case("rr-valid", "RFC 2918 §4: a valid request re-sends routes, session kept", Established, route_refresh(1, 0, 1), Survive));
    v.push(case("notif-shutdown-len-overrun", "RFC 9003 §2 / EH 1.6: length octet past the data (V12 CVE-2019-16159 BIRD)", Established, notification(6, 2, &[200, b'b', b'y', b'e']), SilentClose("shutdown communication length 200 exceeds the 3 octets present")));
    v.push(case("notif-shutdown-bad-utf8", "RFC 9003 §2: invalid UTF-8 must be logged, not trusted", Established, notification(6, 4, &[3, 0xff, 0xfe, 0x00]), SilentClose("shutdown communication is not valid UTF-8")));
    v.push(case("notif-unknown-code", "RFC 4271 §6.4: never answer a NOTIFICATION (V18 OpenBSD 7.3 errata 009)", Established, notification(99, 99, &[1, 2, 3]), SilentClose("peer sent NOTIFICATION 99/99 data 01 02 03")));
    v.push(case("notif-in-opensent", "RFC 4271 §8.2.2 OpenSent: NotifMsg closes", OpenSent, notification(6, 2, &[]), SilentClose("peer sent NOTIFICATION 6/2 (Cease / Administrative Shutdown)")));
    v.push(case("notif-control-chars", "EH 1.6: control characters replaced before logging", Established, notification(6, 2, &[5, b'a', 0x1b, b'[', b'2', b'J']), SilentClose("\"a [2J\"")));

    // --- UPDATE structure (RFC 4271 §6.3, RFC 7606 §3-5; EH 1.4) -------------------------
    v.push(case("upd-withdrawn-len-overrun", "RFC 7606 §3 (b): 3/1", Established, msg(UPDATE, &[0, 50, 24, 10, 0, 0, 0, 0]), n(3, 1, &[])));
    v.push(case("upd-attr-len-overrun", "RFC 7606 §3 (b): Total Path Attribute Length past the message, 3/1", Established, msg(UPDATE, &[0, 0, 0, 90, 0x40, 1, 1, 0]), n(3, 1, &[])));
    v.push(case("upd-attr-framing-with-nlri", "RFC 7606 §4: attribute past the attribute field, NLRI present: TAW", Established, upd(&[base(), attr_with_len(OT, 99, 10, &[1, 2])].concat()), Taw));
    v.push(case("upd-attr-framing-no-nlri", "RFC 7606 §5.2: same with no NLRI: 3/1", Established, update(&[], &[base(), attr_with_len(OT, 99, 10, &[1, 2])].concat(), &[]), n(3, 1, &[])));
    v.push(case("upd-attr-header-truncated", "RFC 7606 §4: fewer than 3 octets left for an attribute header, NLRI present: TAW", Established, upd(&[base(), vec![0x40, 1]].concat()), Taw));
    v.push(case("upd-nlri-len-33", "RFC 7606 §5.3: prefix length > 32, 3/10", Established, update(&[], &base(), &[33, 10, 0, 0, 0, 0]), n(3, 10, &[])));
    v.push(case("upd-nlri-overrun", "RFC 7606 §5.3: last prefix overruns the NLRI field, 3/10", Established, update(&[], &base(), &[24, 10, 0]), n(3, 10, &[])));
    v.push(case("upd-withdrawn-len-33", "RFC 7606 §3 (i): withdrawn routes checked like NLRI", Established, update(&[33, 10, 0, 0, 0, 0], &[], &[]), n(3, 10, &[])));
    let mp6 = mp_reach(2, 1, &V6_NH, &V6_PREFIX);
    v.push(case("upd-dup-mp-reach", "RFC 7606 §3 (g): MP_REACH twice, 3/1", Established, mp_update(&[mp6.clone(), mp6.clone()].concat()), n(3, 1, &[])));
    let unreach6 = mp_unreach(2, 1, &V6_PREFIX);
    v.push(case("upd-dup-mp-unreach", "RFC 7606 §3 (g): MP_UNREACH twice, 3/1", Established, update(&[], &[unreach6.clone(), unreach6.clone()].concat(), &[]), n(3, 1, &[])));
    {
        let bad = mp_reach(2, 1, &[0x20, 1, 0xd, 0xb8, 0], &V6_PREFIX);
        v.push(case("upd-mp-reach-nh-len-5", "RFC 7606 §7.11, D2: bad next-hop length, 3/9 (V28 CVE-2018-16230; V7 FRR b08afc81c6)", Established, mp_update(&bad), n(3, 9, &bad)));
    }
    {
        let bad = mp_reach(2, 1, &[], &V6_PREFIX);
        v.push(case("upd-mp-reach-nh-len-0", "D2: zero-length next hop (V20 GoBGP 173621ff)", Established, mp_update(&bad), n(3, 9, &bad)));
    }
    {
        let bad = attr(ONT, 14, &[0, 2, 1, 16]);
        v.push(case("upd-mp-reach-len-4", "RFC 7606 §5.3: MP_REACH shorter than 5", Established, mp_update(&bad), n(3, 9, &bad)));
    }
    {
        let bad = attr(ONT, 15, &[0, 2]);
        v.push(case("upd-mp-unreach-len-2", "RFC 7606 §5.3: MP_UNREACH shorter than 3", Established, update(&[], &bad, &[]), n(3, 9, &bad)));
    }
    {
        let bad = mp_reach(2, 1, &V6_NH, &[129, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        v.push(case("upd-mp-reach-prefix-129", "RFC 7606 §5.3: IPv6 prefix length > 128", Established, mp_update(&bad), n(3, 9, &bad)));
    }
    {
        let bad = mp_reach(2, 1, &V6_NH, &[64, 0x20, 1]);
        v.push(case("upd-mp-reach-prefix-overrun", "RFC 7606 §5.3: last MP prefix overruns the attribute", Established, mp_update(&bad), n(3, 9, &bad)));
    }
    {
        let bad = { let mut a = mp6.clone(); a[0] = OT; a };
        v.push(case("upd-mp-reach-transitive", "RFC 7606 §5.3: MP_REACH flags inconsistent with RFC 4760", Established, mp_update(&bad), n(3, 9, &bad)));
    }
    v.push(case("upd-mp-reach-unnegotiated", "D3: MP_REACH of a family not negotiated (IPv4 VPN) is ignored", Established, mp_update(&mp_reach(1, 128, &[0; 12], &[])), Survive));
    v.push(case("upd-mp-reach-v6-valid", "RFC 4760 §3: IPv6 route accepted (control)", Established, mp_update(&mp6), Accept("received 1 routes and 0 withdrawals")));
    v.push(case("upd-no-attributes-with-nlri", "RFC 7606 §3 (d): NLRI without any attribute: TAW (V5 FRR PR #14260, CVE-2023-38802 family)", Established, update(&[], &[], &victim()), Taw));
    v.push(case("upd-end-of-rib", "RFC 4724 §2: empty UPDATE is End-of-RIB, not an error (V7 FRR 6814f2e013)", Established, update(&[], &[], &[]), Survive));
    v.push(case("upd-end-of-rib-v6", "RFC 4724 §2: MP_UNREACH with no NLRI is the IPv6 End-of-RIB", Established, update(&[], &mp_unreach(2, 1, &[]), &[]), Survive));
    v.push(case("upd-withdraw-and-announce", "RFC 4271 §4.3: same prefix withdrawn and announced counts as announced", Established, update(&victim(), &base(), &victim()), Accept("received 1 routes and 1 withdrawals")));
    v.push(case("upd-mp-unreach-then-nlri", "RFC 7606 §5.1: any combination accepted (V7 FRR c37119df45)", Established, update(&[], &[mp_unreach(2, 1, &V6_PREFIX), base()].concat(), &victim()), Accept("received 1 routes and 1 withdrawals")));
    v.push(case("upd-trailing-bits", "RFC 4271 §4.3: trailing bits of a prefix are irrelevant (203.0.113/23)", Established, update(&[], &base(), &[23, 203, 0, 113]), Accept("received 1 routes and 0 withdrawals")));

    // --- Per-attribute rules (RFC 7606 §7; EH 1.4 table) ---------------------------------
    v.push(case("attr-origin-len-2", "RFC 7606 §7.1: ORIGIN length != 1: TAW", Established, with_origin(attr(WK, 1, &[0, 0])), Taw));
    v.push(case("attr-origin-value-3", "RFC 7606 §7.1: undefined ORIGIN value: TAW", Established, with_origin(origin(3)), Taw));
    v.push(case("attr-origin-optional-flag", "RFC 7606 §3 (c): flags conflict: TAW", Established, with_origin(attr(OT, 1, &[0])), Taw));
    v.push(case("attr-origin-reserved-bits", "RFC 4271 §4.3: low-order flag bits ignored (V17 OpenBGPD/NANOG)", Established, with_origin(attr(WK | 0x0f, 1, &[0])), Accept("received 1 routes and 0 withdrawals")));
    v.push(case("attr-origin-extended-length", "RFC 4271 §4.3: Extended Length on a short attribute is legal", Established, with_origin(attr(WK | EXTENDED, 1, &[0])), Accept("received 1 routes and 0 withdrawals")));
    v.push(case("attr-origin-duplicate", "RFC 7606 §3 (g): repeated attribute, keep the first", Established, upd(&[origin(0), origin(2), as_path(&[PEER_AS]), next_hop(NH)].concat()), Accept("received 1 routes and 0 withdrawals")));
    v.push(case("attr-as-path-seg-type-5", "RFC 7606 §7.2: unknown segment type: TAW", Established, with_as_path(attr(WK, 2, &segment(5, &[PEER_AS]))), Taw));
    v.push(case("attr-as-path-seg-overrun", "RFC 7606 §7.2: segment overrun: TAW (V13 CVE-2026-49943 BIRD)", Established, with_as_path(attr(WK, 2, &[2, 3, 0, 0, 0xfd, 0xe9])), Taw));
    v.push(case("attr-as-path-seg-len-0", "RFC 7606 §7.2: zero segment length: TAW", Established, with_as_path(attr(WK, 2, &[[2, 0].to_vec(), segment(2, &[PEER_AS])].concat())), Taw));
    v.push(case("attr-as-path-underrun", "RFC 7606 §7.2: one octet after the last segment: TAW", Established, with_as_path(attr(WK, 2, &[segment(2, &[PEER_AS]), vec![2]].concat())), Taw));
    v.push(case("attr-as-path-as0", "RFC 7607 §2: AS 0 in AS_PATH: TAW", Established, with_as_path(as_path(&[PEER_AS, 0])), Taw));
    v.push(case("attr-as-path-as-set", "D7, RFC 9774: AS_SET: TAW", Established, with_as_path(attr(WK, 2, &[segment(2, &[PEER_AS]), segment(1, &[64600, 64601])].concat())), Taw));
    v.push(case("attr-as-path-confed-seq", "RFC 5065 / EH table: AS_CONFED_SEQUENCE on plain eBGP: TAW", Established, with_as_path(attr(WK, 2, &[segment(3, &[64700]), segment(2, &[PEER_AS])].concat())), Taw));
    v.push(case("attr-as-path-confed-set", "D7: AS_CONFED_SET: TAW", Established, with_as_path(attr(WK, 2, &[segment(2, &[PEER_AS]), segment(4, &[64700])].concat())), Taw));
    v.push(case("attr-as-path-first-as", "D8, RFC 7606 §3: leftmost AS not the peer's: TAW", Established, with_as_path(as_path(&[64999, PEER_AS])), Taw));
    v.push(case("attr-next-hop-len-5", "RFC 7606 §7.3: NEXT_HOP length != 4: TAW", Established, with_next_hop(attr(WK, 3, &[192, 0, 2, 1, 0])), Taw));
    v.push(case("attr-next-hop-loopback", "D5, RFC 4271 §6.3: martian next hop: route withdrawn", Established, with_next_hop(next_hop([127, 0, 0, 1])), Withdrawn));
    v.push(case("attr-next-hop-multicast", "D5: multicast next hop: route withdrawn", Established, with_next_hop(next_hop([224, 0, 0, 5])), Withdrawn));
    v.push(case("attr-med-len-3", "RFC 7606 §7.4: MED length != 4: TAW", Established, plus(&attr(ONT, 4, &[0, 0, 1])), Taw));
    v.push(case("attr-med-len-0", "RFC 7606 §4: zero length is an error for MED (V5 FRR PR #14260)", Established, plus(&attr(ONT, 4, &[])), Taw));
    v.push(case("attr-local-pref-ebgp", "RFC 7606 §7.5: LOCAL_PREF from eBGP: discard", Established, plus(&attr(WK, 5, &[0, 0, 0, 100])), Discard));
    v.push(case("attr-atomic-aggregate-len-1", "RFC 7606 §7.6: discard", Established, plus(&attr(WK, 6, &[0])), Discard));
    v.push(case("attr-aggregator-len-7", "RFC 7606 §7.7: AGGREGATOR not 8 octets on a 4-octet session: discard (V10 FRR PR #22290)", Established, plus(&attr(OT, 7, &[0, 0, 0xfd, 0xe9, 10, 0, 0])), Discard));
    v.push(case("attr-aggregator-as0", "RFC 7607 §2: AS 0 in AGGREGATOR: discard", Established, plus(&attr(OT, 7, &[0, 0, 0, 0, 10, 0, 0, 2])), Discard));
    v.push(case("attr-communities-len-5", "RFC 7606 §7.8: not a multiple of 4: TAW", Established, plus(&attr(OT, 8, &[0xfd, 0xe9, 0, 1, 0])), Taw));
    v.push(case("attr-communities-len-0", "RFC 7606 §7.8: zero length: TAW", Established, plus(&attr(OT, 8, &[])), Taw));
    v.push(case("attr-originator-id-ebgp", "RFC 7606 §7.9: ORIGINATOR_ID from eBGP: discard", Established, plus(&attr(ONT, 9, &[10, 0, 0, 9])), Discard));
    v.push(case("attr-cluster-list-ebgp", "RFC 7606 §7.10: CLUSTER_LIST from eBGP: discard", Established, plus(&attr(ONT, 10, &[10, 0, 0, 9])), Discard));
    v.push(case("attr-ext-communities-len-7", "RFC 7606 §7.14: not a multiple of 8: TAW", Established, plus(&attr(OT, 16, &[0, 2, 0, 1, 0, 0, 0])), Taw));
    v.push(case("attr-ext-communities-unknown-type", "RFC 7606 §7.14: an unknown type is NOT an error", Established, plus(&attr(OT, 16, &[0x7e, 0x7f, 1, 2, 3, 4, 5, 6])), Accept("received 1 routes and 0 withdrawals")));
    v.push(case("attr-as4-path-from-as4-peer", "RFC 6793 §6: AS4_PATH from a 4-octet peer: discard (V15 OpenBGPD)", Established, plus(&attr(OT, 17, &segment(2, &[PEER_AS]))), Discard));
    v.push(case("attr-as4-aggregator-from-as4-peer", "RFC 6793 §6: AS4_AGGREGATOR from a 4-octet peer: discard", Established, plus(&attr(OT, 18, &[0, 0, 0xfd, 0xe9, 10, 0, 0, 2])), Discard));
    v.push(case("attr-ipv6-ext-communities-len-19", "RFC 7606 §7.15: not a multiple of 20: TAW", Established, plus(&attr(OT, 25, &[0; 19])), Taw));
    v.push(case("attr-large-community-len-11", "RFC 8092 §6: not a multiple of 12: TAW", Established, plus(&attr(OT, 32, &[0; 11])), Taw));
    v.push(case("attr-large-community-len-0", "RFC 8092 §6: zero length: TAW", Established, plus(&attr(OT, 32, &[])), Taw));
    v.push(case("attr-otc-len-3", "RFC 9234 §5: OTC length != 4: TAW (V14 INEX OTC incident)", Established, plus(&attr(OT, 35, &[0, 0, 1])), Taw));
    // AIGP (26) and Prefix-SID (40) are not modelled by bgp-proto: they are unknown optional
    // attributes, kept raw and never used (bgpd re-advertises nothing it receives), which is
    // the effect EH asks for (attribute discard / "ignore and do not propagate"), without a
    // discard log line. Pinned as: route accepted, session kept.
    v.push(case("attr-aigp-malformed", "RFC 7311 / EH: malformed AIGP never resets; route kept", Established, plus(&attr(ONT, 26, &[1, 0])), Accept("received 1 routes and 0 withdrawals")));
    v.push(case("attr-prefix-sid-malformed", "RFC 8669 §6: malformed Prefix-SID never resets; route kept (V9 FRR PR #15628)", Established, plus(&attr(OT, 40, &[1])), Accept("received 1 routes and 0 withdrawals")));
    v.push(case("attr-tunnel-encap-garbage", "V3 CVE-2023-38802 / VU#347067: one odd transitive attribute must never reset the session", Established, plus(&attr(OT, 23, &[0xff; 7])), Accept("received 1 routes and 0 withdrawals")));
    v.push(case("attr-unknown-optional-transitive", "RFC 4271 §5: accepted and kept", Established, plus(&attr(OT, 99, &[1, 2, 3])), Accept("received 1 routes and 0 withdrawals")));
    v.push(case("attr-unknown-well-known", "D1: unrecognised well-known attribute: TAW", Established, plus(&attr(WK, 99, &[1])), Taw));
    v.push(case("attr-missing-origin", "RFC 7606 §3 (d): missing ORIGIN: TAW", Established, upd(&[as_path(&[PEER_AS]), next_hop(NH)].concat()), Taw));
    v.push(case("attr-missing-as-path", "RFC 7606 §3 (d): missing AS_PATH: TAW", Established, upd(&[origin(0), next_hop(NH)].concat()), Taw));
    v.push(case("attr-missing-next-hop", "RFC 7606 §3 (d): missing NEXT_HOP with IPv4 NLRI: TAW", Established, upd(&[origin(0), as_path(&[PEER_AS])].concat()), Taw));
    v.push(case("attr-several-errors", "RFC 7606 §3 (h): bad ORIGIN and bad ATOMIC_AGGREGATE: the strongest (TAW)", Established, upd(&[origin(7), as_path(&[PEER_AS]), next_hop(NH), attr(WK, 6, &[1])].concat()), Taw));

    // --- iBGP and 2-octet-AS sessions (RFC 7606 §7.5, §7.9, §7.10; RFC 6793) ----------------
    v.push(ibgp(case("ibgp-open-bgp-id-ours", "RFC 6286 §2.2: on iBGP a BGP Identifier equal to ours is 2/3", OpenSent, wire::open(BGPD_AS, 0, [10, 0, 0, 1]), n(2, 3, &[]))));
    v.push(with_open(case("open-as4-cap-twice-same", "D11: only conflicting 4-octet AS capabilities are an error; a repeat is accepted", Established, vec![], Survive), open_plus_cap(&cap_as4(PEER_AS))));
    v.push(ibgp(case("ibgp-local-pref-len-3", "RFC 7606 §7.5: iBGP LOCAL_PREF length != 4: TAW", Established, upd(&[origin(0), attr(WK, 2, &[]), next_hop(NH), attr(WK, 5, &[0, 0, 1])].concat()), Taw)));
    v.push(ibgp(case("ibgp-originator-id-len-3", "RFC 7606 §7.9: iBGP ORIGINATOR_ID length != 4: TAW", Established, upd(&[base_ibgp(), attr(ONT, 9, &[10, 0, 0])].concat()), Taw)));
    v.push(ibgp(case("ibgp-cluster-list-len-5", "RFC 7606 §7.10: iBGP CLUSTER_LIST not a multiple of 4: TAW", Established, upd(&[base_ibgp(), attr(ONT, 10, &[10, 0, 0, 8, 1])].concat()), Taw)));
    v.push(ibgp(case("ibgp-cluster-list-len-0", "RFC 7606 §7.10: iBGP CLUSTER_LIST of length 0: TAW", Established, upd(&[base_ibgp(), attr(ONT, 10, &[])].concat()), Taw)));
    v.push(ibgp(case("ibgp-reflected-route", "RFC 4456: ORIGINATOR_ID and CLUSTER_LIST on iBGP are valid", Established, upd(&[base_ibgp(), attr(ONT, 9, &[10, 0, 0, 9]), attr(ONT, 10, &[10, 0, 0, 8])].concat()), Accept("received 1 routes and 0 withdrawals"))));
    v.push(as2(case("as2-aggregator-len-8", "RFC 7606 §7.7: AGGREGATOR not 6 octets without 4-octet AS: discard", Established, upd(&[base_as2(), attr(OT, 7, &[0, 0, 0xfd, 0xe9, 10, 0, 0, 2])].concat()), Discard)));
    v.push(as2(case("as2-as4-path-valid", "RFC 6793 §4.2.3: AS_PATH [65001, AS_TRANS] + AS4_PATH [4200000001] from a 2-octet peer is merged", Established, upd(&[origin(0), attr(WK, 2, &[2, 2, 0xfd, 0xe9, 0x5b, 0xa0]), next_hop(NH), attr(OT, 17, &segment(2, &[4_200_000_001]))].concat()), Accept("received 1 routes and 0 withdrawals"))));
    v.push(as2(case("as2-as4-path-odd-len", "RFC 6793 §6: malformed AS4_PATH: discard (V15 OpenBGPD)", Established, upd(&[base_as2(), attr(OT, 17, &[2, 1, 0, 0, 0xfd])].concat()), Discard)));
    v.push(as2(case("as2-as4-aggregator-len-7", "RFC 6793 §6: malformed AS4_AGGREGATOR: discard", Established, upd(&[base_as2(), attr(OT, 18, &[0, 0, 0xfd, 0xe9, 10, 0, 0])].concat()), Discard)));
    v.push(as2(case("as2-as-path-as0", "RFC 7607 §2: AS 0 in a 2-octet AS_PATH: TAW", Established, upd(&[origin(0), attr(WK, 2, &[2, 2, 0xfd, 0xe9, 0, 0]), next_hop(NH)].concat()), Taw)));

    // --- Timing and volume (EH 1.7) ------------------------------------------------------
    v.push(with_send(case("time-drip-update", "RFC 4271 §4.1: a message may arrive one octet at a time", Established, vec![], Accept("received 1 routes and 0 withdrawals")), Send::Drip(announce(VICTIM), Duration::from_millis(15))));
    v.push(with_open(with_send(case("time-drip-keepalive-past-hold", "EH 1.7: only complete messages restart the hold timer: 4/0", Established, vec![], n(4, 0, &[])), Send::Drip(keepalive(), Duration::from_millis(250))), wire::open(PEER_AS, 3, ID)));
    v.push(with_send(case("time-keepalive-flood", "EH 1.7: 5,000 KEEPALIVEs back to back", Established, vec![], Survive), Send::Repeat(keepalive(), 5000)));
    v.push(with_send(case("time-update-flood", "EH 1.7: 1,000 UPDATEs back to back, all accepted", Established, vec![], AcceptMany(1000)), Send::Many((0..1000u32).map(|i| update(&[], &base(), &prefix4([100, 64, (i >> 8) as u8, i as u8], 32))).collect())));
    v.push(with_send(case("time-hangup-mid-message", "RFC 4271 §8.2.2: TCP closes inside a message; no crash", Established, vec![], SilentClose("connection closed by peer without NOTIFICATION")), Send::Hangup(announce(VICTIM)[..30].to_vec())));
    v.push(with_send(case("time-split-messages", "RFC 4271 §4.1: two messages in three writes at odd boundaries", Established, vec![], Accept("received 1 routes and 0 withdrawals")), Send::Many({
        let both = [announce(VICTIM), keepalive()].concat();
        vec![both[..7].to_vec(), both[7..40].to_vec(), both[40..].to_vec()]
    })));
    v.push(with_send(case("time-coalesced-handshake", "RFC 4271 §4.1: OPEN, KEEPALIVE and UPDATE in one segment", OpenSent, vec![], Accept("received 1 routes and 0 withdrawals")), Send::Bytes([wire::open(PEER_AS, 0, ID), keepalive(), announce(VICTIM)].concat())));

    v
}

// ---------------------------------------------------------------------------------------
// The runner

fn peer_addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, (i + 1) as u8))
}

fn peer_name(i: usize) -> String {
    format!("h{i:03}")
}

fn send_hostile(raw: &mut RawPeer, send: &Send) -> Result<(), String> {
    match send {
        Send::Bytes(b) if b.is_empty() => Ok(()),
        Send::Bytes(b) => raw.send(b).map_err(|e| format!("send: {e}")),
        // bgpd may close mid-drip (4/0): later writes failing is expected.
        Send::Drip(b, gap) => {
            let _ = raw.drip(b, *gap);
            Ok(())
        }
        Send::Repeat(b, n) => {
            let all: Vec<u8> = b.iter().copied().cycle().take(b.len() * n).collect();
            raw.send(&all).map_err(|e| format!("send: {e}"))
        }
        Send::Many(list) => {
            for m in list {
                raw.send(m).map_err(|e| format!("send: {e}"))?;
            }
            Ok(())
        }
        Send::Hangup(b) => {
            raw.send(b).map_err(|e| format!("send: {e}"))?;
            Ok(())
        }
    }
}

fn run_case(d: &Daemon, i: usize, c: &Case) -> Result<String, String> {
    let addr = peer_addr(i);
    let who = label(&peer_name(i), addr);
    let recv1 = format!("received 1 routes and 0 withdrawals from {who}");
    let mut raw = RawPeer::connect(d.listen, addr).map_err(|e| format!("connect: {e}"))?;
    match c.when {
        OpenSent => {}
        OpenConfirm => raw.send(&c.open).map_err(|e| format!("send OPEN: {e}"))?,
        Established => {
            raw.handshake(&c.open, WAIT)?;
        }
    }
    // A TAW/withdrawn case first installs the victim route it will poison.
    if matches!(c.expect, Taw | Withdrawn) {
        raw.send(&announce_on(c.kind, VICTIM))
            .map_err(|e| format!("send victim: {e}"))?;
        if d.wait_count(WAIT, 1, &[&recv1]) < 1 {
            return Err("the victim route was never accepted".into());
        }
    }
    send_hostile(&mut raw, &c.send)?;
    if let (Send::Hangup(_), SilentClose(fragment)) = (&c.send, &c.expect) {
        drop(raw);
        let down = format!("session with {who} down");
        return match d.wait_count(WAIT, 1, &[&down, fragment]) {
            0 => Err(format!(
                "no log line with '{fragment}': {:?}",
                d.lines_with(&down)
            )),
            _ => Ok(format!("logged '{fragment}'")),
        };
    }
    // Routes accepted before the sentinel (one recv1 line each).
    let mut accepted_before = 0;
    match &c.expect {
        Notify(code, subcode, data) => {
            let got = raw.expect_notification(WAIT)?;
            let want = Notif {
                code: *code,
                subcode: *subcode,
                data: data.clone(),
            };
            if got != want {
                return Err(format!("got NOTIFICATION {got}, want {want}"));
            }
            raw.expect_closed(WAIT)
                .map_err(|e| format!("after the NOTIFICATION: {e}"))?;
            return Ok(format!("NOTIFICATION {got}"));
        }
        SilentClose(fragment) => {
            let kinds = raw.expect_closed(WAIT)?;
            if kinds.contains(&NOTIFICATION) {
                return Err(format!(
                    "bgpd answered with a NOTIFICATION (got types {kinds:?})"
                ));
            }
            let down = format!("session with {who} down");
            if d.wait_count(WAIT, 1, &[&down, fragment]) == 0 {
                return Err(format!(
                    "no log line with '{fragment}': {:?}",
                    d.lines_with(&down)
                ));
            }
            return Ok(format!("closed without NOTIFICATION, logged '{fragment}'"));
        }
        Taw => {
            let taw = format!("UPDATE from {who} treated as withdraw");
            if d.wait_count(WAIT, 1, &[&taw]) == 0 {
                return Err(format!(
                    "no treat-as-withdraw line; peer lines: {:?}",
                    d.lines_with(&who)
                ));
            }
            let gone = format!("received 0 routes and 1 withdrawals from {who}");
            if d.wait_count(WAIT, 1, &[&gone]) == 0 {
                return Err("the victim route was not withdrawn".into());
            }
            accepted_before = 1;
        }
        Withdrawn => {
            let gone = format!("received 0 routes and 1 withdrawals from {who}");
            if d.wait_count(WAIT, 1, &[&gone]) == 0 {
                return Err(format!(
                    "the victim route was not withdrawn; peer lines: {:?}",
                    d.lines_with(&who)
                ));
            }
            accepted_before = 1;
        }
        Discard => {
            let discarded = format!("from {who} discarded");
            if d.wait_count(WAIT, 1, &["attribute", &discarded]) == 0 {
                return Err(format!(
                    "no attribute-discard line; peer lines: {:?}",
                    d.lines_with(&who)
                ));
            }
            if d.wait_count(WAIT, 1, &[&recv1]) == 0 {
                return Err("the route with the discarded attribute was not accepted".into());
            }
            accepted_before = 1;
        }
        Accept(line) => {
            let want = format!("{line} from {who}");
            if d.wait_count(WAIT, 1, &[&want]) == 0 {
                return Err(format!("no '{want}'; peer lines: {:?}", d.lines_with(&who)));
            }
            accepted_before = d.count_log(&[&recv1]);
        }
        AcceptMany(k) => {
            if d.wait_count(Duration::from_secs(60), *k, &[&recv1]) < *k {
                return Err(format!(
                    "only {} of {k} routes accepted",
                    d.count_log(&[&recv1])
                ));
            }
            accepted_before = *k;
        }
        Survive => {}
    }
    // The sentinel: proves the session survived and the hostile bytes were fully consumed.
    raw.send(&announce_on(c.kind, SENTINEL))
        .map_err(|e| format!("send sentinel: {e}"))?;
    if d.wait_count(WAIT, accepted_before + 1, &[&recv1]) < accepted_before + 1 {
        return Err(format!(
            "sentinel not accepted; peer lines: {:?}",
            d.lines_with(&who)
        ));
    }
    raw.expect_no_notification(Duration::from_millis(200))?;
    // The Adj-RIB-In itself (control API): the sentinel is there, a poisoned victim is not.
    let rib = d.received(&peer_name(i))?;
    let sentinel = "198.51.100.0/24";
    let victim = "203.0.113.0/24";
    if !rib.iter().any(|p| p == sentinel) {
        return Err(format!("sentinel missing from the Adj-RIB-In: {rib:?}"));
    }
    match c.expect {
        Taw | Withdrawn if rib.iter().any(|p| p == victim) => {
            return Err(format!("victim still in the Adj-RIB-In: {rib:?}"));
        }
        Discard if !rib.iter().any(|p| p == victim) => {
            return Err(format!("route with a discarded attribute missing: {rib:?}"));
        }
        AcceptMany(k) if rib.len() != k + 1 => {
            return Err(format!(
                "Adj-RIB-In holds {} routes, want {}",
                rib.len(),
                k + 1
            ));
        }
        _ => {}
    }
    Ok(format!(
        "survived; sentinel accepted after {accepted_before} route(s); Adj-RIB-In {} route(s)",
        rib.len()
    ))
}

/// The second peer: Established before the cases start, sends a KEEPALIVE every second, and
/// records anything that would mean its session broke.
struct Witness {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<usize, String>>,
}

fn start_witness(d: &Daemon, addr: IpAddr) -> Witness {
    let mut raw = RawPeer::connect(d.listen, addr).expect("witness connect");
    raw.handshake(&wire::open(WITNESS_AS, 9, [10, 0, 0, 3]), WAIT)
        .expect("witness handshake");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut keepalives = 0usize;
        let mut last = Instant::now();
        while !s.load(Ordering::Relaxed) {
            if last.elapsed() >= Duration::from_secs(1) {
                raw.send(&keepalive())
                    .map_err(|e| format!("witness send: {e}"))?;
                last = Instant::now();
            }
            match raw.recv(Duration::from_millis(200)) {
                Received::Message { kind: 3, bytes } => {
                    return Err(format!("witness got a NOTIFICATION: {bytes:02x?}"))
                }
                Received::Message { kind: 4, .. } => keepalives += 1,
                Received::Message { .. } | Received::Timeout => {}
                Received::Closed => return Err("bgpd closed the witness session".into()),
            }
        }
        Ok(keepalives)
    });
    Witness { stop, thread }
}

/// (case index, outcome, duration).
type CaseResult = (usize, Result<String, String>, Duration);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn hostile_peers() {
    let cases = cases();
    assert!(cases.len() >= 60, "the ledger has {} cases", cases.len());
    assert!(cases.len() < 250, "one 127.0.1.x address per case");
    let mut peers: Vec<DaemonPeer> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| DaemonPeer {
            name: peer_name(i),
            address: peer_addr(i),
            asn: if c.kind == Kind::Ibgp {
                BGPD_AS
            } else {
                PEER_AS
            },
            extra: vec![],
        })
        .collect();
    let witness_addr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    peers.push(DaemonPeer {
        name: "witness".into(),
        address: witness_addr,
        asn: WITNESS_AS,
        extra: vec![],
    });
    let listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_port());
    let mut d = Daemon::start("hostile", BGPD_AS, listen, &[], &peers);
    let started = Instant::now();
    let witness = start_witness(&d, witness_addr);

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<CaseResult>> = Mutex::new(Vec::new());
    let only = std::env::var("HOSTILE_ONLY").ok();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = cases.get(i) else { break };
                if only.as_deref().is_some_and(|o| !c.id.contains(o)) {
                    continue;
                }
                let t = Instant::now();
                let r = run_case(&d, i, c);
                results.lock().unwrap().push((i, r, t.elapsed()));
            });
        }
    });

    // Checked before the witness hangs up (its own close is logged as "down" too).
    let witness_down = d.count_log(&["session with witness", "down"]);
    witness.stop.store(true, Ordering::Relaxed);
    let witness_result = witness.thread.join().expect("witness thread");
    let alive = d.running();
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    let mut failed = Vec::new();
    println!("{:<40} {:>6}  result", "case", "secs");
    for (i, r, t) in &results {
        let c = &cases[*i];
        match r {
            Ok(what) => println!("{:<40} {:>6.1}  ok: {what}", c.id, t.as_secs_f64()),
            Err(e) => {
                println!(
                    "{:<40} {:>6.1}  FAILED: {e}\n    expected {:?} ({})",
                    c.id,
                    t.as_secs_f64(),
                    c.expect,
                    c.cite
                );
                failed.push(c.id);
            }
        }
    }
    println!(
        "{} cases, {} failed, {:.1} s; witness: {:?}",
        results.len(),
        failed.len(),
        started.elapsed().as_secs_f64(),
        witness_result
    );
    if !failed.is_empty() || witness_result.is_err() || witness_down > 0 || !alive {
        println!("---- bgpd log (last 150 lines) ----");
        let log = d.log_text();
        let lines: Vec<&str> = log.lines().collect();
        let interesting: Vec<&&str> = lines
            .iter()
            .filter(|l| !l.contains("received 1 routes"))
            .collect();
        for l in &interesting[interesting.len().saturating_sub(150)..] {
            println!("{l}");
        }
    }
    assert!(alive, "bgpd died during the hostile suite");
    assert!(witness_result.is_ok(), "witness: {witness_result:?}");
    assert_eq!(witness_down, 0, "the witness session went down");
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

/// RFC 4271 §8.2.2 OpenSent: a peer that connects and never sends its OPEN is dropped when
/// the large OPEN-wait hold timer expires (4/0). The default is 240 s; this peer sets
/// `open_hold_time = 4` so the case runs in seconds, and checks the expiry is neither early nor
/// late.
#[test]
fn hostile_no_open_hold_timer_expires() {
    let addr = IpAddr::V4(Ipv4Addr::new(127, 0, 2, 1));
    let peers = [DaemonPeer {
        name: "silent".into(),
        address: addr,
        asn: PEER_AS,
        extra: vec!["open_hold_time = 4".into()],
    }];
    let listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_port());
    let d = Daemon::start("hostile-no-open", BGPD_AS, listen, &[], &peers);
    let mut raw = RawPeer::connect(d.listen, addr).expect("connect");
    let t = Instant::now();
    raw.expect_open(WAIT).expect("bgpd's OPEN");
    let got = raw
        .expect_notification(Duration::from_secs(30))
        .expect("NOTIFICATION");
    assert_eq!((got.code, got.subcode), (4, 0), "got {got}");
    // Jitter (RFC 4271 §10) may shorten the timer by up to 25 %.
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(2900) && waited <= Duration::from_secs(8),
        "after {waited:?}"
    );
}
