//! The kernel side of [`Fib`]: one operation as rtnetlink requests, next-hop resolution (a
//! route lookup), and the dump that builds the mirror of our objects.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::link::{LinkFlags, LinkMessage};
use netlink_packet_route::route::{RouteAttribute, RouteType};
use netlink_packet_route::RouteNetlinkMessage;

use super::netlink::{self, NetlinkError, RtnlMessage};
use super::plan::{self, KernelState, NhId, Op, RouteTarget, Weight};
use super::wire::{self, NexthopMessage};
use super::{Fib, FibError, GroupKind, NextHopError};

impl Fib {
    pub(super) fn execute(&mut self, op: &Op) -> Result<(), FibError> {
        let s = self.settings;
        let kernel = |op: String| move |error: NetlinkError| FibError::Kernel { op, error };
        match op {
            Op::AddNexthop { id, gateway, oif } => {
                let m = NexthopMessage {
                    header: wire::NhHeader {
                        family: if gateway.is_ipv4() { 2 } else { 10 },
                        protocol: s.protocol,
                        ..Default::default()
                    },
                    id: Some(*id),
                    oif: Some(*oif),
                    gateway: Some(*gateway),
                    ..NexthopMessage::default()
                };
                self.nl
                    .request(
                        RtnlMessage::Nexthop(wire::RTM_NEWNEXTHOP, m),
                        NLM_F_CREATE | NLM_F_EXCL,
                    )
                    .map_err(kernel(format!("add next hop {gateway} (id {id})")))
            }
            Op::AddGroup { id, members, kind } | Op::ReplaceGroup { id, members, kind } => {
                let replace = matches!(op, Op::ReplaceGroup { .. });
                let m = group_message(*id, members, *kind, s.protocol);
                let flags = if replace {
                    NLM_F_REPLACE
                } else {
                    NLM_F_CREATE | NLM_F_EXCL
                };
                let what = if replace { "replace" } else { "add" };
                self.nl
                    .request(RtnlMessage::Nexthop(wire::RTM_NEWNEXTHOP, m), flags)
                    .map_err(kernel(format!("{what} group {id}")))
            }
            Op::ReplaceRoute { prefix, group } => {
                let ours = self.state.routes.contains_key(prefix);
                let m = netlink::route_message(*prefix, s.table, s.protocol, Some(*group));
                // A route that is not ours is never replaced: EXCL fails on it.
                let flags = if ours {
                    NLM_F_CREATE | NLM_F_REPLACE
                } else {
                    NLM_F_CREATE | NLM_F_EXCL
                };
                let r = self
                    .nl
                    .request(RtnlMessage::Route(RouteNetlinkMessage::NewRoute(m)), flags);
                match r {
                    Err(e) if !ours && e.errno() == Some(libc::EEXIST) => {
                        Err(FibError::ForeignRoute {
                            prefix: *prefix,
                            table: s.table,
                        })
                    }
                    r => r.map_err(kernel(format!("route {prefix} via group {group}"))),
                }
            }
            Op::DelRoute { prefix } => {
                let m = netlink::route_message(*prefix, s.table, s.protocol, None);
                match self
                    .nl
                    .request(RtnlMessage::Route(RouteNetlinkMessage::DelRoute(m)), 0)
                {
                    // Already gone (the kernel drops routes whose device went down).
                    Err(e) if e.errno() == Some(libc::ESRCH) => Ok(()),
                    r => r.map_err(kernel(format!("delete route {prefix}"))),
                }
            }
            Op::DelGroup { id } | Op::DelNexthop { id } => {
                let m = NexthopMessage {
                    id: Some(*id),
                    ..NexthopMessage::default()
                };
                match self
                    .nl
                    .request(RtnlMessage::Nexthop(wire::RTM_DELNEXTHOP, m), 0)
                {
                    Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
                    r => r.map_err(kernel(format!("delete next-hop object {id}"))),
                }
            }
        }
    }

    /// Whether `gw` can carry traffic now: a directly connected next hop (route lookup) whose
    /// device is up with carrier (`IFF_UP` and `IFF_LOWER_UP`). A route through a device that
    /// lost carrier stays in the table (marked `linkdown`), so the lookup alone would say yes.
    /// `Err` only when the kernel could not be asked.
    pub fn next_hop_usable(&mut self, gw: IpAddr) -> Result<bool, FibError> {
        let oif = match self.resolve(gw) {
            Ok(oif) => oif,
            Err(NextHopError::Lookup(error)) => {
                return Err(FibError::Kernel {
                    op: format!("look up next hop {gw}"),
                    error,
                })
            }
            Err(_) => return Ok(false),
        };
        let mut m = LinkMessage::default();
        m.header.index = oif;
        match self
            .nl
            .get(RtnlMessage::Route(RouteNetlinkMessage::GetLink(m)))
        {
            Ok(RtnlMessage::Route(RouteNetlinkMessage::NewLink(l))) => {
                Ok(l.header.flags.contains(LinkFlags::Up | LinkFlags::LowerUp))
            }
            Ok(_) => Ok(false),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(false),
            Err(error) => Err(FibError::Kernel {
                op: format!("read interface {oif} of next hop {gw}"),
                error,
            }),
        }
    }

