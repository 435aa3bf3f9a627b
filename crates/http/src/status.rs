//! Response status codes and protocol versions.

/// A response status code, always in `100..=599` (RFC 9110, section 15).
///
/// The parser rejects anything outside that range as a malformed status line, so a value
/// of this type is always meaningful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusCode(u16);

impl StatusCode {
    /// `200 OK`.
    pub const OK: StatusCode = StatusCode(200);
    /// `101 Switching Protocols`.
    pub const SWITCHING_PROTOCOLS: StatusCode = StatusCode(101);
    /// `204 No Content`.
    pub const NO_CONTENT: StatusCode = StatusCode(204);
    /// `206 Partial Content`, the answer to a satisfied `Range` request.
    pub const PARTIAL_CONTENT: StatusCode = StatusCode(206);
    /// `304 Not Modified`.
    pub const NOT_MODIFIED: StatusCode = StatusCode(304);

    /// Makes a status code from its number, or `None` when it is outside `100..=599`.
    pub const fn new(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 599 {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    /// The number, e.g. `200`.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// `1xx`: an interim response.
    pub const fn is_informational(self) -> bool {
        self.0 < 200
    }

    /// `2xx`: the request succeeded.
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// `3xx`: a redirection.
    pub const fn is_redirection(self) -> bool {
        self.0 >= 300 && self.0 < 400
    }

    /// `4xx`: the request was at fault (for AWS IoT: 400, 401, 403, 404, 409, 413, 422, 429).
    pub const fn is_client_error(self) -> bool {
        self.0 >= 400 && self.0 < 500
    }

    /// `5xx`: the server failed (for AWS IoT: 500, 503). Usually worth a retry with backoff.
    pub const fn is_server_error(self) -> bool {
        self.0 >= 500
    }

    /// Whether a response with this status never has content, whatever its headers say
    /// (RFC 9112, section 6.3: all `1xx`, `204` and `304`).
    pub const fn forbids_body(self) -> bool {
        self.is_informational() || self.0 == 204 || self.0 == 304
    }

    /// The standard reason phrase for the codes a device is likely to meet, or `None`.
    ///
    /// Servers may send any phrase (or none); use [`ResponseHead::reason`] for what was
    /// actually received.
    ///
    /// [`ResponseHead::reason`]: crate::ResponseHead::reason
    pub const fn canonical_reason(self) -> Option<&'static str> {
        Some(match self.0 {
            100 => "Continue",
            101 => "Switching Protocols",
            200 => "OK",
            201 => "Created",
            202 => "Accepted",
            204 => "No Content",
            206 => "Partial Content",
            301 => "Moved Permanently",
            302 => "Found",
            304 => "Not Modified",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            411 => "Length Required",
            413 => "Content Too Large",
            416 => "Range Not Satisfiable",
            422 => "Unprocessable Content",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => return None,
        })
    }
}

impl core::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The protocol version of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: connections close after each response unless `keep-alive` is sent.
    Http10,
    /// `HTTP/1.1`: connections persist unless `close` is sent.
    Http11,
}

#[cfg(test)]
mod tests {
    use super::StatusCode;

    #[test]
    fn rejects_codes_outside_100_to_599() {
        assert_eq!(StatusCode::new(99), None);
        assert_eq!(StatusCode::new(600), None);
        assert_eq!(StatusCode::new(0), None);
        assert_eq!(StatusCode::new(100).map(StatusCode::as_u16), Some(100));
        assert_eq!(StatusCode::new(599).map(StatusCode::as_u16), Some(599));
    }

    #[test]
    fn classes_partition_the_range() {
        for code in 100..=599 {
            let s = StatusCode::new(code).unwrap();
            let classes = [
                s.is_informational(),
                s.is_success(),
                s.is_redirection(),
                s.is_client_error(),
                s.is_server_error(),
            ];
            assert_eq!(classes.iter().filter(|c| **c).count(), 1, "{code}");
        }
    }

    #[test]
    fn body_is_forbidden_for_1xx_204_304_only() {
        assert!(StatusCode::new(100).unwrap().forbids_body());
        assert!(StatusCode::new(199).unwrap().forbids_body());
        assert!(StatusCode::NO_CONTENT.forbids_body());
        assert!(StatusCode::NOT_MODIFIED.forbids_body());
        assert!(!StatusCode::OK.forbids_body());
        assert!(!StatusCode::new(205).unwrap().forbids_body());
    }

    #[test]
    fn knows_aws_iot_reasons() {
        assert_eq!(StatusCode::OK.canonical_reason(), Some("OK"));
        assert_eq!(
            StatusCode::new(429).unwrap().canonical_reason(),
            Some("Too Many Requests")
        );
        assert_eq!(StatusCode::new(599).unwrap().canonical_reason(), None);
    }
}
