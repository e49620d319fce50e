//! Strict parsing of Noise protocol names (Noise rev 34 §8), e.g.
//! `Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s` or `Noise_IKhfs_25519+MLKEM768_AESGCM_SHA256`.
//!
//! Malformed names are [`Error::Malformed`]; well-formed names naming something this build
//! does not implement are [`Error::UnsupportedAlgorithm`]. Nothing is defaulted or guessed: the
//! name is hashed into the handshake, so two parties must agree on it byte for byte.

use super::cipher::CipherKind;
use super::hash::HashKind;
use super::pattern::{BasePattern, HandshakePattern};
use crate::error::{Error, Result};

/// §8: a protocol name is at most 255 bytes.
const MAX_NAME_LEN: usize = 255;
const WHAT: &str = "Noise protocol name";

/// A parsed, supported protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Protocol {
    pub(crate) name: String,
    pub(crate) pattern: HandshakePattern,
    pub(crate) cipher: CipherKind,
    pub(crate) hash: HashKind,
}

impl Protocol {
    pub(crate) fn parse(name: &str) -> Result<Self> {
        if name.len() > MAX_NAME_LEN {
            return Err(Error::Malformed(WHAT));
        }
        let mut sections = name.split('_');
        let (Some(prefix), Some(pattern), Some(dh), Some(cipher), Some(hash), None) = (
            sections.next(),
            sections.next(),
            sections.next(),
            sections.next(),
            sections.next(),
            sections.next(),
        ) else {
            return Err(Error::Malformed(WHAT));
        };
        if prefix != "Noise" {
            return Err(Error::Malformed(WHAT));
        }
        for section in [pattern, dh, cipher, hash] {
            // §8: each section is non-empty and uses only alphanumerics, '+' and '/'.
            let ok = !section.is_empty()
                && section.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
            if !ok {
                return Err(Error::Malformed(WHAT));
            }
        }
        let (base, psks, hfs) = parse_pattern(pattern)?;
        match (dh, hfs) {
            ("25519", false) | ("25519+MLKEM768", true) => {}
            ("25519+MLKEM768", false) => {
                return Err(Error::Malformed("Noise protocol name: a KEM needs the hfs modifier"))
            }
            ("25519", true) => {
                return Err(Error::Malformed("Noise protocol name: hfs needs a KEM in the DH section"))
            }
            _ => return Err(Error::UnsupportedAlgorithm("Noise DH or KEM")),
        }
        let cipher = CipherKind::from_name(cipher).ok_or(Error::UnsupportedAlgorithm("Noise cipher"))?;
        let hash = HashKind::from_name(hash).ok_or(Error::UnsupportedAlgorithm("Noise hash"))?;
        let pattern = HandshakePattern::build(base, &psks, hfs)?;
        Ok(Self { name: name.to_owned(), pattern, cipher, hash })
    }
}

/// Split `XXhfs+psk3` into the base pattern, the psk locations (in name order) and the hfs
/// flag. Modifiers are joined by `+` (§8); each may appear once.
fn parse_pattern(section: &str) -> Result<(BasePattern, Vec<u8>, bool)> {
    let split = section.find(|c: char| !c.is_ascii_uppercase() && !c.is_ascii_digit()).unwrap_or(section.len());
    let (base_name, modifiers) = section.split_at(split);
    let base = BasePattern::from_name(base_name).ok_or(Error::UnsupportedAlgorithm("Noise handshake pattern"))?;
    let mut psks: Vec<u8> = Vec::new();
    let mut hfs = false;
    if !modifiers.is_empty() {
        for modifier in modifiers.split('+') {
            if modifier == "hfs" {
                if hfs {
                    return Err(Error::Malformed(WHAT));
                }
                hfs = true;
            } else if let Some(digits) = modifier.strip_prefix("psk") {
                let n = parse_psk_number(digits)?;
                if psks.contains(&n) {
                    return Err(Error::Malformed(WHAT));
                }
                psks.push(n);
            } else if modifier.is_empty() || !modifier.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Error::Malformed(WHAT));
            } else {
                return Err(Error::UnsupportedAlgorithm("Noise pattern modifier"));
            }
        }
    }
    if hfs && !psks.is_empty() {
        // No reference behaviour exists for the combination; refuse rather than guess.
        return Err(Error::UnsupportedAlgorithm("Noise hfs combined with psk"));
    }
    Ok((base, psks, hfs))
}

