//! What the endpoint's integration tests share: one HTTP/1.1 response, framed by its
//! Content-Length, read off a stream.
// Each test crate uses a part of it.
#![allow(dead_code)]

use std::io::{self, Read};

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response: its head, then as many body bytes as its Content-Length says.
pub fn read_response(stream: &mut impl Read) -> io::Result<Response> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head_length) =
            parsed.parse(&buffer).map_err(io::Error::other)?
        {
            let mut response = Response {
                status: parsed.code.unwrap_or_default(),
                headers: parsed
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect(),
                body: String::new(),
            };
            let length: usize = response
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = buffer.split_off(head_length);
            while body.len() < length {
                let count = stream.read(&mut chunk)?;
                if count == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                body.extend_from_slice(&chunk[..count]);
            }
            response.body = String::from_utf8_lossy(&body).into_owned();
            return Ok(response);
        }
        let count = stream.read(&mut chunk)?;
        if count == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..count]);
    }
}
