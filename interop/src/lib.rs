//! Test topology helpers: network namespaces, FRR, BIRD and bgpd processes.
