//! Stripe-looking object ids: a prefix and 24 random alphanumerics.

use rand::Rng;
use rand::distr::Alphanumeric;

pub fn new_id(prefix: &str) -> String {
    let suffix: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}_{suffix}")
}

pub fn request_id() -> String {
    new_id("req")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_carry_their_prefix_and_differ() {
        let a = super::new_id("cs_test");
        assert!(a.starts_with("cs_test_"));
        assert_eq!(a.len(), "cs_test_".len() + 24);
        assert_ne!(a, super::new_id("cs_test"));
    }
}