/// A psk location: decimal, no leading zeros, small enough to name a message.
fn parse_psk_number(digits: &str) -> Result<u8> {
    let canonical = !digits.is_empty()
        && digits.len() <= 2
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !(digits.len() > 1 && digits.starts_with('0'));
    if !canonical {
        return Err(Error::Malformed(WHAT));
    }
    digits.parse::<u8>().map_err(|_| Error::Malformed(WHAT))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_names() {
        let p = Protocol::parse("Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s").unwrap();
        assert_eq!(p.pattern.base, BasePattern::Xx);
        assert_eq!(p.pattern.psk_locations, vec![3]);
        assert_eq!(p.cipher, CipherKind::ChaChaPoly);
        assert_eq!(p.hash, HashKind::Blake2s);
        let p = Protocol::parse("Noise_IKhfs_25519+MLKEM768_AESGCM_SHA512").unwrap();
        assert!(p.pattern.hfs);
        let p = Protocol::parse("Noise_NNpsk0+psk2_25519_AESGCM_BLAKE2b").unwrap();
        assert_eq!(p.pattern.psk_locations, vec![0, 2]);
    }

    #[test]
    fn rejects_bad_names() {
        let malformed = [
            "",
            "Noise",
            "Noise_XX_25519_ChaChaPoly",
            "Noise_XX_25519_ChaChaPoly_SHA256_",
            "Noise_XX_25519_ChaChaPoly_SHA256_extra",
            "noise_XX_25519_ChaChaPoly_SHA256",
            "Noise__25519_ChaChaPoly_SHA256",
            "Noise_XX_25519_Cha-Cha_SHA256",
            "Noise_XXpsk_25519_ChaChaPoly_SHA256",
            "Noise_XXpsk03_25519_ChaChaPoly_SHA256",
            "Noise_XXpsk3+psk3_25519_ChaChaPoly_SHA256",
            "Noise_XXpsk3+_25519_ChaChaPoly_SHA256",
            "Noise_XXhfs_25519_ChaChaPoly_SHA256",
            "Noise_XX_25519+MLKEM768_ChaChaPoly_SHA256",
            "Noise_XX_25519_ChaChaPoly_SHA256 ",
        ];
        for name in malformed {
            assert!(matches!(Protocol::parse(name), Err(Error::Malformed(_))), "{name}");
        }
        let unsupported = [
            "Noise_XX_448_ChaChaPoly_SHA256",
            "Noise_XX_25519_AESGCM_SHA3",
            "Noise_XX_25519_Salsa_SHA256",
            "Noise_X1X_25519_ChaChaPoly_SHA256",
            "Noise_XXfallback_25519_ChaChaPoly_SHA256",
            "Noise_XXpsk4_25519_ChaChaPoly_SHA256",
            "Noise_Nhfs_25519+MLKEM768_ChaChaPoly_SHA256",
            "Noise_XXhfs_25519+Kyber1024_ChaChaPoly_SHA256",
            "Noise_XXhfs+psk3_25519+MLKEM768_ChaChaPoly_SHA256",
        ];
        for name in unsupported {
            assert!(matches!(Protocol::parse(name), Err(Error::UnsupportedAlgorithm(_))), "{name}");
        }
        let long = format!("Noise_XX_25519_ChaChaPoly_{}", "A".repeat(240));
        assert!(matches!(Protocol::parse(&long), Err(Error::Malformed(_))));
    }
}
