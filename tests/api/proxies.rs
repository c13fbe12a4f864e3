//! Behind a reverse proxy: the login limit per client address counts the client a trusted proxy
//! names, read from the right of its forwarding header; a client's own forwarding headers help it
//! neither directly nor through the proxy. The test server is reached from 127.0.0.1, which plays
//! the proxy where it is trusted.

use crate::helpers::*;
use lagesbild::config::{ForwardedHeader, TrustedProxies};
use serde_json::json;

const PER_ADDRESS: u32 = 3;

async fn app_with(proxies: &str, header: ForwardedHeader) -> TestApp {
    let proxies = TrustedProxies::parse(proxies).unwrap();
    spawn_app_with(move |settings| {
        settings.login_attempts_per_address = PER_ADDRESS;
        settings.login_attempts_per_account = 1000;
        settings.trusted_proxies = proxies;
        settings.forwarded_header = header;
    })
    .await
}

/// A failed login (each with its own username, so only the address limit can refuse it) with
/// these headers; returns the status.
async fn attempt(app: &TestApp, n: usize, headers: &[(&str, &str)]) -> u16 {
    let mut request = app.client.post(app.url("/api/v1/auth/login")).json(&json!({
        "organisation": "tyreso", "username": format!("nobody{n}"), "password": "wrong", "device_id": "proxy-test",
    }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Spends one address's budget, then shows the next attempt is refused.
async fn spend(app: &TestApp, first: usize, headers: &[(&str, &str)]) {
    for n in first..first + PER_ADDRESS as usize {
        assert_eq!(attempt(app, n, headers).await, 401, "attempt {n} with {headers:?} is answered");
    }
    assert_eq!(attempt(app, first + 100, headers).await, 429, "the budget of {headers:?} is spent");
}

#[tokio::test]
async fn without_trusted_proxies_forged_forwarding_headers_do_not_buy_more_attempts() {
    let app = app_with("", ForwardedHeader::XForwardedFor).await;
    for n in 0..PER_ADDRESS as usize {
        let forged = format!("198.51.100.{n}");
        assert_eq!(
            attempt(&app, n, &[("x-forwarded-for", &forged), ("forwarded", &format!("for={forged}"))]).await,
            401
        );
    }
    for headers in [
        vec![("x-forwarded-for", "198.51.100.200")],
        vec![("forwarded", "for=198.51.100.201")],
        vec![("x-real-ip", "198.51.100.202")],
        vec![],
    ] {
        assert_eq!(attempt(&app, 50, &headers).await, 429, "{headers:?}: every attempt is the peer's");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget_and_cannot_forge_another() {
    let app = app_with("10.0.0.0/8, 127.0.0.1", ForwardedHeader::XForwardedFor).await;
    spend(&app, 0, &[("x-forwarded-for", "203.0.113.5")]).await;
    // Another client behind the same proxy is not refused.
    assert_eq!(attempt(&app, 10, &[("x-forwarded-for", "203.0.113.6")]).await, 401);
    // What the client wrote itself stands left of what the proxy appended: not read.
    assert_eq!(attempt(&app, 11, &[("x-forwarded-for", "198.51.100.1, 203.0.113.5")]).await, 429);
    assert_eq!(attempt(&app, 12, &[("x-forwarded-for", "garbage, 203.0.113.5")]).await, 429);
    // Trusted hops to the right (a chain of proxies) are skipped, ports and spacing allowed.
    assert_eq!(attempt(&app, 13, &[("x-forwarded-for", "203.0.113.5:51234 ,10.1.2.3,127.0.0.1")]).await, 429);
    // Several header lines are one list, in order: the last one's address is the client.
    let two_lines = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.5")
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({ "organisation": "tyreso", "username": "nobody14", "password": "x", "device_id": "d" }))
        .send()
        .await
        .unwrap();
    assert_eq!(two_lines.status(), 401, "203.0.113.7 has its own budget");
    // The other header is not read in this mode: the client is the proxy itself.
    spend(&app, 20, &[("forwarded", "for=203.0.113.8")]).await;
    assert_eq!(attempt(&app, 30, &[("forwarded", "for=203.0.113.9")]).await, 429, "both counted as the proxy");
    // An address a proxy cannot have written (`unknown`) stops the walk at the proxy.
    assert_eq!(attempt(&app, 31, &[("x-forwarded-for", "203.0.113.10, unknown")]).await, 429);
}

#[tokio::test]
async fn with_rfc_7239_forwarded_the_for_of_the_rightmost_untrusted_element_is_the_client() {
    let app = app_with("127.0.0.1/32", ForwardedHeader::Forwarded).await;
    spend(&app, 0, &[("forwarded", "for=203.0.113.20;proto=https")]).await;
    assert_eq!(attempt(&app, 10, &[("forwarded", r#"for="[2001:db8::20]:4711";proto=https"#)]).await, 401);
    assert_eq!(attempt(&app, 11, &[("forwarded", "for=198.51.100.9, for=203.0.113.20")]).await, 429);
    // X-Forwarded-For is not read in this mode, whatever it says.
    assert_eq!(attempt(&app, 12, &[("forwarded", "for=203.0.113.20"), ("x-forwarded-for", "203.0.113.21")]).await, 429);
}

#[test]
fn trusted_proxies_are_addresses_or_blocks_and_anything_else_is_refused_at_start() {
    assert!(TrustedProxies::parse("10.0.0.0/8, 127.0.0.1,2001:db8::/32").is_ok());
    for bad in ["10.0.0.0/33", "proxy.example", "10.0.0.1-10.0.0.9"] {
        let error = TrustedProxies::parse(bad).unwrap_err();
        assert!(error.contains(bad), "{error}");
    }
}
