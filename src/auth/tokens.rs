//! Short-lived signed access tokens (HS256 JWTs).

use crate::domain::identity::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// What an access token says about its bearer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The organisation id.
    pub org: String,
    /// The user's role when the token was issued.
    pub role: Role,
    /// The device the token was issued to.
    pub dev: String,
    /// The user's token generation; raised when their sessions must end.
    pub ugen: i64,
    /// The device's token generation; raised at logout and revocation.
    pub dgen: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// A unique id for this token.
    pub jti: String,
}

/// Whom a new access token is for.
pub struct Grant<'a> {
    pub user_id: &'a str,
    pub organisation_id: &'a str,
    pub role: Role,
    pub device_id: &'a str,
    pub user_generation: i64,
    pub device_generation: i64,
}

/// Signs and checks access tokens with one key, one algorithm, one issuer and one audience.
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl TokenIssuer {
    /// An issuer for the given key and claims.
    pub fn new(key: &[u8], issuer: &str, audience: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(i64::MAX),
        }
    }

    /// Seconds an access token lives.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// A signed access token for the grant.
    pub fn issue(&self, grant: &Grant<'_>) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: grant.user_id.to_owned(),
            org: grant.organisation_id.to_owned(),
            role: grant.role,
            dev: grant.device_id.to_owned(),
            ugen: grant.user_generation,
            dgen: grant.device_generation,
            iat: now,
            exp: now.saturating_add(self.ttl_secs),
            jti: uuid::Uuid::now_v7().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| anyhow::anyhow!("cannot sign a token: {error}"))
    }

    /// The claims of a token that is well signed, of our algorithm, issuer and audience, and not
    /// expired; `None` otherwise, whatever the reason.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
}
