//! Reading the server's ALPN choice out of its hello, for an error that names it: Mbed TLS
//! refuses a protocol the device never offered with a bare handshake failure. Pure byte
//! parsing of handshake messages (with their 4-byte header); `None` for anything malformed.

/// The ALPN extension's type (RFC 7301).
const ALPN_EXTENSION: u16 = 16;
/// Handshake message types.
const SERVER_HELLO: u8 = 2;
const ENCRYPTED_EXTENSIONS: u8 = 8;

/// The protocol named by the ALPN extension of a TLS 1.2 ServerHello.
pub(super) fn server_hello_choice(message: &[u8]) -> Option<&[u8]> {
    let body = handshake_body(message, SERVER_HELLO)?;
    // server_version (2), random (32), then the session id with its length byte.
    let session_id_length = usize::from(*body.get(34)?);
    // cipher_suite (2) and compression_method (1) follow the session id.
    let extensions_at = 35usize.checked_add(session_id_length)?.checked_add(3)?;
    extension_choice(body.get(extensions_at..)?)
}

/// The protocol named by the ALPN extension of a TLS 1.3 EncryptedExtensions.
pub(super) fn encrypted_extensions_choice(message: &[u8]) -> Option<&[u8]> {
    extension_choice(handshake_body(message, ENCRYPTED_EXTENSIONS)?)
}

/// The body of a handshake message of type `kind`, as long as its header says.
fn handshake_body(message: &[u8], kind: u8) -> Option<&[u8]> {
    let (&[found, a, b, c], body) = message.split_first_chunk::<4>()?;
    let length = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
    (found == kind).then_some(())?;
    body.get(..length)
}

/// From `extensions_length (2) || extensions`, the single name of the ALPN extension.
fn extension_choice(extensions: &[u8]) -> Option<&[u8]> {
    let (length, rest) = split_u16(extensions)?;
    let mut rest = rest.get(..usize::from(length))?;
    while !rest.is_empty() {
        let (kind, after) = split_u16(rest)?;
        let (length, after) = split_u16(after)?;
        let data = after.get(..usize::from(length))?;
        rest = after.get(usize::from(length)..)?;
        if kind == ALPN_EXTENSION {
            // protocol_name_list: its length (2), then exactly one name with its length byte.
            let (list_length, list) = split_u16(data)?;
            let list = list.get(..usize::from(list_length))?;
            let (&name_length, name) = list.split_first()?;
            return (name.len() == usize::from(name_length) && !name.is_empty()).then_some(name);
        }
    }
    None
}

fn split_u16(bytes: &[u8]) -> Option<(u16, &[u8])> {
    let (&[high, low], rest) = bytes.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes([high, low]), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn alpn_extension(name: &[u8]) -> Vec<u8> {
        let mut extension = Vec::new();
        extension.extend_from_slice(&ALPN_EXTENSION.to_be_bytes());
        extension.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        extension.extend_from_slice(&((name.len() + 1) as u16).to_be_bytes());
        extension.push(name.len() as u8);
        extension.extend_from_slice(name);
        extension
    }

    fn extensions(list: &[Vec<u8>]) -> Vec<u8> {
        let all: Vec<u8> = list.concat();
        let mut out = (all.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&all);
        out
    }

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let length = body.len();
        let mut out = Vec::from([
            kind,
            (length >> 16) as u8,
            (length >> 8) as u8,
            length as u8,
        ]);
        out.extend_from_slice(body);
        out
    }

    fn server_hello(session_id: &[u8], exts: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::from([3, 3]);
        body.extend_from_slice(&[0x11; 32]);
        body.push(session_id.len() as u8);
        body.extend_from_slice(session_id);
        body.extend_from_slice(&[0xc0, 0x2b, 0]);
        body.extend_from_slice(&extensions(exts));
        message(SERVER_HELLO, &body)
    }

    #[test]
    fn the_choice_is_found_among_other_extensions_in_either_message() {
        let renegotiation = Vec::from([0xff, 0x01, 0, 1, 0]);
        let hello = server_hello(&[7; 32], &[renegotiation.clone(), alpn_extension(b"h2")]);
        assert_eq!(server_hello_choice(&hello), Some(&b"h2"[..]));
        let hello = server_hello(&[], &[alpn_extension(b"x-amzn-http-cb")]);
        assert_eq!(server_hello_choice(&hello), Some(&b"x-amzn-http-cb"[..]));
        let encrypted = message(
            ENCRYPTED_EXTENSIONS,
            &extensions(&[renegotiation, alpn_extension(b"http/1.1")]),
        );
        assert_eq!(
            encrypted_extensions_choice(&encrypted),
            Some(&b"http/1.1"[..])
        );
    }

    #[test]
    fn no_extension_or_a_malformed_message_gives_nothing() {
        assert_eq!(server_hello_choice(&server_hello(&[], &[])), None);
        let hello = server_hello(&[], &[alpn_extension(b"h2")]);
        for cut in 0..hello.len() {
            assert_eq!(server_hello_choice(&hello[..cut]), None, "cut at {cut}");
        }
        // The wrong message type, or a name list holding two names.
        assert_eq!(encrypted_extensions_choice(&hello), None);
        let mut two = alpn_extension(b"h2");
        two.extend_from_slice(&[2, b'h', b'3']);
        let two_len = (two.len() - 4) as u16;
        two[2..4].copy_from_slice(&two_len.to_be_bytes());
        two[4..6].copy_from_slice(&(two_len - 2).to_be_bytes());
        assert_eq!(server_hello_choice(&server_hello(&[], &[two])), None);
    }
}
