//! A tap that records every frame crossing the link in a pcap file, for Wireshark or tshark.
//!
//! Enable it with [`NetConfig::pcap`](crate::net::NetConfig::pcap) (or the demo's `--pcap
//! FILE`). Frames are written as they pass, with host-clock timestamps, by whichever task moves
//! them; a write error stops the capture (logged once) and never disturbs the network.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// pcap's link type for Ethernet.
const LINKTYPE_ETHERNET: u32 = 1;

/// An open capture file.
pub struct PcapTap {
    out: Option<BufWriter<File>>,
}

impl PcapTap {
    /// Creates `path` and writes the pcap file header.
    pub fn create(path: &Path) -> io::Result<PcapTap> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?; // magic: microsecond timestamps
        out.write_all(&2u16.to_le_bytes())?; // version 2.4
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?; // GMT offset
        out.write_all(&0u32.to_le_bytes())?; // timestamp accuracy
        out.write_all(&65_535u32.to_le_bytes())?; // snapshot length
        out.write_all(&LINKTYPE_ETHERNET.to_le_bytes())?;
        out.flush()?;
        Ok(PcapTap { out: Some(out) })
    }

    /// Records one frame.
    pub fn record(&mut self, frame: &[u8]) {
        let Some(out) = self.out.as_mut() else { return };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let length = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let written = out
            .write_all(&(now.as_secs() as u32).to_le_bytes())
            .and_then(|()| out.write_all(&now.subsec_micros().to_le_bytes()))
            .and_then(|()| out.write_all(&length.to_le_bytes()))
            .and_then(|()| out.write_all(&length.to_le_bytes()))
            .and_then(|()| out.write_all(frame))
            .and_then(|()| out.flush());
        if let Err(error) = written {
            log::warn!("pcap capture stopped: {error}");
            self.out = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_header_and_one_record_per_frame() {
        let dir = std::env::temp_dir().join(format!("pcap-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("capture.pcap");
        let mut tap = PcapTap::create(&path).expect("create");
        tap.record(&[1, 2, 3]);
        tap.record(&[4; 60]);
        drop(tap);
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(
            u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes")),
            1
        );
        assert_eq!(bytes.len(), 24 + (16 + 3) + (16 + 60));
        assert_eq!(
            u32::from_le_bytes(bytes[24 + 8..24 + 12].try_into().expect("4 bytes")),
            3
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
