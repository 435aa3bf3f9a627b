//! Size probe: one typical exchange, as the device demo does it.
//!
//! Builds a `POST /topics/<topic>?qos=1` request, sends it over a transport, reads the
//! response whole (Content-Length) and streamed (chunked), looks up headers, and draws a
//! backoff delay. `black_box` hides the canned data from the optimiser so nothing is
//! constant-folded away. The transport here is the "glue" part: on the device it wraps a
//! TLS session instead of a static buffer.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::time::Duration;

use iot_backoff::{Backoff, BackoffPolicy, EntropySource, NextDelay};
use iot_http::{Clock, Config, HttpClient, Method, PathBuilder, RequestBuilder};
use iot_transport::{Received, Sent, Transport};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

static RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"message\":\"OK\"}\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";

/// Stand-in for the TLS transport: bytes come from a buffer the optimiser cannot see.
struct DeviceTransport {
    at: usize,
}

impl Transport for DeviceTransport {
    type Error = i32;

    fn send(&mut self, data: &[u8]) -> Result<Sent, i32> {
        let accepted = black_box(data).len();
        match black_box(accepted) {
            0 => Ok(Sent::WouldBlock),
            n if n > 1 << 20 => Err(-1),
            n => Ok(Sent::Bytes(n)),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Received, i32> {
        let source: &[u8] = black_box(RESPONSE);
        let rest = source.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if n == 0 {
            return Ok(Received::EndOfStream);
        }
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(Received::Data(n))
    }
}

/// Stand-in for the FreeRTOS tick count.
struct TickClock;

impl Clock for TickClock {
    fn now(&self) -> Duration {
        // A 32-bit millisecond tick count, as xTaskGetTickCount gives at 1 kHz.
        let ms: u32 = black_box(0);
        Duration::new(u64::from(ms / 1000), (ms % 1000) * 1_000_000)
    }
}

/// Stand-in for the TLS entropy source.
struct TlsEntropy;

impl EntropySource for TlsEntropy {
    type Error = i32;

    fn next_u32(&mut self) -> Result<u32, i32> {
        Ok(black_box(0x1234_5678))
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn probe_main() -> u32 {
    let mut score = 0u32;
    let mut backoff = Backoff::new(BackoffPolicy::DEFAULT);
    if let Ok(NextDelay::Retry(delay)) = backoff.next_delay(&mut TlsEntropy) {
        score = score.wrapping_add(delay.subsec_millis());
    }

    let mut client: HttpClient<_, _, 16> =
        HttpClient::new(DeviceTransport { at: 0 }, TickClock, Config::DEFAULT);
    let mut path_buf = [0u8; 96];
    let mut path = PathBuilder::new(&mut path_buf);
    let topic = black_box("sensors/room 1");
    if path
        .literal("/topics/")
        .and_then(|p| p.segment(topic))
        .and_then(|p| p.literal("?qos=1"))
        .is_err()
    {
        return 1;
    }
    let mut head_buf = [0u8; 256];
    let payload: &[u8] = black_box(b"{\"temperature\":21}");
    let Ok(mut builder) = RequestBuilder::new(
        &mut head_buf,
        Method::Post,
        path.as_str(),
        black_box("iot.example"),
    ) else {
        return 2;
    };
    if builder.user_agent("iot-device/0.1").is_err() {
        return 3;
    }
    let Ok(request) = builder.finish_for_body(payload) else {
        return 4;
    };

    let mut response_buf = [0u8; 512];
    match client.send(&request, payload, &mut response_buf) {
        Ok(response) => {
            score = score.wrapping_add(u32::from(response.status().as_u16()));
            score = score.wrapping_add(response.body.len() as u32);
            if response.head.header_str("content-type").is_some() {
                score = score.wrapping_add(1);
            }
        }
        Err(_) => return 5,
    }

    let mut stream_buf = [0u8; 256];
    let Ok(mut streamed) = client.send_streaming(&request, payload, &mut stream_buf) else {
        return 6;
    };
    let mut out = [0u8; 64];
    while let Ok(n) = streamed.body.read(&mut out) {
        if n == 0 {
            break;
        }
        score = score.wrapping_add(u32::from(out[0]));
    }
    score
}
