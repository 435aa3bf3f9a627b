//! The simulators' network cards, chosen by name: `--card` on the demo's command line or the
//! [`CARD_ENV`] environment variable (the self-tests read the variable), so that every network
//! test can run over each card.
//!
//! | card | boards | what |
//! |---|---|---|
//! | `slirp` | POSIX (the default there) | libslirp user-mode networking ([`crate::board::posix::slirp`]) |
//! | `gateway` | POSIX and Windows (the only one there) | the pure-Rust gateway ([`crate::board::gateway`]) |
//!
//! Both serve the same virtual network: the device gets `10.0.2.15` by DHCP, `10.0.2.2` is
//! the host's loopback, `10.0.2.3` answers DNS.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use core::fmt;

use crate::link::ring::RingCard;
use crate::net::Ipv4Settings;

/// The fixed settings of the virtual network both cards serve: `10.0.2.15/24`, gateway
/// `10.0.2.2`, DNS `10.0.2.3` (what their DHCP servers hand out).
pub fn static_settings() -> Ipv4Settings {
    use crate::board::gateway::{DEVICE_ADDRESS, DNS_ADDRESS, GATEWAY_ADDRESS, NETWORK};
    Ipv4Settings {
        address: DEVICE_ADDRESS,
        prefix_len: NETWORK.1,
        gateway: Some(GATEWAY_ADDRESS),
        dns: Some(DNS_ADDRESS),
    }
}

/// The environment variable naming the card: `slirp` or `gateway`.
pub const CARD_ENV: &str = "FREERTOS_HTTPS_CARD";

/// A simulated network card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    /// libslirp (POSIX simulator only: Debian has no mingw libslirp).
    Slirp,
    /// The pure-Rust gateway.
    Gateway,
}

/// The cards this board has, the default first.
#[cfg(board = "posix")]
pub const AVAILABLE: &[CardKind] = &[CardKind::Slirp, CardKind::Gateway];
/// The cards this board has, the default first.
#[cfg(board = "windows")]
pub const AVAILABLE: &[CardKind] = &[CardKind::Gateway];

/// A card name this board does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCard(pub String);

impl fmt::Display for UnknownCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = AVAILABLE.iter().map(|card| card.name()).collect();
        write!(
            f,
            "no network card {:?} on the {} (it has: {})",
            self.0,
            crate::board::services().name(),
            names.join(", ")
        )
    }
}

impl core::error::Error for UnknownCard {}

impl CardKind {
    /// The board's default card.
    pub const DEFAULT: CardKind = AVAILABLE[0];

    /// The card's name, as `--card` takes it.
    pub fn name(self) -> &'static str {
        match self {
            CardKind::Slirp => "slirp",
            CardKind::Gateway => "gateway",
        }
    }

    /// The card named `name`, if this board has it.
    pub fn parse(name: &str) -> Result<CardKind, UnknownCard> {
        AVAILABLE
            .iter()
            .copied()
            .find(|card| card.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| UnknownCard(name.to_owned()))
    }

    /// `name` if given, else the board's default.
    pub fn parse_or_default(name: Option<&str>) -> Result<CardKind, UnknownCard> {
        name.map_or(Ok(CardKind::DEFAULT), CardKind::parse)
    }

    /// The card [`CARD_ENV`] names, else the board's default.
    pub fn from_env() -> Result<CardKind, UnknownCard> {
        CardKind::parse_or_default(std::env::var(CARD_ENV).ok().as_deref())
    }

    /// Starts the card, raising `interrupt_line`. Call from `main` before the scheduler.
    pub fn start(self, interrupt_line: u8) -> Result<RingCard, StartError> {
        match self {
            #[cfg(board = "posix")]
            CardKind::Slirp => crate::board::posix::slirp::start(interrupt_line)
                .map_err(|error| StartError(error.to_string())),
            #[cfg(not(board = "posix"))]
            CardKind::Slirp => Err(StartError(UnknownCard(self.name().into()).to_string())),
            CardKind::Gateway => crate::board::gateway::start(interrupt_line)
                .map_err(|error| StartError(error.to_string())),
        }
    }
}

/// A card would not start; says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for StartError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_ones_list_what_there_is() {
        for &card in AVAILABLE {
            assert_eq!(CardKind::parse(card.name()), Ok(card));
        }
        assert_eq!(CardKind::parse(" Gateway "), Ok(CardKind::Gateway));
        assert_eq!(CardKind::parse_or_default(None), Ok(CardKind::DEFAULT));
        let error = CardKind::parse("tap").unwrap_err().to_string();
        assert!(
            error.contains("\"tap\"") && error.contains("gateway"),
            "{error}"
        );
    }

    #[cfg(board = "posix")]
    #[test]
    fn slirp_stays_the_default_on_linux_and_both_cards_share_one_network() {
        assert_eq!(CardKind::DEFAULT, CardKind::Slirp);
        assert_eq!(
            static_settings(),
            crate::board::posix::slirp::static_settings()
        );
    }
}
