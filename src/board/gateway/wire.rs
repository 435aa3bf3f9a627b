//! Frames the gateway reads and writes itself, outside its smoltcp interface: what a device
//! frame is (for the gateway's dispatch), and UDP datagrams to the device (DHCP, DNS, the UDP
//! relay).

use std::net::Ipv4Addr;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, TcpPacket, UdpPacket, UdpRepr,
};

use crate::link::Frame;

/// Ethernet + IPv4 + UDP header bytes in front of a datagram's payload.
pub const UDP_OVERHEAD: usize = 14 + 20 + 8;

/// A UDP datagram from the device, as the gateway dispatches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDatagram<'a> {
    /// The device's MAC address.
    pub src_mac: EthernetAddress,
    /// The device's address (`0.0.0.0` before DHCP).
    pub src: (Ipv4Addr, u16),
    /// Where the device sent it.
    pub dst: (Ipv4Addr, u16),
    /// The datagram's payload.
    pub payload: &'a [u8],
}

/// A TCP connection request (SYN without ACK) from the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SynKey {
    /// The device's end.
    pub src: (Ipv4Addr, u16),
    /// The destination the device dialled.
    pub dst: (Ipv4Addr, u16),
}

/// What a frame from the device is, as far as the gateway's dispatch cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified<'a> {
    /// An ARP request for `target`.
    ArpRequest {
        /// The address asked about.
        target: Ipv4Addr,
    },
    /// A UDP datagram.
    Udp(DeviceDatagram<'a>),
    /// A TCP segment opening a connection.
    Syn(SynKey),
    /// Anything else the interface handles (other TCP segments, ARP replies, ICMP), or
    /// rejects.
    Other,
}

/// Classifies a frame from the device. Malformed frames are `Other` (the interface drops
/// them); nothing here can panic on any input.
pub fn classify(bytes: &[u8]) -> Classified<'_> {
    let Ok(ethernet) = EthernetFrame::new_checked(bytes) else {
        return Classified::Other;
    };
    match ethernet.ethertype() {
        EthernetProtocol::Arp => {
            let Ok(arp) = ArpPacket::new_checked(ethernet.payload()) else {
                return Classified::Other;
            };
            match ArpRepr::parse(&arp) {
                Ok(ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request,
                    target_protocol_addr,
                    ..
                }) => Classified::ArpRequest {
                    target: target_protocol_addr,
                },
                _ => Classified::Other,
            }
        }
        EthernetProtocol::Ipv4 => classify_ipv4(ethernet.src_addr(), ethernet.payload()),
        _ => Classified::Other,
    }
}

fn classify_ipv4(src_mac: EthernetAddress, bytes: &[u8]) -> Classified<'_> {
    let Ok(ip) = Ipv4Packet::new_checked(bytes) else {
        return Classified::Other;
    };
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Classified::Other;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let header_len = usize::from(ip.header_len());
    let total_len = usize::from(ip.total_len()).min(bytes.len());
    let Some(payload) = bytes.get(header_len..total_len) else {
        return Classified::Other;
    };
    match ip.next_header() {
        IpProtocol::Udp => {
            let Ok(udp) = UdpPacket::new_checked(payload) else {
                return Classified::Other;
            };
            let length = usize::from(udp.len()).min(payload.len());
            let Some(data) = payload.get(8..length) else {
                return Classified::Other;
            };
            Classified::Udp(DeviceDatagram {
                src_mac,
                src: (src, udp.src_port()),
                dst: (dst, udp.dst_port()),
                payload: data,
            })
        }
        IpProtocol::Tcp => {
            let Ok(tcp) = TcpPacket::new_checked(payload) else {
                return Classified::Other;
            };
            if tcp.syn() && !tcp.ack() && !tcp.rst() {
                Classified::Syn(SynKey {
                    src: (src, tcp.src_port()),
                    dst: (dst, tcp.dst_port()),
                })
            } else {
                Classified::Other
            }
        }
        _ => Classified::Other,
    }
}

/// A UDP datagram to the device, as one Ethernet frame; `None` if the payload does not fit.
pub fn udp_frame(
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    payload_len: usize,
    emit_payload: impl FnOnce(&mut [u8]),
) -> Option<Frame> {
    let total = UDP_OVERHEAD + payload_len;
    let mut frame = Frame::new();
    frame.resize(total, 0).ok()?;
    let checksums = ChecksumCapabilities::default();
    let mut ethernet = EthernetFrame::new_unchecked(&mut frame[..]);
    EthernetRepr {
        src_addr: src_mac,
        dst_addr: dst_mac,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut ethernet);
    let mut ip = Ipv4Packet::new_unchecked(ethernet.payload_mut());
    Ipv4Repr {
        src_addr: src.0,
        dst_addr: dst.0,
        next_header: IpProtocol::Udp,
        payload_len: 8 + payload_len,
        hop_limit: 64,
    }
    .emit(&mut ip, &checksums);
    let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
    UdpRepr {
        src_port: src.1,
        dst_port: dst.1,
    }
    .emit(
        &mut udp,
        &IpAddress::Ipv4(src.0),
        &IpAddress::Ipv4(dst.0),
        payload_len,
        emit_payload,
        &checksums,
    );
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
    const B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

    #[test]
    fn a_built_datagram_classifies_back_to_itself() {
        let src = (Ipv4Addr::new(10, 0, 2, 2), 53);
        let dst = (Ipv4Addr::new(10, 0, 2, 15), 4000);
        let frame = udp_frame(A, B, src, dst, 5, |out| out.copy_from_slice(b"hello")).unwrap();
        let Classified::Udp(datagram) = classify(&frame) else {
            panic!("not classified as UDP");
        };
        assert_eq!(datagram.src_mac, A);
        assert_eq!((datagram.src, datagram.dst), (src, dst));
        assert_eq!(datagram.payload, b"hello");
        // The checksums are valid.
        let ethernet = EthernetFrame::new_checked(&frame[..]).unwrap();
        let ip = Ipv4Packet::new_checked(ethernet.payload()).unwrap();
        assert!(ip.verify_checksum());
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert!(udp.verify_checksum(&IpAddress::Ipv4(src.0), &IpAddress::Ipv4(dst.0)));
    }

    #[test]
    fn an_oversized_datagram_is_refused_not_truncated() {
        let src = (Ipv4Addr::new(10, 0, 2, 2), 1);
        assert!(udp_frame(A, B, src, src, 1500, |_| ()).is_none());
        assert!(udp_frame(A, B, src, src, 1500 - 28, |_| ()).is_some());
    }

    #[test]
    fn garbage_and_truncated_frames_are_other_never_a_panic() {
        assert_eq!(classify(&[]), Classified::Other);
        assert_eq!(classify(&[0xff; 13]), Classified::Other);
        let frame = udp_frame(
            A,
            B,
            (Ipv4Addr::new(1, 2, 3, 4), 1),
            (Ipv4Addr::new(5, 6, 7, 8), 2),
            100,
            |out| out.fill(7),
        )
        .unwrap();
        for length in 0..frame.len() {
            let _ = classify(&frame[..length]);
        }
        // A header length field pointing past the packet.
        let mut bad = frame.clone();
        bad[14] = 0x4f;
        let _ = classify(&bad);
    }
}
