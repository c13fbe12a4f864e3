//! argon2id password hashing, with equal work for unknown users.

use anyhow::Context;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

/// Hashes and verifies passwords with the configured argon2id cost.
pub struct Passwords {
    params: Params,
    /// A hash of a random password with the current parameters: verifying against it costs what
    /// verifying a real user costs, so an unknown username takes as long as a wrong password.
    decoy_hash: String,
}

impl Passwords {
    /// Builds the hasher; fails on parameters argon2 refuses.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|error| anyhow::anyhow!("invalid argon2 parameters: {error}"))?;
        let mut passwords = Self { params, decoy_hash: String::new() };
        let mut decoy = [0u8; 32];
        rand::fill(&mut decoy);
        passwords.decoy_hash = passwords.hash(&hex::encode(decoy))?;
        Ok(passwords)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$…`) with a fresh salt.
    pub fn hash(&self, password: &str) -> anyhow::Result<String> {
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| anyhow::anyhow!("{error}"))
            .context("cannot hash the password")
    }

    /// Whether the password matches the stored hash. With no stored hash (no such user) the
    /// decoy is verified instead, and the answer is always false.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let matches = self.argon2().verify_password(password.as_bytes(), stored.unwrap_or(&self.decoy_hash)).is_ok();
        matches && stored.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_password() {
        let passwords = Passwords::new(64, 1, 1).unwrap();
        let hash = passwords.hash("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(passwords.verify("correct horse battery", Some(&hash)));
        assert!(!passwords.verify("wrong horse battery", Some(&hash)));
        assert!(!passwords.verify("correct horse battery", None));
    }
}
