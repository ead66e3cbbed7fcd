//! A `$skiptoken` through the decoder: once as sent (it must fail the HMAC check cleanly), and
//! once signed with the server's key, so the decoding behind the check (base64, JSON, typed
//! values) is reached too.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use server::paging::TokenSigner;

const KEY: [u8; 32] = [7; 32];

fuzz_target!(|data: &[u8]| {
    let signer = TokenSigner::new(KEY.to_vec());
    if let Ok(token) = std::str::from_utf8(data) {
        assert!(
            signer.decode(token).is_err(),
            "an unsigned token was accepted"
        );
    }
    // the payload as the server would have signed it
    let payload = URL_SAFE_NO_PAD.encode(data);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&KEY).expect("any key length");
    mac.update(payload.as_bytes());
    let tag = mac.finalize().into_bytes();
    let token = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..16]));
    if let Ok(decoded) = signer.decode(&token) {
        // what decodes encodes again to a token that decodes to the same
        let again = signer.decode(&signer.encode(&decoded)).expect("re-encoded");
        assert_eq!(again.after, decoded.after);
        assert_eq!(again.fingerprint, decoded.fingerprint);
    }
});
