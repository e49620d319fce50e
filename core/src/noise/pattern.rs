//! Handshake patterns as token tables (Noise rev 34 §7) and the two modifiers sealwire
//! supports: `pskN` (§9.2) and `hfs` (HFS extension rev 1 §5).
//!
//! A pattern is data, not code: [`HandshakePattern::messages`] lists, per message, the tokens
//! the handshake processes in order. The initiator writes the even-numbered messages.

use crate::error::{Error, Result};

/// One token of a message pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// Ephemeral X25519 public key.
    E,
    /// Static X25519 public key (encrypted once a key is set).
    S,
    /// DH(ephemeral, remote ephemeral).
    Ee,
    /// DH between the initiator's ephemeral and the responder's static key.
    Es,
    /// DH between the initiator's static and the responder's ephemeral key.
    Se,
    /// DH(static, remote static).
    Ss,
    /// MixKeyAndHash(psk) with the psk of this location number.
    Psk(u8),
    /// Ephemeral KEM public key, sent like a static key (HFS).
    E1,
    /// KEM ciphertext to the peer's `e1`, then MixKey(shared secret) (HFS).
    Ekem1,
}

impl Token {
    fn is_dh(self) -> bool {
        matches!(self, Token::Ee | Token::Es | Token::Se | Token::Ss)
    }
}

/// The fundamental pattern a protocol name starts with (§7.4 and §7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BasePattern {
    N,
    K,
    X,
    Nn,
    Nk,
    Nx,
    Kn,
    Kk,
    Kx,
    Xn,
    Xk,
    Xx,
    In,
    Ik,
    Ix,
}

use Token::{Ee, Es, Se, Ss, E, S};

impl BasePattern {
    /// Look up a fundamental pattern by its name; `None` for deferred patterns and unknowns.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "N" => Self::N,
            "K" => Self::K,
            "X" => Self::X,
            "NN" => Self::Nn,
            "NK" => Self::Nk,
            "NX" => Self::Nx,
            "KN" => Self::Kn,
            "KK" => Self::Kk,
            "KX" => Self::Kx,
            "XN" => Self::Xn,
            "XK" => Self::Xk,
            "XX" => Self::Xx,
            "IN" => Self::In,
            "IK" => Self::Ik,
            "IX" => Self::Ix,
            _ => return None,
        })
    }

    /// One-way patterns have a single message and a transport in one direction only.
    pub(crate) fn is_one_way(self) -> bool {
        matches!(self, Self::N | Self::K | Self::X)
    }

    /// True when the initiator's static key is a pre-message (known to the responder).
    pub(crate) fn initiator_static_premessage(self) -> bool {
        matches!(self, Self::K | Self::Kn | Self::Kk | Self::Kx)
    }

    /// True when the responder's static key is a pre-message (known to the initiator).
    pub(crate) fn responder_static_premessage(self) -> bool {
        matches!(self, Self::N | Self::K | Self::X | Self::Nk | Self::Kk | Self::Xk | Self::Ik)
    }

    fn messages(self) -> &'static [&'static [Token]] {
        match self {
            Self::N => &[&[E, Es]],
            Self::K => &[&[E, Es, Ss]],
            Self::X => &[&[E, Es, S, Ss]],
            Self::Nn => &[&[E], &[E, Ee]],
            Self::Nk => &[&[E, Es], &[E, Ee]],
            Self::Nx => &[&[E], &[E, Ee, S, Es]],
            Self::Kn => &[&[E], &[E, Ee, Se]],
            Self::Kk => &[&[E, Es, Ss], &[E, Ee, Se]],
            Self::Kx => &[&[E], &[E, Ee, Se, S, Es]],
            Self::Xn => &[&[E], &[E, Ee], &[S, Se]],
            Self::Xk => &[&[E, Es], &[E, Ee], &[S, Se]],
            Self::Xx => &[&[E], &[E, Ee, S, Es], &[S, Se]],
            Self::In => &[&[E, S], &[E, Ee, Se]],
            Self::Ik => &[&[E, Es, S, Ss], &[E, Ee, Se]],
            Self::Ix => &[&[E, S], &[E, Ee, Se, S, Es]],
        }
    }
}

/// A fully modified pattern, ready for the handshake to walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandshakePattern {
    pub(crate) base: BasePattern,
    pub(crate) messages: Vec<Vec<Token>>,
    /// psk location numbers in the order the handshake consumes them.
    pub(crate) psk_locations: Vec<u8>,
    pub(crate) hfs: bool,
}

