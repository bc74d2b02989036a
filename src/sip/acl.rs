//! Trunk access control: which source addresses may send us calls.

use ipnet::IpNet;
use std::net::IpAddr;

/// A source-address allow list of networks (a plain IP is a /32 or /128).
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    nets: Vec<IpNet>,
}

impl AllowList {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self { nets }
    }

    /// IPv4-mapped IPv6 sources (dual-stack sockets) are compared as IPv4.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(nets: &[&str]) -> AllowList {
        AllowList::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn allows_members_of_listed_networks_only() {
        let acl = list(&["10.0.0.0/8", "192.0.2.7/32"]);
        assert!(acl.allows("10.1.2.3".parse().unwrap()));
        assert!(acl.allows("192.0.2.7".parse().unwrap()));
        assert!(!acl.allows("192.0.2.8".parse().unwrap()));
        assert!(!acl.allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn mapped_ipv6_counts_as_ipv4() {
        assert!(list(&["127.0.0.1/32"]).allows("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn empty_list_allows_nobody() {
        assert!(!AllowList::default().allows("127.0.0.1".parse().unwrap()));
    }
}
