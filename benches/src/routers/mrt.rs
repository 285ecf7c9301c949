//! A TABLE_DUMP_V2 MRT file (RFC 6396 §4.3) holding N IPv4 host routes, for `gobgp mrt inject
//! global FILE`: GoBGP's bulk way of putting routes into its global RIB.

use std::net::Ipv4Addr;

fn record(out: &mut Vec<u8>, subtype: u16, body: &[u8]) {
    out.extend_from_slice(&0u32.to_be_bytes()); // timestamp
    out.extend_from_slice(&13u16.to_be_bytes()); // TABLE_DUMP_V2
    out.extend_from_slice(&subtype.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

/// The MRT bytes: a PEER_INDEX_TABLE with one peer (`peer`, AS `peer_as`), then one
/// RIB_IPV4_UNICAST record per route, each with ORIGIN IGP, an empty AS_PATH and NEXT_HOP
/// `next_hop`.
pub fn table_dump(
    routes: impl IntoIterator<Item = Ipv4Addr>,
    peer: Ipv4Addr,
    peer_as: u32,
    next_hop: Ipv4Addr,
) -> Vec<u8> {
    let mut out = Vec::new();
    // §4.3.1 PEER_INDEX_TABLE: collector id, view name length 0, peer count 1, one entry
    // (type 0x02: IPv4 address, 4-octet AS).
    let mut body = Vec::new();
    body.extend_from_slice(&peer.octets());
    body.extend_from_slice(&0u16.to_be_bytes());
    body.extend_from_slice(&1u16.to_be_bytes());
    body.push(0x02);
    body.extend_from_slice(&peer.octets());
    body.extend_from_slice(&peer.octets());
    body.extend_from_slice(&peer_as.to_be_bytes());
    record(&mut out, 1, &body);
    // Path attributes (§4.3.4: AS_PATH with 4-octet ASNs): ORIGIN, AS_PATH (empty), NEXT_HOP.
    let mut attrs = vec![0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4];
    attrs.extend_from_slice(&next_hop.octets());
    for (seq, prefix) in routes.into_iter().enumerate() {
        // §4.3.2 RIB_IPV4_UNICAST: sequence, prefix length, prefix, entry count, entries.
        body.clear();
        body.extend_from_slice(&(seq as u32).to_be_bytes());
        body.push(32);
        body.extend_from_slice(&prefix.octets());
        body.extend_from_slice(&1u16.to_be_bytes());
        body.extend_from_slice(&0u16.to_be_bytes()); // peer index
        body.extend_from_slice(&0u32.to_be_bytes()); // originated time
        body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        body.extend_from_slice(&attrs);
        record(&mut out, 2, &body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_declared_lengths() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let mrt = table_dump([Ipv4Addr::new(10, 100, 0, 1)], a, 65004, a);
        // PEER_INDEX_TABLE: 12 header + 4 + 2 + 2 + 1 + 4 + 4 + 4 = 33.
        assert_eq!(&mrt[4..8], &[0, 13, 0, 1]);
        assert_eq!(u32::from_be_bytes(mrt[8..12].try_into().unwrap()), 21);
        let rib = &mrt[33..];
        assert_eq!(&rib[4..8], &[0, 13, 0, 2]);
        let len = u32::from_be_bytes(rib[8..12].try_into().unwrap()) as usize;
        assert_eq!(rib.len(), 12 + len);
        // seq 4, len 1, prefix 4, count 2, index 2, time 4, attr len 2, attrs 14.
        assert_eq!(len, 4 + 1 + 4 + 2 + 2 + 4 + 2 + 14);
    }
}
