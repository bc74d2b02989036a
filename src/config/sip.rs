//! `[sip]`, `[sip.trunk]` and `[sip.register]`: how calls reach us, who may send them, and the
//! account registered in register mode. Defaults match `dialbridge.example.toml`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use serde::Deserialize;

use super::SipTlsConfig;
use super::parse::de_allow_list;

/// How calls reach us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SipMode {
    /// A provider or PBX sends INVITEs to us; no registration. The default.
    #[default]
    Trunk,
    /// We register an account with a SIP provider, which then sends us its calls.
    Register,
}

/// `[sip]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// How calls reach us. Default: `trunk`.
    pub mode: SipMode,
    /// Where SIP listens, UDP and TCP on the same address; port 0 picks a free port.
    /// Default: `0.0.0.0:5060`.
    pub listen: SocketAddr,
    /// Enable TCP next to UDP. Default: true.
    pub tcp: bool,
    /// Address (IP or host name) advertised in Contact/Via behind NAT. Default: empty = listen.
    pub public_address: String,
    /// User-Agent header. Default: `dialbridge`.
    pub user_agent: String,
    /// RFC 4028 session timer we ask for, in seconds, at least 90. Default: 1800.
    pub session_expires_s: u32,
    pub trunk: TrunkConfig,
    pub register: RegisterConfig,
    pub tls: SipTlsConfig,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            mode: SipMode::Trunk,
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 5060)),
            tcp: true,
            public_address: String::new(),
            user_agent: "dialbridge".into(),
            session_expires_s: 1800,
            trunk: TrunkConfig::default(),
            register: RegisterConfig::default(),
            tls: SipTlsConfig::default(),
        }
    }
}

/// `[sip.trunk]`: who may send us INVITEs in trunk mode.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrunkConfig {
    /// Source addresses or CIDRs allowed to send INVITEs; a plain IP means that one host.
    /// Default: `127.0.0.1/32`, `::1/128`.
    #[serde(deserialize_with = "de_allow_list")]
    pub allow: Vec<IpNet>,
    /// Inbound digest auth user; empty = no auth. Default: empty.
    pub username: String,
    /// Inbound digest auth password; `DIALBRIDGE_TRUNK_PASSWORD` wins. Default: empty.
    pub password: String,
    /// Digest realm we challenge with. Default: `dialbridge`.
    pub realm: String,
}

impl Default for TrunkConfig {
    fn default() -> Self {
        TrunkConfig {
            allow: vec![
                IpNet::from(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                IpNet::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ],
            username: String::new(),
            password: String::new(),
            realm: "dialbridge".into(),
        }
    }
}

/// `[sip.register]`: the account we register in register mode.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterConfig {
    /// Registrar URI (`sip:` or `sips:`); required in register mode. Default: empty.
    pub registrar: String,
    /// Account user name; required in register mode. Default: empty.
    pub username: String,
    /// Account password; `DIALBRIDGE_SIP_PASSWORD` wins. Default: empty.
    pub password: String,
    /// Authentication user when it differs from `username`. Default: empty = `username`.
    pub auth_username: String,
    /// Requested registration lifetime in seconds. Default: 300.
    pub expires_s: u32,
    /// First retry wait after a failure, in seconds; doubles up to `retry_max_s`. Default: 1.
    pub retry_min_s: u32,
    /// Longest retry wait, in seconds. Default: 60.
    pub retry_max_s: u32,
}

impl Default for RegisterConfig {
    fn default() -> Self {
        RegisterConfig {
            registrar: String::new(),
            username: String::new(),
            password: String::new(),
            auth_username: String::new(),
            expires_s: 300,
            retry_min_s: 1,
            retry_max_s: 60,
        }
    }
}
