//! The request method.

/// An HTTP request method (RFC 9110, section 9).
///
/// Only the methods a device client needs are listed; `CONNECT` and `TRACE` are left out
/// on purpose (tunnels and loop-back diagnostics have no place on a device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: fetch a resource.
    Get,
    /// `HEAD`: like `GET`, but the response never has a body.
    Head,
    /// `POST`: submit content, e.g. publish a message to an AWS IoT topic.
    Post,
    /// `PUT`: replace a resource with the content.
    Put,
    /// `DELETE`: remove a resource.
    Delete,
    /// `PATCH`: modify a resource partially.
    Patch,
    /// `OPTIONS`: ask what the server supports; the only method allowed with target `*`.
    Options,
}

impl Method {
    /// The method token as it appears on the request line, e.g. `"POST"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
        }
    }

    /// Whether the method defines a meaning for request content, so that a
    /// `Content-Length: 0` is worth sending even when the body is empty (RFC 9110, 8.6).
    pub const fn expects_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

#[cfg(test)]
mod tests {
    use super::Method;

    #[test]
    fn tokens_are_upper_case_names() {
        let all = [
            (Method::Get, "GET"),
            (Method::Head, "HEAD"),
            (Method::Post, "POST"),
            (Method::Put, "PUT"),
            (Method::Delete, "DELETE"),
            (Method::Patch, "PATCH"),
            (Method::Options, "OPTIONS"),
        ];
        for (method, token) in all {
            assert_eq!(method.as_str(), token);
        }
    }

    #[test]
    fn only_content_methods_expect_a_body() {
        assert!(Method::Post.expects_body());
        assert!(Method::Put.expects_body());
        assert!(Method::Patch.expects_body());
        assert!(!Method::Get.expects_body());
        assert!(!Method::Head.expects_body());
        assert!(!Method::Delete.expects_body());
        assert!(!Method::Options.expects_body());
    }
}
