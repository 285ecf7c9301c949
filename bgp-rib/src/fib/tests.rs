use super::*;

const RES: GroupKind = GroupKind::Resilient {
    buckets: 64,
    idle_timer: 120,
    unbalanced_timer: 0,
};

fn a(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn p(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn set(hops: &[&str]) -> NextHopSet {
    let v: Vec<(IpAddr, u32)> = hops.iter().map(|h| (a(h), 1)).collect();
    NextHopSet::new(&v).unwrap()
}

fn changes(list: &[(&str, Option<NextHopSet>)]) -> BTreeMap<IpNet, Option<NextHopSet>> {
    list.iter().map(|(k, v)| (p(k), v.clone())).collect()
}

/// Every gateway resolves to device 7, except 10.9.9.9 (not directly connected).
fn resolve(
    state: &KernelState,
    c: &BTreeMap<IpNet, Option<NextHopSet>>,
) -> BTreeMap<IpAddr, Resolution<&'static str>> {
    state
        .unresolved(c.values())
        .into_iter()
        .map(|g| {
            (
                g,
                if g == a("10.9.9.9") {
                    Err("unreachable")
                } else {
                    Ok(7)
                },
            )
        })
        .collect()
}

/// Plans, applies every op to the mirror, and returns the ops.
fn step(
    state: &mut KernelState,
    kind: GroupKind,
    c: &BTreeMap<IpNet, Option<NextHopSet>>,
) -> Plan<&'static str> {
    let r = resolve(state, c);
    let plan = plan(state, kind, c, &r);
    for op in &plan.ops {
        state.apply(op);
    }
    // What the batch asked for is what the mirror holds, except for refused prefixes.
    for (prefix, want) in c {
        if plan.refused.iter().any(|r| r.prefix == *prefix) {
            continue;
        }
        assert_eq!(state.route_set(prefix), *want, "{prefix}");
    }
    plan
}

