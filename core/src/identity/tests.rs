use super::*;
use crate::error::{Error, ErrorKind};

fn fixed(n: u8) -> Identity {
    Identity::from_secret_bytes(&[n; 32], &[n.wrapping_add(1); 32])
}

#[test]
fn public_roundtrip_and_binding() {
    let id = Identity::generate().unwrap();
    let bytes = id.public().to_bytes();
    assert_eq!(bytes.len(), PublicIdentity::ENCODED_LEN);
    let back = PublicIdentity::from_bytes(&bytes).unwrap();
    assert_eq!(&back, id.public());
    assert_eq!(back.to_bytes(), bytes);
}

#[test]
fn strict_public_decoding() {
    let bytes = fixed(3).public().to_bytes();
    for n in 0..bytes.len() {
        let e = PublicIdentity::from_bytes(&bytes[..n]).unwrap_err();
        assert!(matches!(e, Error::Truncated(_) | Error::BadMagic(_)), "{n}: {e:?}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(PublicIdentity::from_bytes(&long).unwrap_err().kind(), ErrorKind::TrailingBytes);
    let mut v = bytes.clone();
    v[4] = 2;
    assert_eq!(PublicIdentity::from_bytes(&v).unwrap_err().kind(), ErrorKind::UnsupportedVersion);
    let mut m = bytes.clone();
    m[0] = b'X';
    assert_eq!(PublicIdentity::from_bytes(&m).unwrap_err().kind(), ErrorKind::BadMagic);
    let mut ext = bytes.clone();
    ext[69] = 1;
    assert_eq!(PublicIdentity::from_bytes(&ext).unwrap_err().kind(), ErrorKind::UnsupportedAlgorithm);
    // Flipping any bit of a key or of the signature breaks the binding (or the key).
    for i in 5..bytes.len() {
        if i == 69 {
            continue;
        }
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        let k = PublicIdentity::from_bytes(&t).unwrap_err().kind();
        assert!(
            matches!(k, ErrorKind::BadSignature | ErrorKind::InvalidPublicKey),
            "byte {i}: {k:?}"
        );
    }
}

#[test]
fn swapped_exchange_key_is_rejected() {
    let a = fixed(1).public().to_bytes();
    let b = fixed(2).public().to_bytes();
    let mut forged = a.clone();
    forged[37..69].copy_from_slice(&b[37..69]);
    assert_eq!(PublicIdentity::from_bytes(&forged).unwrap_err(), Error::BadSignature);
}

#[test]
fn low_order_exchange_key_is_rejected_before_signature() {
    let mut bytes = fixed(4).public().to_bytes();
    bytes[37..69].copy_from_slice(&[0u8; 32]);
    assert_eq!(PublicIdentity::from_bytes(&bytes).unwrap_err().kind(), ErrorKind::InvalidPublicKey);
}

#[test]
fn sign_verify_strict() {
    let id = fixed(5);
    let sig = id.sign(b"hello").unwrap();
    id.public().verify(b"hello", &sig).unwrap();
    assert_eq!(id.public().verify(b"hellp", &sig).unwrap_err(), Error::BadSignature);
    assert_eq!(id.public().verify(b"hello", &sig[..63]).unwrap_err().kind(), ErrorKind::InvalidLength);
    // Malleated S (S + L) must be rejected.
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut mal = sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(mal[32 + i]) + u16::from(l[i]) + carry;
        mal[32 + i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(id.public().verify(b"hello", &mal).unwrap_err(), Error::BadSignature);
    // Another identity's key does not verify it.
    assert_eq!(fixed(6).public().verify(b"hello", &sig).unwrap_err(), Error::BadSignature);
    // The reserved prefix cannot be signed by applications.
    assert_eq!(id.sign(b"SEALWIRE\x00public-identity\x00").unwrap_err().kind(), ErrorKind::InvalidParameter);
}

#[test]
fn dh_agrees_and_rejects_zero() {
    let a = fixed(7);
    let b = fixed(8);
    let ab = a.diffie_hellman(b.public()).unwrap();
    let ba = b.diffie_hellman(a.public()).unwrap();
    assert_eq!(ab.as_bytes(), ba.as_bytes());
}

#[test]
fn did_and_fingerprint() {
    let id = fixed(9);
    let did = id.public().did();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    assert!(id.public().matches_did(&did));
    assert!(!fixed(10).public().matches_did(&did));
    assert_eq!(text::parse_did_key(&did).unwrap(), *id.public().ed25519_bytes());
    assert_eq!(text::parse_did_key("did:key:z").unwrap_err().kind(), ErrorKind::UnsupportedAlgorithm);
    assert_eq!(text::parse_did_key("did:web:x").unwrap_err().kind(), ErrorKind::InvalidEncoding);
    assert_eq!(text::parse_did_key("did:key:z0OIl").unwrap_err().kind(), ErrorKind::InvalidEncoding);
    let fp = id.public().fingerprint();
    assert_eq!(fp.len(), 12 * 5 + 11);
    assert!(fp.split(' ').all(|g| g.len() == 5 && g.bytes().all(|c| c.is_ascii_digit())));
    assert_ne!(fp, fixed(10).public().fingerprint());
}

#[test]
fn export_import() {
    let id = fixed(11);
    let blob = id.export_with_params(b"correct horse", KdfParams::MINIMUM).unwrap();
    let back = Identity::import(&blob, b"correct horse").unwrap();
    assert_eq!(back.public(), id.public());
    assert_eq!(Identity::import(&blob, b"wrong").unwrap_err(), Error::DecryptionFailed);
    // Any header or body bit flip fails (params out of range → Malformed, else auth failure).
    for i in [5usize, 9, 13, 17, 20, 40, 60, blob.len() - 1] {
        let mut t = blob.clone();
        t[i] ^= 0x01;
        let k = Identity::import(&t, b"correct horse").unwrap_err().kind();
        assert!(
            matches!(
                k,
                ErrorKind::DecryptionFailed | ErrorKind::Malformed | ErrorKind::UnsupportedAlgorithm
            ),
            "byte {i}: {k:?}"
        );
    }
    for n in 0..blob.len() {
        let k = Identity::import(&blob[..n], b"x").unwrap_err().kind();
        assert!(matches!(k, ErrorKind::Truncated | ErrorKind::BadMagic), "{n}: {k:?}");
    }
    let mut long = blob.clone();
    long.push(0);
    assert_eq!(Identity::import(&long, b"x").unwrap_err().kind(), ErrorKind::TrailingBytes);
    let mut v = blob.clone();
    v[4] = 9;
    assert_eq!(Identity::import(&v, b"x").unwrap_err().kind(), ErrorKind::UnsupportedVersion);
    // A hostile header asking for 4 TiB of memory is refused before any work.
    let mut big = blob.clone();
    big[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(Identity::import(&big, b"x").unwrap_err().kind(), ErrorKind::Malformed);
    assert!(KdfParams::new(1024, 1, 1).is_err());
}

#[test]
fn debug_is_redacted() {
    let id = fixed(12);
    let s = format!("{id:?} {:?}", id.public());
    assert!(!s.contains(&hex::encode(id.public().ed25519_bytes())));
    assert_eq!(s, "Identity(..) PublicIdentity(..)");
}

#[test]
fn duplicate_is_the_same_identity() {
    let id = Identity::generate().unwrap();
    let copy = id.duplicate();
    assert_eq!(copy.public(), id.public());
    assert_eq!(copy.sign(b"m").unwrap(), id.sign(b"m").unwrap());
}
