//! The decision process for one prefix: RFC 4271 §9.1.2 (with RFC 4456 §9, RFC 5065 §5.3
//! and RFC 9494 §4.3), then the multipath rule and the member weights.
//!
//! Selection works on the set of candidate paths, step by step, as §9.1.2.2 is written: each
//! step keeps the paths that are best on its criterion and removes the others. The MED step
//! compares only paths from the same neighbouring AS, so it is not a pairwise order; working
//! on sets keeps the result independent of the order the paths arrived in. Ranking the paths
//! (for `max_paths` and for display) repeats the selection on what is left.

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use bgp_proto::Origin;

use crate::weight::{self, Weighting};
use crate::{Kind, Path, Peer, RibConfig};

/// The degree of preference of a path whose LOCAL_PREF is unknown: an eBGP-learned path (no
/// import policy sets one, RFC 4271 §9.1.1) or an iBGP path without the attribute. 100 is what
/// FRR, BIRD and most vendors use.
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// One step of the decision process, in the order it runs. A path that is not the best
/// "lost at" the first step where another path was better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// RFC 9494 §4.3: a path carrying the LLGR_STALE community is less preferred than any
    /// path without it (runs before the degree of preference).
    LlgrStale,
    /// RFC 4271 §9.1.2.1 / §9.1.1: the highest degree of preference wins (LOCAL_PREF for
    /// iBGP-learned paths, [`DEFAULT_LOCAL_PREF`] for eBGP-learned ones).
    LocalPref,
    /// RFC 4271 §9.1.2.2 (a): the shortest AS_PATH wins; an AS_SET counts as one, and
    /// confederation segments do not count (RFC 5065 §5.3).
    AsPathLength,
    /// RFC 4271 §9.1.2.2 (b): the lowest ORIGIN wins (IGP < EGP < INCOMPLETE).
    Origin,
    /// RFC 4271 §9.1.2.2 (c): among paths from the same neighbouring AS, the lowest
    /// MULTI_EXIT_DISC wins; a missing MED counts as 0.
    Med,
    /// RFC 4271 §9.1.2.2 (d): a path learned over eBGP wins over one learned over iBGP.
    ExternalOverInternal,
    // RFC 4271 §9.1.2.2 (e), lowest interior cost to the next hop, does not apply: this
    // speaker runs no IGP and resolves no next hop recursively, so every reachable next hop
    // costs the same and the step removes nothing. It has no variant, so it never decides.
    /// RFC 4271 §9.1.2.2 (f): the lowest BGP Identifier of the advertising speaker wins; the
    /// ORIGINATOR_ID stands in for it when present (RFC 4456 §9).
    BgpIdentifier,
    /// RFC 4456 §9 (inserted between (f) and (g)): the shorter CLUSTER_LIST wins.
    ClusterListLength,
    /// RFC 4271 §9.1.2.2 (g): the lowest peer address wins.
    PeerAddress,
    /// Ours, after the RFC's last step: paths from the same peer (ADD-PATH, RFC 7911) are
    /// ordered by path identifier, then next hop, so the outcome never depends on arrival
    /// order. (RFC 5004's "prefer the oldest eBGP path" is not used for the same reason.)
    PathIdentifier,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::LlgrStale => "LLGR_STALE (RFC 9494 §4.3)",
            Step::LocalPref => "LOCAL_PREF (RFC 4271 §9.1.2.1)",
            Step::AsPathLength => "AS_PATH length (RFC 4271 §9.1.2.2 a)",
            Step::Origin => "ORIGIN (RFC 4271 §9.1.2.2 b)",
            Step::Med => "MED (RFC 4271 §9.1.2.2 c)",
            Step::ExternalOverInternal => "eBGP over iBGP (RFC 4271 §9.1.2.2 d)",
            Step::BgpIdentifier => "BGP Identifier (RFC 4271 §9.1.2.2 f)",
            Step::ClusterListLength => "CLUSTER_LIST length (RFC 4456 §9)",
            Step::PeerAddress => "peer address (RFC 4271 §9.1.2.2 g)",
            Step::PathIdentifier => "path identifier",
        })
    }
}