    /// The device of a directly connected next hop (a route lookup, as `ip route get`).
    pub(super) fn resolve(&mut self, gw: IpAddr) -> Result<u32, NextHopError> {
        if let IpAddr::V6(a) = gw {
            if a.is_unicast_link_local() {
                return Err(NextHopError::LinkLocal);
            }
        }
        let reply = match self
            .nl
            .get(RtnlMessage::Route(RouteNetlinkMessage::GetRoute(
                netlink::lookup_message(gw),
            ))) {
            Ok(RtnlMessage::Route(RouteNetlinkMessage::NewRoute(m))) => m,
            Ok(_) => {
                return Err(NextHopError::Lookup(NetlinkError::Decode(
                    "the route lookup answered with another message".into(),
                )))
            }
            Err(e)
                if matches!(
                    e.errno(),
                    Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::ESRCH)
                ) =>
            {
                return Err(NextHopError::NoRoute)
            }
            Err(e) => return Err(NextHopError::Lookup(e)),
        };
        match reply.header.kind {
            RouteType::Unicast => {}
            RouteType::Local => return Err(NextHopError::Local),
            _ => return Err(NextHopError::NoRoute),
        }
        let mut oif = None;
        let mut via = None;
        for a in &reply.attributes {
            match a {
                RouteAttribute::Oif(o) => oif = Some(*o),
                RouteAttribute::Gateway(g) => via = route_addr(g),
                _ => {}
            }
        }
        match (oif, via) {
            (Some(oif), Some(via)) if via != gw => Err(NextHopError::NotConnected { via, oif }),
            (Some(oif), _) => Ok(oif),
            (None, _) => Err(NextHopError::NoRoute),
        }
    }

    /// Dumps next hops and routes and keeps what carries our protocol.
    pub(super) fn read_state(&mut self) -> Result<KernelState, FibError> {
        let s = self.settings;
        let nexthops = self
            .nl
            .dump(RtnlMessage::Nexthop(
                wire::RTM_GETNEXTHOP,
                NexthopMessage::default(),
            ))
            .map_err(nexthop_dump_error)?;
        let mut state = KernelState::default();
        let mut groups = Vec::new();
        for m in nexthops {
            let RtnlMessage::Nexthop(_, n) = m else {
                continue;
            };
            let Some(id) = n.id else { continue };
            if n.header.protocol != s.protocol {
                state.foreign_ids.insert(id);
                continue;
            }
            match (&n.group, n.gateway, n.oif) {
                (Some(_), _, _) => groups.push(n),
                (None, Some(gateway), Some(oif)) => {
                    state
                        .nexthops
                        .insert(id, plan::KernelNexthop { gateway, oif });
                }
                // A blackhole or other object with our number: never reused, never deleted.
                _ => {
                    state.foreign_ids.insert(id);
                }
            }
        }
        for n in groups {
            let (Some(id), Some(members)) = (n.id, n.group) else {
                continue;
            };
            let kind = match (n.group_type, n.res_group) {
                (Some(wire::GROUP_TYPE_RES), Some(r)) => GroupKind::Resilient {
                    buckets: r.buckets.unwrap_or(0),
                    idle_timer: r.idle_timer.unwrap_or(0) / wire::USER_HZ,
                    unbalanced_timer: r.unbalanced_timer.unwrap_or(0) / wire::USER_HZ,
                },
                (None, _) | (Some(wire::GROUP_TYPE_MPATH), _) => GroupKind::Multipath,
                _ => {
                    state.foreign_ids.insert(id);
                    continue;
                }
            };
            let members: Option<Vec<(NhId, Weight)>> = members
                .iter()
                .map(|e| {
                    state
                        .nexthops
                        .contains_key(&e.id)
                        .then_some(())
                        .and(Weight::new(e.weight))
                        .map(|w| (e.id, w))
                })
                .collect();
            match members {
                Some(members) => {
                    state.groups.insert(id, plan::KernelGroup { members, kind });
                }
                // A member we do not own or a weight we never set: left alone.
                None => {
                    state.foreign_ids.insert(id);
                }
            }
        }
        for v6 in [false, true] {
            let routes = self
                .nl
                .dump(RtnlMessage::Route(RouteNetlinkMessage::GetRoute(
                    netlink::route_dump_message(v6),
                )))
                .map_err(|error| FibError::Kernel {
                    op: "dump routes".into(),
                    error,
                })?;
            for m in routes {
                let RtnlMessage::Route(RouteNetlinkMessage::NewRoute(r)) = m else {
                    continue;
                };
                if u8::from(r.header.protocol) != s.protocol || netlink::route_table(&r) != s.table
                {
                    continue;
                }
                let Some(prefix) = netlink::route_prefix(&r) else {
                    continue;
                };
                let nh = r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::NhId(id) => Some(*id),
                    _ => None,
                });
                let target = match nh {
                    Some(id) if state.groups.contains_key(&id) => RouteTarget::Group(id),
                    nh => RouteTarget::Other { nh },
                };
                state.routes.insert(prefix, target);
            }
        }
        Ok(state)
    }
}

