//! The client's address, as the login limits count it: the TCP peer, unless the peer is a trusted
//! reverse proxy; then the forwarding header is read from the right, skipping trusted proxies, and
//! the first address that is not one is the client. What a client writes into the header itself
//! stands to the left of what its proxy appends, so it is never reached.

use crate::config::{ForwardedHeader, Settings};
use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;
use std::net::{IpAddr, SocketAddr};

/// The address a request is counted against.
pub fn address(req: &HttpRequest, settings: &Settings) -> String {
    let Some(peer) = req.peer_addr().map(|addr| addr.ip().to_canonical()) else {
        return String::new();
    };
    let proxies = &settings.trusted_proxies;
    if proxies.is_empty() || !proxies.contains(peer) {
        return peer.to_string();
    }
    let (name, hops): (HeaderName, fn(&str) -> Vec<&str>) = match settings.forwarded_header {
        ForwardedHeader::XForwardedFor => (HeaderName::from_static("x-forwarded-for"), x_forwarded_for),
        ForwardedHeader::Forwarded => (HeaderName::from_static("forwarded"), forwarded),
    };
    // Every instance of the header, in order, as one list of hops.
    let mut chain = Vec::new();
    for value in req.headers().get_all(&name) {
        let Ok(text) = value.to_str() else {
            return peer.to_string(); // not text: believe nothing in it
        };
        chain.extend(hops(text));
    }
    let mut client = peer;
    for hop in chain.iter().rev() {
        if !proxies.contains(client) {
            break;
        }
        match parse_hop(hop) {
            Some(address) => client = address,
            None => break, // `unknown` or an obfuscated name: the last proxy is all we know
        }
    }
    client.to_string()
}

/// `X-Forwarded-For: 203.0.113.7, 10.0.0.2`
fn x_forwarded_for(text: &str) -> Vec<&str> {
    text.split(',').map(str::trim).collect()
}

/// `Forwarded: for=203.0.113.7;proto=https, for="[2001:db8::1]:4711"` (RFC 7239): the `for` of
/// each element.
fn forwarded(text: &str) -> Vec<&str> {
    text.split(',')
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"))
                .map_or("", |(_, value)| value.trim().trim_matches('"'))
        })
        .collect()
}

/// An address, with or without a port (`203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]:4711`,
/// `2001:db8::1`, `[2001:db8::1]`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| hop.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).and_then(|inner| inner.parse().ok()))
        .map(|address: IpAddr| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_are_read_with_or_without_ports_and_brackets() {
        for (hop, expected) in [
            ("203.0.113.7", "203.0.113.7"),
            ("203.0.113.7:4711", "203.0.113.7"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
        ] {
            assert_eq!(parse_hop(hop).map(|a| a.to_string()).as_deref(), Some(expected), "{hop}");
        }
        for hop in ["unknown", "_hidden", "", "203.0.113.7.1", "[::1"] {
            assert_eq!(parse_hop(hop), None, "{hop}");
        }
    }

    #[test]
    fn the_for_of_each_forwarded_element_is_read() {
        let text = r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", proto=https"#;
        assert_eq!(forwarded(text), ["192.0.2.60", "[2001:db8:cafe::17]:4711", ""]);
    }
}