/// Why a path is not a member of the multipath set: the first rule it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// RFC 4271 §9.1.2: "routes ... whose NEXT_HOP ... is unresolvable" are excluded from
    /// the decision process.
    NextHopUnreachable,
    /// The path carries LLGR_STALE and the best does not (or the other way round).
    LlgrStale,
    /// A different degree of preference than the best path.
    LocalPref {
        /// This path's LOCAL_PREF (RFC 4271 §9.1.1).
        path: u32,
        /// The best path's LOCAL_PREF (RFC 4271 §9.1.1).
        best: u32,
    },
    /// A different AS_PATH length than the best path.
    AsPathLength {
        /// This path's AS_PATH length (RFC 4271 §9.1.2.2 a).
        path: usize,
        /// The best path's AS_PATH length (RFC 4271 §9.1.2.2 a).
        best: usize,
    },
    /// A different ORIGIN than the best path.
    Origin {
        /// This path's ORIGIN (RFC 4271 §9.1.2.2 b).
        path: Origin,
        /// The best path's ORIGIN (RFC 4271 §9.1.2.2 b).
        best: Origin,
    },
    /// The same neighbouring AS as the best path but a different MED.
    Med {
        /// This path's MULTI_EXIT_DISC (RFC 4271 §9.1.2.2 c).
        path: u32,
        /// The best path's MULTI_EXIT_DISC (RFC 4271 §9.1.2.2 c).
        best: u32,
    },
    /// A different neighbouring AS than the best path (multipath needs the same one unless
    /// `as_path_relax`).
    NeighbourAs {
        /// This path's neighbouring AS.
        path: u32,
        /// The best path's neighbouring AS.
        best: u32,
    },
    /// Learned over eBGP where the best was learned over iBGP, or the other way round.
    PeerKind {
        /// This path's session kind (RFC 4271 §9.1.2.2 d).
        path: Kind,
        /// The best path's session kind (RFC 4271 §9.1.2.2 d).
        best: Kind,
    },
    /// Its next hop is already a member (an earlier-ranked path has it).
    SameNextHop(IpAddr),
    /// Equal to the best, but `max_paths` members were already chosen.
    MaxPaths(u16),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NextHopUnreachable => write!(f, "next hop unreachable"),
            Reason::LlgrStale => write!(f, "LLGR_STALE differs from the best path"),
            Reason::LocalPref { path, best } => write!(f, "LOCAL_PREF {path} != {best}"),
            Reason::AsPathLength { path, best } => write!(f, "AS_PATH length {path} != {best}"),
            Reason::Origin { path, best } => {
                write!(f, "ORIGIN {} != {}", origin_name(*path), origin_name(*best))
            }
            Reason::Med { path, best } => write!(f, "MED {path} != {best}"),
            Reason::NeighbourAs { path, best } => {
                write!(f, "neighbouring AS {path} != {best} (as_path_relax is off)")
            }
            Reason::PeerKind { path, best } => write!(f, "{path} path, best is {best}"),
            Reason::SameNextHop(nh) => write!(f, "next hop {nh} already a member"),
            Reason::MaxPaths(n) => write!(f, "max_paths ({n}) reached"),
        }
    }
}

/// What the decision made of one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The best path (RFC 4271 §9.1.2); always a member of the multipath set.
    Best,
    /// Equal to the best under the multipath rule: a member of the set.
    Multipath,
    /// Not a member, and why.
    NotMultipath(Reason),
}

impl Verdict {
    /// Best or Multipath: its next hop is in the forwarding set.
    pub fn is_member(&self) -> bool {
        matches!(self, Verdict::Best | Verdict::Multipath)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Best => f.write_str("best"),
            Verdict::Multipath => f.write_str("multipath"),
            Verdict::NotMultipath(r) => write!(f, "not multipath: {r}"),
        }
    }
}

/// One path of a prefix with its verdict, in rank order.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The path.
    pub path: Path,
    /// Whether it forwards traffic, and if not, why.
    pub verdict: Verdict,
    /// The decision step where another path beat this one in the selection of the best;
    /// `None` for the best path and for paths excluded before selection.
    pub lost_at: Option<Step>,
    /// The weight of a member in the forwarding set; `None` for other paths.
    pub weight: Option<u32>,
    /// The path's link bandwidth (bytes per second), when it carries the community.
    pub bandwidth: Option<f32>,
    /// The LOCAL_PREF the decision compared (RFC 4271 §9.1.1; for display, as the
    /// following fields).
    pub local_pref: u32,
    /// The AS_PATH length compared (RFC 4271 §9.1.2.2 a; an AS_SET counts 1, confederation
    /// segments 0, RFC 5065 §5.3).
    pub as_path_len: usize,
    /// The neighbouring AS (RFC 4271 §9.1.2.2 c, neighborAS()): the first AS of the
    /// AS_PATH, or our AS for a route originated inside it.
    pub neighbour_as: u32,
    /// Learned over eBGP or iBGP (RFC 4271 §9.1.2.2 d).
    pub kind: Kind,
}

