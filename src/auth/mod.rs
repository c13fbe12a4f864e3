//! Authentication: tokens, the revocation cache, login limits and the `Auth` extractor.

pub mod activity;
pub mod extractor;
pub mod keys;
pub mod rate_limit;
pub mod revocation;
pub mod tokens;

pub use extractor::{Admin, Analyst, AnyRole, Auth, AuthUser, Authenticator, Coordinator, Reporter};

use sha2::{Digest, Sha256};

/// A fresh opaque secret (256 bits, URL-safe base64), for refresh tokens and generated keys.
pub fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of an opaque token: its SHA-256, hex. Tokens have 256 bits of entropy, so a
/// fast hash is enough; the database never holds a usable token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
