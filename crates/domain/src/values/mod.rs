//! Values parsed at the edge: typed ids, money, e-mail addresses.

pub mod email;
pub mod ids;
pub mod money;