/// The outcome of the decision process for one prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Every path, best first, then in the order the decision process ranks them; paths
    /// excluded before selection (unreachable next hop) come last.
    pub paths: Vec<Ranked>,
    /// The forwarding set: `(next hop, weight)` per member, sorted by next hop. Empty when no
    /// path is usable.
    pub next_hops: Vec<(IpAddr, u32)>,
    /// How the weights were chosen.
    pub weighting: Weighting,
}

impl Decision {
    /// The best path, if any path is usable.
    pub fn best(&self) -> Option<&Ranked> {
        self.paths.first().filter(|r| r.verdict == Verdict::Best)
    }
}

/// The values one path is judged by, computed once per decision.
struct Cand<'a> {
    path: &'a Path,
    peer: &'a Peer,
    stale: bool,
    pref: u32,
    as_len: usize,
    origin: u8,
    med: u32,
    neighbour_as: u32,
    kind: Kind,
    bgp_id: Ipv4Addr,
    cluster_len: usize,
}

/// Runs the decision process over the paths of one prefix. `peer_of` gives each path's peer
/// (paths whose peer is unknown are skipped: the caller never stores such paths) and
/// `reachable` says whether a next hop resolves (RFC 4271 §9.1.2).
pub fn decide<'a>(
    paths: impl IntoIterator<Item = &'a Path>,
    peer_of: impl Fn(&Path) -> Option<&'a Peer>,
    reachable: impl Fn(IpAddr) -> bool,
    config: &RibConfig,
) -> Decision {
    let mut usable = Vec::new();
    let mut excluded = Vec::new();
    for path in paths {
        let Some(peer) = peer_of(path) else { continue };
        let c = candidate(path, peer);
        if reachable(path.next_hop) {
            usable.push(c);
        } else {
            excluded.push(c);
        }
    }
    let (order, lost_at) = rank(&usable);
    let mut ranked: Vec<(usize, Verdict)> = Vec::with_capacity(order.len());
    let mut members: Vec<usize> = Vec::new();
    if let Some(&best) = order.first() {
        ranked.push((best, Verdict::Best));
        members.push(best);
        for &i in order.iter().skip(1) {
            let verdict = match multipath_reason(&usable, best, i, &members, config) {
                None => {
                    members.push(i);
                    Verdict::Multipath
                }
                Some(r) => Verdict::NotMultipath(r),
            };
            ranked.push((i, verdict));
        }
    }
    let member_paths: Vec<&Path> = members
        .iter()
        .filter_map(|&i| usable.get(i))
        .map(|c| c.path)
        .collect();
    let (weights, weighting) = weight::weights(&member_paths);
    let mut next_hops: Vec<(IpAddr, u32)> = member_paths
        .iter()
        .zip(&weights)
        .map(|(p, w)| (p.next_hop, *w))
        .collect();
    next_hops.sort_unstable();
    let mut out: Vec<Ranked> = Vec::with_capacity(usable.len() + excluded.len());
    for (i, verdict) in ranked {
        let Some(c) = usable.get(i) else { continue };
        let weight = members
            .iter()
            .position(|&m| m == i)
            .and_then(|k| weights.get(k).copied());
        out.push(ranked_path(
            c,
            verdict,
            lost_at.get(i).copied().flatten(),
            weight,
        ));
    }
    excluded.sort_by(|a, b| tie_order(a, b));
    for c in &excluded {
        out.push(ranked_path(
            c,
            Verdict::NotMultipath(Reason::NextHopUnreachable),
            None,
            None,
        ));
    }
    Decision {
        paths: out,
        next_hops,
        weighting,
    }
}

fn ranked_path(
    c: &Cand<'_>,
    verdict: Verdict,
    lost_at: Option<Step>,
    weight: Option<u32>,
) -> Ranked {
    Ranked {
        path: c.path.clone(),
        verdict,
        lost_at,
        weight,
        bandwidth: c.path.attrs.bandwidth,
        local_pref: c.pref,
        as_path_len: c.as_len,
        neighbour_as: c.neighbour_as,
        kind: c.kind,
    }
}