impl HandshakePattern {
    /// Apply `psk` modifiers (in name order) and, if requested, `hfs` to a base pattern.
    pub(crate) fn build(base: BasePattern, psks: &[u8], hfs: bool) -> Result<Self> {
        let mut messages: Vec<Vec<Token>> = base.messages().iter().map(|m| m.to_vec()).collect();
        for &n in psks {
            // §9.2: psk0 opens the first message; pskN (N ≥ 1) closes message N.
            if n == 0 {
                if let Some(first) = messages.first_mut() {
                    first.insert(0, Token::Psk(0));
                }
            } else {
                let idx = usize::from(n) - 1;
                let msg = messages
                    .get_mut(idx)
                    .ok_or(Error::UnsupportedAlgorithm("Noise psk modifier beyond the last message"))?;
                msg.push(Token::Psk(n));
            }
        }
        if hfs {
            apply_hfs(&mut messages)?;
        }
        let psk_locations = messages
            .iter()
            .flatten()
            .filter_map(|t| match t {
                Token::Psk(n) => Some(*n),
                _ => None,
            })
            .collect();
        Ok(Self { base, messages, psk_locations, hfs })
    }

    /// True when any psk token occurs: every `e` token then also calls MixKey (§9.2).
    pub(crate) fn has_psk(&self) -> bool {
        !self.psk_locations.is_empty()
    }
}

/// HFS §5, as fixed in DESIGN.md: `e1` goes right after the first DH token of the message that
/// holds the first `e` (right after that `e` when the message has no DH); `ekem1` goes right
/// after the first `ee`. One-way patterns have no `ee` and cannot take `hfs`.
fn apply_hfs(messages: &mut [Vec<Token>]) -> Result<()> {
    let unsupported = Error::UnsupportedAlgorithm("Noise hfs modifier on a pattern without ee");
    let first_e_msg = messages.iter().position(|m| m.contains(&Token::E)).ok_or(unsupported.clone())?;
    let msg = messages.get_mut(first_e_msg).ok_or(unsupported.clone())?;
    let e_pos = msg.iter().position(|t| *t == Token::E).ok_or(unsupported.clone())?;
    let at = match msg.iter().skip(e_pos).position(|t| t.is_dh()) {
        Some(off) => e_pos + off + 1,
        None => e_pos + 1,
    };
    msg.insert(at, Token::E1);
    let (ee_msg, ee_pos) = messages
        .iter()
        .enumerate()
        .find_map(|(i, m)| m.iter().position(|t| *t == Token::Ee).map(|p| (i, p)))
        .ok_or(unsupported.clone())?;
    // `e1` must be sent before `ekem1` can answer it, i.e. by the other party earlier.
    if ee_msg <= first_e_msg {
        return Err(unsupported);
    }
    let msg = messages.get_mut(ee_msg).ok_or(unsupported)?;
    msg.insert(ee_pos + 1, Token::Ekem1);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::Token::*;
    use super::*;

    #[test]
    fn hfs_placement_matches_design() {
        let xx = HandshakePattern::build(BasePattern::Xx, &[], true).unwrap();
        assert_eq!(xx.messages, vec![vec![E, E1], vec![E, Ee, Ekem1, S, Es], vec![S, Se]]);
        let ik = HandshakePattern::build(BasePattern::Ik, &[], true).unwrap();
        assert_eq!(ik.messages, vec![vec![E, Es, E1, S, Ss], vec![E, Ee, Ekem1, Se]]);
        let kk = HandshakePattern::build(BasePattern::Kk, &[], true).unwrap();
        assert_eq!(kk.messages, vec![vec![E, Es, E1, Ss], vec![E, Ee, Ekem1, Se]]);
        assert!(HandshakePattern::build(BasePattern::N, &[], true).is_err());
    }

    #[test]
    fn psk_placement() {
        let p = HandshakePattern::build(BasePattern::Xx, &[3], false).unwrap();
        assert_eq!(p.messages[2], vec![S, Se, Psk(3)]);
        let p = HandshakePattern::build(BasePattern::Nn, &[0, 2], false).unwrap();
        assert_eq!(p.messages, vec![vec![Psk(0), E], vec![E, Ee, Psk(2)]]);
        assert_eq!(p.psk_locations, vec![0, 2]);
        assert!(HandshakePattern::build(BasePattern::Nn, &[3], false).is_err());
    }
}
