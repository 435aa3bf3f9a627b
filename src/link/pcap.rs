//! A tap that records every frame crossing a card in a pcap capture, for Wireshark or tshark.
//!
//! [`PcapTap`] wraps any [`LinkCard`] and is one itself, so the stack never knows it is there.
//! The capture goes to a [`CaptureSink`]: a file on the simulator (the demo's `--pcap FILE`),
//! anything that stores bytes on a board. Frames are written as they pass, stamped with the
//! board's wall clock (its uptime if it has none), by whichever task moves them. A write error
//! stops the capture (logged once) and never disturbs the network.

use core::time::Duration;

use alloc::boxed::Box;

use super::{Frame, LinkCard, LinkCounters, ReceiveHandler, RingFull};
use crate::board;

/// pcap's link type for Ethernet.
const LINKTYPE_ETHERNET: u32 = 1;

/// Where a capture goes. Writes happen on tasks, and must not block on kernel objects.
pub trait CaptureSink: Send {
    /// Stores all of `bytes` (and flushes them, so that a capture cut short stays readable).
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), CaptureError>;
}

/// The sink could not store the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureError;

impl core::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the capture could not be written")
    }
}

impl core::error::Error for CaptureError {}

/// A card whose every frame, in and out, is also written to a pcap capture.
pub struct PcapTap<C: LinkCard> {
    card: C,
    sink: Option<Box<dyn CaptureSink>>,
}

impl<C: LinkCard> PcapTap<C> {
    /// Wraps `card`, writing the pcap file header to `sink` first.
    pub fn new(card: C, mut sink: Box<dyn CaptureSink>) -> Result<PcapTap<C>, CaptureError> {
        sink.write_all(&file_header())?;
        Ok(PcapTap {
            card,
            sink: Some(sink),
        })
    }

    /// Records one frame.
    fn record(&mut self, frame: &[u8]) {
        let Some(sink) = self.sink.as_mut() else {
            return;
        };
        let services = board::services();
        let now = services.wall_clock().unwrap_or_else(|| services.uptime());
        if sink.write_all(&record_header(now, frame.len())).is_err()
            || sink.write_all(frame).is_err()
        {
            log::warn!("pcap capture stopped: the sink failed");
            self.sink = None;
        }
    }
}

/// The 24-byte pcap file header: microsecond timestamps, version 2.4, Ethernet.
fn file_header() -> [u8; 24] {
    let mut header = [0u8; 24];
    header[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header[4..6].copy_from_slice(&2u16.to_le_bytes());
    header[6..8].copy_from_slice(&4u16.to_le_bytes());
    // GMT offset and timestamp accuracy stay zero.
    header[16..20].copy_from_slice(&65_535u32.to_le_bytes()); // snapshot length
    header[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    header
}

/// The 16-byte header of one record.
fn record_header(stamp: Duration, length: usize) -> [u8; 16] {
    let length = u32::try_from(length).unwrap_or(u32::MAX);
    let mut header = [0u8; 16];
    header[0..4].copy_from_slice(&(stamp.as_secs() as u32).to_le_bytes());
    header[4..8].copy_from_slice(&stamp.subsec_micros().to_le_bytes());
    header[8..12].copy_from_slice(&length.to_le_bytes());
    header[12..16].copy_from_slice(&length.to_le_bytes());
    header
}

impl<C: LinkCard> LinkCard for PcapTap<C> {
    fn receive_into(&mut self, frame: &mut Frame) -> bool {
        let received = self.card.receive_into(frame);
        if received {
            self.record(frame);
        }
        received
    }

    fn can_send(&mut self) -> bool {
        self.card.can_send()
    }

    fn send(&mut self, frame: &Frame) -> Result<(), RingFull> {
        self.record(frame);
        self.card.send(frame)
    }

    fn interrupt_line(&self) -> u8 {
        self.card.interrupt_line()
    }

    fn service(&mut self) {
        self.card.service();
    }

    fn wake_within(&self) -> Option<Duration> {
        self.card.wake_within()
    }

    fn set_receive_handler(&mut self, handler: ReceiveHandler) {
        self.card.set_receive_handler(handler);
    }

    fn counters(&self) -> LinkCounters {
        self.card.counters()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    use std::sync::Mutex;
    #[allow(unused_imports)]
    use std::{format, vec};

    /// A card with frames waiting to be received, that keeps what is sent.
    struct LoopCard {
        incoming: Vec<Frame>,
        sent: Vec<Frame>,
    }

    impl LinkCard for LoopCard {
        fn receive_into(&mut self, frame: &mut Frame) -> bool {
            self.incoming.pop().map(|next| *frame = next).is_some()
        }
        fn can_send(&mut self) -> bool {
            true
        }
        fn send(&mut self, frame: &Frame) -> Result<(), RingFull> {
            self.sent.push(frame.clone());
            Ok(())
        }
        fn interrupt_line(&self) -> u8 {
            3
        }
        fn counters(&self) -> LinkCounters {
            LinkCounters::default()
        }
    }

    struct MemorySink(Arc<Mutex<Vec<u8>>>);

    impl CaptureSink for MemorySink {
        fn write_all(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(())
        }
    }

    #[test]
    fn writes_a_header_and_one_record_per_frame_each_way() {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let card = LoopCard {
            incoming: alloc::vec![Frame::from_slice(&[4; 60]).unwrap()],
            sent: Vec::new(),
        };
        let mut tap = PcapTap::new(card, Box::new(MemorySink(bytes.clone()))).expect("header");
        tap.send(&Frame::from_slice(&[1, 2, 3]).unwrap())
            .expect("sent");
        let mut received = Frame::new();
        assert!(tap.receive_into(&mut received));
        assert_eq!(received.len(), 60);
        assert!(!tap.receive_into(&mut received));
        assert_eq!(tap.interrupt_line(), 3);
        assert_eq!(tap.card.sent.len(), 1);
        let bytes = bytes.lock().unwrap();
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 1);
        assert_eq!(bytes.len(), 24 + (16 + 3) + (16 + 60));
        assert_eq!(
            u32::from_le_bytes(bytes[24 + 8..24 + 12].try_into().unwrap()),
            3
        );
    }
}