fn group_message(
    id: NhId,
    members: &[(NhId, Weight)],
    kind: GroupKind,
    protocol: u8,
) -> NexthopMessage {
    let (group_type, res_group) = match kind {
        GroupKind::Multipath => (wire::GROUP_TYPE_MPATH, None),
        GroupKind::Resilient {
            buckets,
            idle_timer,
            unbalanced_timer,
        } => (
            wire::GROUP_TYPE_RES,
            Some(wire::ResGroup {
                buckets: Some(buckets),
                idle_timer: Some(idle_timer.saturating_mul(wire::USER_HZ)),
                unbalanced_timer: Some(unbalanced_timer.saturating_mul(wire::USER_HZ)),
                unbalanced_time: None,
            }),
        ),
    };
    NexthopMessage {
        header: wire::NhHeader {
            protocol,
            ..Default::default()
        },
        id: Some(id),
        group: Some(
            members
                .iter()
                .map(|(m, w)| wire::GroupEntry {
                    id: *m,
                    weight: u32::from(w.get()),
                })
                .collect(),
        ),
        group_type: Some(group_type),
        res_group,
        ..NexthopMessage::default()
    }
}

/// A failed next-hop dump: a kernel without next-hop objects (before 5.3) does not know
/// `RTM_GETNEXTHOP` and answers `EOPNOTSUPP`.
fn nexthop_dump_error(e: NetlinkError) -> FibError {
    match e.errno() {
        Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) => FibError::Unsupported(e),
        _ => FibError::Kernel {
            op: "dump next hops".into(),
            error: e,
        },
    }
}

fn route_addr(a: &netlink_packet_route::route::RouteAddress) -> Option<IpAddr> {
    match a {
        netlink_packet_route::route::RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        netlink_packet_route::route::RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_without_next_hop_objects_is_named() {
        let e = nexthop_dump_error(NetlinkError::Kernel {
            errno: libc::EOPNOTSUPP,
            message: None,
        });
        assert_eq!(
            e.to_string(),
            "the kernel does not support next-hop objects (RTM_GETNEXTHOP: EOPNOTSUPP 95 \
             (Operation not supported)); Linux 5.3 or later is needed, 5.13 for resilient groups"
        );
        let e = nexthop_dump_error(NetlinkError::Kernel {
            errno: libc::EPERM,
            message: None,
        });
        assert!(matches!(e, FibError::Kernel { .. }));
    }

    #[test]
    fn group_requests_carry_type_buckets_and_timers_in_clock_t() {
        let w = |n| Weight::new(n).unwrap();
        let kind = GroupKind::Resilient {
            buckets: 64,
            idle_timer: 3,
            unbalanced_timer: 0,
        };
        let m = group_message(9, &[(1, w(1)), (2, w(256))], kind, 179);
        assert_eq!(m.header.protocol, 179);
        assert_eq!(m.group_type, Some(wire::GROUP_TYPE_RES));
        assert_eq!(
            m.res_group,
            Some(wire::ResGroup {
                buckets: Some(64),
                idle_timer: Some(300),
                unbalanced_timer: Some(0),
                unbalanced_time: None
            })
        );
        let m = group_message(9, &[(1, w(2))], GroupKind::Multipath, 179);
        assert_eq!(m.group_type, Some(wire::GROUP_TYPE_MPATH));
        assert_eq!(m.res_group, None);
        assert_eq!(m.group, Some(vec![wire::GroupEntry { id: 1, weight: 2 }]));
    }
}
