//! Where channels may send: https anywhere reachable, plain http only to listed hosts,
//! never a link-local, unspecified or multicast address.

use std::net::IpAddr;

/// Which hosts a channel may name: plain `http://` only for those listed (a receiver
/// on this host, in tests and demos); https anywhere else but never an address that
/// is not meant to be reached from outside (a cloud's metadata service above all).
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    pub http_hosts: Vec<String>,
}

impl Destinations {
    /// An `https://` URL (or `http://` to a listed host) without credentials in it.
    pub fn check_url(&self, url: &str) -> Result<String, String> {
        let (scheme, rest) = url.split_once("://").ok_or("must be an https:// URL")?;
        if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be an https:// URL of at most 2048 characters".to_owned());
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(
                "must not hold credentials: a webhook's secret goes in `secret`".to_owned(),
            );
        }
        let host = host_without_port(authority);
        match scheme {
            "https" => {}
            "http" if self.http_hosts.iter().any(|allowed| allowed == host) => {}
            "http" => {
                return Err(format!(
                    "must be https: plain http only to the hosts NOTIFY_HTTP_HOSTS lists ({})",
                    if self.http_hosts.is_empty() {
                        "none".to_owned()
                    } else {
                        self.http_hosts.join(", ")
                    }
                ));
            }
            _ => return Err("must be an https:// URL".to_owned()),
        }
        self.check_host(host)?;
        Ok(url.to_owned())
    }

    /// A host name or address that may be reached (not link-local, not unspecified).
    pub fn check_host(&self, host: &str) -> Result<(), String> {
        let valid_name = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
        if !valid_name {
            return Err("must name a host".to_owned());
        }
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        match literal.parse::<IpAddr>() {
            Ok(ip) if !reachable(ip) => Err(format!(
                "must not be {ip}: link-local, unspecified and multicast addresses (a \
                 cloud's metadata service among them) are never sent to"
            )),
            _ => Ok(()),
        }
    }
}

fn host_without_port(authority: &str) -> &str {
    if let Some(end) = authority.find(']') {
        return &authority[..=end];
    }
    authority.split(':').next().unwrap_or_default()
}

/// Whether a message may be sent to `ip`: never to a link-local address (where
/// clouds serve instance metadata and credentials), an unspecified or a multicast one.
/// The relay checks each address a name resolves to with it as well.
pub fn reachable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return reachable(IpAddr::V4(v4));
            }
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            !(link_local || v6.is_unspecified() || v6.is_multicast())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destinations() -> Destinations {
        Destinations {
            http_hosts: vec!["127.0.0.1".to_owned()],
        }
    }

    #[test]
    fn urls_must_be_https_or_a_listed_host_and_never_link_local() {
        let d = destinations();
        assert!(
            d.check_url("https://hooks.slack.com/services/T/B/x")
                .is_ok()
        );
        assert!(d.check_url("http://127.0.0.1:9000/hook").is_ok());
        for refused in [
            "http://example.com/hook",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fe80::1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://0.0.0.0/",
            "example.com",
            "https://exa mple.com/",
        ] {
            assert!(d.check_url(refused).is_err(), "{refused} passed");
        }
    }
}