fn candidate<'a>(path: &'a Path, peer: &'a Peer) -> Cand<'a> {
    let attrs = &path.attrs;
    let kind = peer.kind();
    // RFC 4271 §9.1.1: for an iBGP-learned route the degree of preference is its LOCAL_PREF;
    // for an eBGP-learned one it comes from local policy (we have none: the default), and a
    // LOCAL_PREF received over eBGP is ignored (§5.1.5).
    let pref = match kind {
        Kind::Internal => attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
        Kind::External => DEFAULT_LOCAL_PREF,
    };
    Cand {
        path,
        peer,
        stale: attrs.llgr_stale,
        pref,
        as_len: usize::from(attrs.as_path_len),
        origin: attrs.origin.code(),
        // §9.1.2.2 (c): "If the MULTI_EXIT_DISC attribute is removed before re-advertising a
        // route into IBGP, then comparison based on the received EBGP MULTI_EXIT_DISC
        // attribute MAY still be performed" -- and a missing MED counts as the lowest value.
        med: attrs.med.unwrap_or(0),
        neighbour_as: attrs.neighbour_as(peer.local_as),
        kind,
        // RFC 4456 §9: "If a route carries the ORIGINATOR_ID attribute, then in Step f) the
        // ORIGINATOR_ID SHOULD be treated as the BGP Identifier of the BGP speaker that has
        // advertised the route."
        bgp_id: attrs.originator_id.unwrap_or(peer.bgp_id),
        cluster_len: usize::from(attrs.cluster_len),
    }
}

