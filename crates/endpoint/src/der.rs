//! Just enough DER to log who connected: the subject common name of a certificate.

/// The OID of the X.520 common name attribute, with its DER tag and length.
const COMMON_NAME_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];

/// The subject CN: in a certificate the issuer name comes first and the subject second, so it
/// is the last common name attribute (extensions carry none).
pub fn subject_common_name(certificate: &[u8]) -> Option<String> {
    let mut found = None;
    let mut at = 0;
    while let Some(offset) = certificate
        .get(at..)?
        .windows(COMMON_NAME_OID.len())
        .position(|window| window == COMMON_NAME_OID)
    {
        let value_at = at + offset + COMMON_NAME_OID.len();
        if let (Some(&tag), Some(&length)) =
            (certificate.get(value_at), certificate.get(value_at + 1))
        {
            let is_string = matches!(tag, 0x0c | 0x13 | 0x16);
            if is_string && length < 0x80 {
                let value = certificate.get(value_at + 2..value_at + 2 + usize::from(length));
                if let Some(text) = value.and_then(|bytes| std::str::from_utf8(bytes).ok()) {
                    found = Some(text.to_owned());
                }
            }
        }
        at = value_at;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_subject_after_the_issuer() {
        let mut der = vec![0x30, 0x00];
        der.extend_from_slice(&COMMON_NAME_OID);
        der.extend_from_slice(&[0x0c, 2]);
        der.extend_from_slice(b"CA");
        der.extend_from_slice(&COMMON_NAME_OID);
        der.extend_from_slice(&[0x13, 6]);
        der.extend_from_slice(b"device");
        assert_eq!(subject_common_name(&der).as_deref(), Some("device"));
    }

    #[test]
    fn truncated_input_gives_none_without_panicking() {
        let der = [0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 9, b'x'];
        assert_eq!(subject_common_name(&der), None);
        assert_eq!(subject_common_name(&[]), None);
    }
}