fn three() -> (KernelState, NhId) {
    let mut s = KernelState::default();
    let abc = set(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    step(
        &mut s,
        RES,
        &changes(&[
            ("192.0.2.1/32", Some(abc.clone())),
            ("192.0.2.2/32", Some(abc)),
        ]),
    );
    let RouteTarget::Group(g) = s.routes[&p("192.0.2.1/32")] else {
        panic!("no group")
    };
    (s, g)
}

#[test]
fn new_prefixes_share_one_group_built_after_its_next_hops() {
    let mut s = KernelState::default();
    let abc = set(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    let plan = step(
        &mut s,
        RES,
        &changes(&[
            ("192.0.2.1/32", Some(abc.clone())),
            ("192.0.2.2/32", Some(abc)),
        ]),
    );
    let w = Weight::MIN;
    assert_eq!(
        plan.ops,
        vec![
            Op::AddNexthop {
                id: FIRST_ID,
                gateway: a("10.0.0.1"),
                oif: 7
            },
            Op::AddNexthop {
                id: FIRST_ID + 1,
                gateway: a("10.0.0.2"),
                oif: 7
            },
            Op::AddNexthop {
                id: FIRST_ID + 2,
                gateway: a("10.0.0.3"),
                oif: 7
            },
            Op::AddGroup {
                id: FIRST_ID + 3,
                members: vec![(FIRST_ID, w), (FIRST_ID + 1, w), (FIRST_ID + 2, w)],
                kind: RES,
            },
            Op::ReplaceRoute {
                prefix: p("192.0.2.1/32"),
                group: FIRST_ID + 3
            },
            Op::ReplaceRoute {
                prefix: p("192.0.2.2/32"),
                group: FIRST_ID + 3
            },
        ]
    );
    assert!(plan.refused.is_empty());
}

#[test]
fn a_member_leaving_every_user_replaces_the_group_in_place() {
    let (mut s, g) = three();
    let ab = set(&["10.0.0.1", "10.0.0.2"]);
    let plan = step(
        &mut s,
        RES,
        &changes(&[
            ("192.0.2.1/32", Some(ab.clone())),
            ("192.0.2.2/32", Some(ab)),
        ]),
    );
    let w = Weight::MIN;
    assert_eq!(
        plan.ops,
        vec![
            Op::ReplaceGroup {
                id: g,
                members: vec![(FIRST_ID, w), (FIRST_ID + 1, w)],
                kind: RES
            },
            Op::DelNexthop { id: FIRST_ID + 2 },
        ]
    );
}

#[test]
fn a_member_joining_every_user_replaces_the_group_in_place_with_the_same_member_ids() {
    let (mut s, g) = three();
    let abcd = set(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    let plan = step(
        &mut s,
        RES,
        &changes(&[
            ("192.0.2.1/32", Some(abcd.clone())),
            ("192.0.2.2/32", Some(abcd)),
        ]),
    );
    let w = Weight::MIN;
    assert_eq!(
        plan.ops,
        vec![
            Op::AddNexthop {
                id: FIRST_ID + 4,
                gateway: a("10.0.0.4"),
                oif: 7
            },
            Op::ReplaceGroup {
                id: g,
                members: vec![
                    (FIRST_ID, w),
                    (FIRST_ID + 1, w),
                    (FIRST_ID + 2, w),
                    (FIRST_ID + 4, w)
                ],
                kind: RES,
            },
        ]
    );
}

#[test]
fn when_only_some_users_change_the_group_stays_for_the_others() {
    let (mut s, g) = three();
    let before = s.groups[&g].clone();
    let plan = step(
        &mut s,
        RES,
        &changes(&[("192.0.2.1/32", Some(set(&["10.0.0.1", "10.0.0.2"])))]),
    );
    let w = Weight::MIN;
    assert_eq!(
        plan.ops,
        vec![
            Op::AddGroup {
                id: FIRST_ID + 4,
                members: vec![(FIRST_ID, w), (FIRST_ID + 1, w)],
                kind: RES
            },
            Op::ReplaceRoute {
                prefix: p("192.0.2.1/32"),
                group: FIRST_ID + 4
            },
        ]
    );
    assert_eq!(s.groups[&g], before);
    assert_eq!(s.routes[&p("192.0.2.2/32")], RouteTarget::Group(g));
}

#[test]
fn the_largest_cohort_keeps_the_group_and_the_minority_moves() {
    let mut s = KernelState::default();
    let abc = set(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    step(
        &mut s,
        RES,
        &changes(&[
            ("192.0.2.1/32", Some(abc.clone())),
            ("192.0.2.2/32", Some(abc.clone())),
            ("192.0.2.3/32", Some(abc)),
        ]),
    );
    let RouteTarget::Group(g) = s.routes[&p("192.0.2.1/32")] else {
        panic!()
    };
    let ab = set(&["10.0.0.1", "10.0.0.2"]);
    let plan = step(
        &mut s,
        RES,
        &changes(&[
            ("192.0.2.1/32", Some(set(&["10.0.0.1"]))),
            ("192.0.2.2/32", Some(ab.clone())),
            ("192.0.2.3/32", Some(ab)),
        ]),
    );
    assert!(matches!(plan.ops[0], Op::ReplaceGroup { id, .. } if id == g));
    assert_eq!(s.routes[&p("192.0.2.2/32")], RouteTarget::Group(g));
    assert_eq!(s.routes[&p("192.0.2.3/32")], RouteTarget::Group(g));
    assert_ne!(s.routes[&p("192.0.2.1/32")], RouteTarget::Group(g));
    let routes = plan
        .ops
        .iter()
        .filter(|o| matches!(o, Op::ReplaceRoute { .. }))
        .count();
    assert_eq!(routes, 1, "{:?}", plan.ops);
}

#[test]
fn removing_every_prefix_deletes_routes_then_groups_then_next_hops() {
    let (mut s, g) = three();
    let plan = step(
        &mut s,
        RES,
        &changes(&[("192.0.2.1/32", None), ("192.0.2.2/32", None)]),
    );
    assert_eq!(
        plan.ops,
        vec![
            Op::DelRoute {
                prefix: p("192.0.2.1/32")
            },
            Op::DelRoute {
                prefix: p("192.0.2.2/32")
            },
            Op::DelGroup { id: g },
            Op::DelNexthop { id: FIRST_ID },
            Op::DelNexthop { id: FIRST_ID + 1 },
            Op::DelNexthop { id: FIRST_ID + 2 },
        ]
    );
    assert_eq!(s, KernelState::default());
}

#[test]
fn an_unreachable_next_hop_refuses_that_prefix_only() {
    let (mut s, g) = three();
    let before = s.clone();
    let plan = step(
        &mut s,
        RES,
        &changes(&[
            ("192.0.2.1/32", Some(set(&["10.0.0.1", "10.9.9.9"]))),
            ("192.0.2.9/32", Some(set(&["10.0.0.4"]))),
        ]),
    );
    assert_eq!(
        plan.refused,
        vec![Refused {
            prefix: p("192.0.2.1/32"),
            next_hop: a("10.9.9.9"),
            error: "unreachable"
        }]
    );
    assert_eq!(s.routes[&p("192.0.2.1/32")], RouteTarget::Group(g));
    assert_eq!(s.groups[&g], before.groups[&g]);
    assert!(s.route_set(&p("192.0.2.9/32")).is_some());
}

#[test]
fn an_unchanged_batch_plans_nothing() {
    let (mut s, _) = three();
    let abc = set(&["10.0.0.3", "10.0.0.2", "10.0.0.1"]);
    let plan = step(
        &mut s,
        RES,
        &changes(&[("192.0.2.1/32", Some(abc)), ("192.0.2.7/32", None)]),
    );
    assert_eq!(plan.ops, vec![]);
}

#[test]
fn another_bucket_count_moves_users_to_new_groups() {
    let (mut s, g) = three();
    let more = GroupKind::Resilient {
        buckets: 128,
        idle_timer: 120,
        unbalanced_timer: 0,
    };
    let plan = step(&mut s, more, &changes(&[]));
    assert!(matches!(plan.ops[0], Op::AddGroup { kind, .. } if kind == more));
    assert!(plan.ops.contains(&Op::DelGroup { id: g }));
    assert_eq!(s.groups.len(), 1);
    assert_eq!(s.groups.values().next().unwrap().kind, more);
    assert!(!plan.ops.iter().any(|o| matches!(o, Op::DelNexthop { .. })));
}

#[test]
fn another_idle_timer_is_set_in_place() {
    let (mut s, g) = three();
    let quick = GroupKind::Resilient {
        buckets: 64,
        idle_timer: 5,
        unbalanced_timer: 0,
    };
    let plan = step(&mut s, quick, &changes(&[]));
    let members = s.groups[&g].members.clone();
    assert_eq!(
        plan.ops,
        vec![Op::ReplaceGroup {
            id: g,
            members,
            kind: quick
        }]
    );
}

#[test]
fn ids_in_use_by_others_are_skipped() {
    let mut s = KernelState::default();
    s.foreign_ids.extend([FIRST_ID, FIRST_ID + 1]);
    step(
        &mut s,
        GroupKind::Multipath,
        &changes(&[("192.0.2.1/32", Some(set(&["10.0.0.1"])))]),
    );
    assert_eq!(
        s.nexthops.keys().copied().collect::<Vec<_>>(),
        vec![FIRST_ID + 2]
    );
    assert_eq!(
        s.groups.keys().copied().collect::<Vec<_>>(),
        vec![FIRST_ID + 3]
    );
}

#[test]
fn a_group_morphs_even_when_another_group_has_the_new_set() {
    let mut s = KernelState::default();
    step(
        &mut s,
        RES,
        &changes(&[
            (
                "192.0.2.1/32",
                Some(set(&["10.0.0.1", "10.0.0.2", "10.0.0.3"])),
            ),
            ("192.0.2.2/32", Some(set(&["10.0.0.1", "10.0.0.2"]))),
        ]),
    );
    let RouteTarget::Group(g1) = s.routes[&p("192.0.2.1/32")] else {
        panic!()
    };
    let plan = step(
        &mut s,
        RES,
        &changes(&[("192.0.2.1/32", Some(set(&["10.0.0.1", "10.0.0.2"])))]),
    );
    assert!(matches!(plan.ops[0], Op::ReplaceGroup { id, .. } if id == g1));
    assert_eq!(s.routes[&p("192.0.2.1/32")], RouteTarget::Group(g1));
    assert_eq!(s.groups.len(), 2);
    // A new prefix with that set takes the lower id.
    step(
        &mut s,
        RES,
        &changes(&[("192.0.2.3/32", Some(set(&["10.0.0.1", "10.0.0.2"])))]),
    );
    assert_eq!(s.routes[&p("192.0.2.3/32")], RouteTarget::Group(g1));
}

#[test]
fn a_leftover_route_keeps_its_object_until_it_is_replaced() {
    let mut s = KernelState::default();
    s.nexthops.insert(
        5,
        KernelNexthop {
            gateway: a("10.0.0.1"),
            oif: 7,
        },
    );
    s.routes
        .insert(p("192.0.2.1/32"), RouteTarget::Other { nh: Some(5) });
    s.routes
        .insert(p("192.0.2.2/32"), RouteTarget::Other { nh: None });
    let plan = step(&mut s, RES, &changes(&[("192.0.2.2/32", None)]));
    assert_eq!(
        plan.ops,
        vec![Op::DelRoute {
            prefix: p("192.0.2.2/32")
        }]
    );
    let plan = step(
        &mut s,
        RES,
        &changes(&[("192.0.2.1/32", Some(set(&["10.0.0.1"])))]),
    );
    // The next hop is adopted by gateway, not created again.
    assert!(matches!(&plan.ops[0], Op::AddGroup { members, .. } if members[0].0 == 5));
}

#[test]
fn weights_are_merged_reduced_and_capped() {
    let s = NextHopSet::new(&[
        (a("10.0.0.2"), 20),
        (a("10.0.0.1"), 10),
        (a("10.0.0.1"), 20),
    ])
    .unwrap();
    let w = |n| Weight::new(n).unwrap();
    assert_eq!(s.members(), &[(a("10.0.0.1"), w(3)), (a("10.0.0.2"), w(2))]);
    let s = NextHopSet::new(&[(a("10.0.0.1"), 1_000_000), (a("10.0.0.2"), 1)]).unwrap();
    assert_eq!(
        s.members(),
        &[(a("10.0.0.1"), w(256)), (a("10.0.0.2"), w(1))]
    );
    let s = NextHopSet::new(&[(a("10.0.0.1"), 0), (a("10.0.0.2"), 0)]).unwrap();
    assert_eq!(s.members(), &[(a("10.0.0.1"), w(1)), (a("10.0.0.2"), w(1))]);
    assert_eq!(NextHopSet::new(&[]), None);
    assert_eq!(Weight::new(0), None);
    assert_eq!(Weight::new(257), None);
}

proptest::proptest! {
    /// Random batches over 6 prefixes and 5 next hops (10.9.9.9, unreachable, among them):
    /// after each plan, applied to the mirror, every prefix that was not refused has what it
    /// asked for, refused prefixes kept their set, no group is left without a route and no
    /// next hop without a group, and a group whose users all asked for one same new set kept
    /// its id (changed in place).
    #[test]
    fn random_batches_keep_the_mirror_exact_and_tidy(
        batches in proptest::collection::vec(
            proptest::collection::vec((0usize..6, proptest::option::of(proptest::collection::vec((0usize..5, 1u32..4), 1..4))), 1..6),
            1..8,
        ),
    ) {
        let hops = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.9.9.9"];
        let mut s = KernelState::default();
        for batch in batches {
            let c: BTreeMap<IpNet, Option<NextHopSet>> = batch
                .iter()
                .map(|(i, set)| {
                    let prefix = p(&format!("192.0.2.{i}/32"));
                    let set = set.as_ref().and_then(|v| {
                        let v: Vec<(IpAddr, u32)> = v.iter().map(|(h, w)| (a(hops[*h]), *w)).collect();
                        NextHopSet::new(&v)
                    });
                    (prefix, set)
                })
                .collect();
            // Groups whose every user asks for the same new set in this batch.
            let mut whole: BTreeMap<NhId, NextHopSet> = BTreeMap::new();
            for id in s.groups.keys() {
                let users: Vec<&IpNet> = s.routes.iter().filter(|(_, t)| **t == RouteTarget::Group(*id)).map(|(p, _)| p).collect();
                let wants: BTreeSet<Option<&Option<NextHopSet>>> = users.iter().map(|p| c.get(*p)).collect();
                if let (false, Some(Some(Some(set)))) = (users.is_empty(), wants.iter().next().filter(|_| wants.len() == 1)) {
                    if !set.members().iter().any(|(h, _)| *h == a("10.9.9.9")) && s.group_set(*id).as_ref() != Some(set) {
                        whole.insert(*id, set.clone());
                    }
                }
            }
            let before = s.clone();
            let plan = step(&mut s, RES, &c);
            for r in &plan.refused {
                proptest::prop_assert_eq!(s.route_set(&r.prefix), before.route_set(&r.prefix));
            }
            for (id, set) in &whole {
                proptest::prop_assert_eq!(s.group_set(*id), Some(set.clone()), "group {} not changed in place", id);
            }
            for id in s.groups.keys() {
                proptest::prop_assert!(s.group_in_use(*id), "group {} left without a route", id);
            }
            for id in s.nexthops.keys() {
                proptest::prop_assert!(s.nexthop_in_use(*id), "next hop {} left without a group", id);
            }
        }
    }
}