/// Ranks the usable paths: repeated selection of the best among those left. Returns the
/// order and, for each path, the step at which it lost the first selection (the best's).
fn rank(cands: &[Cand<'_>]) -> (Vec<usize>, Vec<Option<Step>>) {
    let mut lost_at = vec![None; cands.len()];
    let mut left: Vec<usize> = (0..cands.len()).collect();
    let mut order = Vec::with_capacity(cands.len());
    let mut first = true;
    while !left.is_empty() {
        let (best, eliminated) = select(cands, &left);
        if first {
            for (i, step) in eliminated {
                if let Some(slot) = lost_at.get_mut(i) {
                    *slot = Some(step);
                }
            }
            first = false;
        }
        order.push(best);
        left.retain(|&i| i != best);
    }
    (order, lost_at)
}

/// One run of RFC 4271 §9.1.2.2 over `set` (indices into `cands`, not empty): the index of
/// the best path and the step at which each other path was removed.
fn select(cands: &[Cand<'_>], set: &[usize]) -> (usize, Vec<(usize, Step)>) {
    let mut left: Vec<usize> = set.to_vec();
    let mut eliminated = Vec::new();
    let c = |i: usize| cands.get(i);
    // The steps with a plain "best value wins" criterion, as (step, key); the lowest key wins.
    type Key = fn(&Cand<'_>) -> u64;
    let steps: [(Step, Key); 4] = [
        (Step::LlgrStale, |c| u64::from(c.stale)),
        (Step::LocalPref, |c| u64::from(u32::MAX - c.pref)),
        (Step::AsPathLength, |c| c.as_len as u64),
        (Step::Origin, |c| u64::from(c.origin)),
    ];
    for (step, key) in steps {
        keep_lowest(&mut left, &mut eliminated, step, |i| {
            c(i).map_or(u64::MAX, key)
        });
    }
    // (c) "remove from consideration all routes with less-preferred MULTI_EXIT_DISC
    // attributes ... only comparable between routes learned from the same neighboring AS".
    let lower_med_exists = |i: usize| {
        let Some(a) = c(i) else { return false };
        left.iter()
            .any(|&j| c(j).is_some_and(|b| b.neighbour_as == a.neighbour_as && b.med < a.med))
    };
    let (keep, gone): (Vec<usize>, Vec<usize>) = left.iter().partition(|&&i| !lower_med_exists(i));
    eliminated.extend(gone.into_iter().map(|i| (i, Step::Med)));
    left = keep;
    // (d) "If any of the candidate routes was learned via EBGP, remove from consideration
    // all routes that were learned via IBGP."
    keep_lowest(
        &mut left,
        &mut eliminated,
        Step::ExternalOverInternal,
        |i| c(i).map_or(u64::MAX, |c| u64::from(c.kind == Kind::Internal)),
    );
    // (e) interior cost: not applicable (see `Step`).
    keep_lowest(&mut left, &mut eliminated, Step::BgpIdentifier, |i| {
        c(i).map_or(u64::MAX, |c| u64::from(u32::from(c.bgp_id)))
    });
    keep_lowest(&mut left, &mut eliminated, Step::ClusterListLength, |i| {
        c(i).map_or(u64::MAX, |c| c.cluster_len as u64)
    });
    // (g) the lowest peer address; then ours (path id, next hop, peer id): a total order.
    let by_address = |a: &usize, b: &usize| match (c(*a), c(*b)) {
        (Some(x), Some(y)) => x.peer.address.cmp(&y.peer.address),
        _ => Ordering::Equal,
    };
    keep_min_by(&mut left, &mut eliminated, Step::PeerAddress, by_address);
    keep_min_by(
        &mut left,
        &mut eliminated,
        Step::PathIdentifier,
        |a, b| match (c(*a), c(*b)) {
            (Some(x), Some(y)) => tie_order(x, y),
            _ => Ordering::Equal,
        },
    );
    let best = left.first().copied().unwrap_or_default();
    (best, eliminated)
}

/// Keeps the paths with the lowest `key`; the others are eliminated at `step`.
fn keep_lowest(
    left: &mut Vec<usize>,
    eliminated: &mut Vec<(usize, Step)>,
    step: Step,
    key: impl Fn(usize) -> u64,
) {
    let Some(min) = left.iter().map(|&i| key(i)).min() else {
        return;
    };
    left.retain(|&i| {
        let keep = key(i) == min;
        if !keep {
            eliminated.push((i, step));
        }
        keep
    });
}

/// Keeps the paths equal to the minimum under `cmp`; the others are eliminated at `step`.
fn keep_min_by(
    left: &mut Vec<usize>,
    eliminated: &mut Vec<(usize, Step)>,
    step: Step,
    cmp: impl Fn(&usize, &usize) -> Ordering,
) {
    let Some(min) = left.iter().copied().min_by(&cmp) else {
        return;
    };
    left.retain(|i| {
        let keep = cmp(i, &min) == Ordering::Equal;
        if !keep {
            eliminated.push((*i, step));
        }
        keep
    });
}

/// The last tie-break, a total order: path identifier (`None` first), next hop, peer id.
fn tie_order(a: &Cand<'_>, b: &Cand<'_>) -> Ordering {
    (a.peer.address, a.path.path_id, a.path.next_hop, a.path.peer).cmp(&(
        b.peer.address,
        b.path.path_id,
        b.path.next_hop,
        b.path.peer,
    ))
}

/// The multipath rule for path `i` against the best path: `None` when it joins the set.
/// Equal degree of preference, AS_PATH length, ORIGIN; the same neighbouring AS (any, with
/// `as_path_relax`, like FRR's `bgp bestpath as-path multipath-relax`); equal MED when the
/// neighbouring AS is the same (MEDs of different ASes are not comparable, §9.1.2.2 c); the
/// same kind of session (eBGP/iBGP); a next hop not yet in the set; at most `max_paths`.
fn multipath_reason(
    cands: &[Cand<'_>],
    best: usize,
    i: usize,
    members: &[usize],
    config: &RibConfig,
) -> Option<Reason> {
    let (Some(b), Some(p)) = (cands.get(best), cands.get(i)) else {
        return Some(Reason::NextHopUnreachable);
    };
    if p.stale != b.stale {
        return Some(Reason::LlgrStale);
    }
    // A step where the path differs from the best names both values (`=> field` when the
    // value shown is not the one compared).
    macro_rules! differs {
        ($reason:ident: $key:ident) => {
            differs!($reason: $key => $key)
        };
        ($reason:ident: $key:ident => $($shown:ident).+) => {
            if p.$key != b.$key {
                return Some(Reason::$reason {
                    path: p.$($shown).+,
                    best: b.$($shown).+,
                });
            }
        };
    }
    differs!(LocalPref: pref);
    differs!(AsPathLength: as_len);
    differs!(Origin: origin => path.attrs.origin);
    if p.neighbour_as == b.neighbour_as {
        differs!(Med: med);
    } else if !config.as_path_relax {
        differs!(NeighbourAs: neighbour_as);
    }
    differs!(PeerKind: kind);
    let taken = members.iter().any(|&m| {
        cands
            .get(m)
            .is_some_and(|c| c.path.next_hop == p.path.next_hop)
    });
    if taken {
        return Some(Reason::SameNextHop(p.path.next_hop));
    }
    if members.len() >= usize::from(config.max_paths.get()) {
        return Some(Reason::MaxPaths(config.max_paths.get()));
    }
    None
}

fn origin_name(o: Origin) -> &'static str {
    match o {
        Origin::Igp => "IGP",
        Origin::Egp => "EGP",
        Origin::Incomplete => "INCOMPLETE",
    }
}
