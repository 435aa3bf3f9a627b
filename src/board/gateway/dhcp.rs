//! The gateway's DHCP server: one client, one address ([`super::DEVICE_ADDRESS`]), the same
//! network as slirp's.

use std::net::Ipv4Addr;

use heapless::Vec as BoundedVec;
use smoltcp::wire::{DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress};

use super::{DEVICE_ADDRESS, DNS_ADDRESS, GATEWAY_ADDRESS, NETMASK};
use crate::link::Frame;

/// Lease handed out, in seconds (a day; the device renews at half of it).
pub const LEASE_SECONDS: u32 = 24 * 60 * 60;

/// The answer to a client's DHCP message: an offer to a discover, an ack (or a nak for
/// another address) to a request; `None` for what a server does not answer.
pub fn answer<'a>(request: &DhcpRepr<'_>) -> Option<DhcpRepr<'a>> {
    let message_type = match request.message_type {
        DhcpMessageType::Discover => DhcpMessageType::Offer,
        DhcpMessageType::Request => {
            // A request names its address (selecting, init-reboot) or carries it as ciaddr
            // (renewing). Another server's offer being taken: not ours to answer.
            if request
                .server_identifier
                .is_some_and(|server| server != GATEWAY_ADDRESS)
            {
                return None;
            }
            let wanted = request.requested_ip.unwrap_or(request.client_ip);
            if wanted == DEVICE_ADDRESS {
                DhcpMessageType::Ack
            } else {
                DhcpMessageType::Nak
            }
        }
        _ => return None,
    };
    let granted = message_type != DhcpMessageType::Nak;
    let mut dns_servers = BoundedVec::new();
    if granted {
        dns_servers.push(DNS_ADDRESS).ok()?;
    }
    Some(DhcpRepr {
        message_type,
        transaction_id: request.transaction_id,
        secs: 0,
        client_hardware_address: request.client_hardware_address,
        client_ip: Ipv4Addr::UNSPECIFIED,
        your_ip: if granted {
            DEVICE_ADDRESS
        } else {
            Ipv4Addr::UNSPECIFIED
        },
        server_ip: GATEWAY_ADDRESS,
        router: granted.then_some(GATEWAY_ADDRESS),
        subnet_mask: granted.then_some(NETMASK),
        relay_agent_ip: Ipv4Addr::UNSPECIFIED,
        broadcast: true,
        requested_ip: None,
        client_identifier: None,
        server_identifier: Some(GATEWAY_ADDRESS),
        parameter_request_list: None,
        dns_servers: granted.then_some(dns_servers),
        max_size: None,
        lease_duration: granted.then_some(LEASE_SECONDS),
        renew_duration: granted.then_some(LEASE_SECONDS / 2),
        rebind_duration: granted.then_some(LEASE_SECONDS / 8 * 7),
        additional_options: &[],
    })
}

/// Answers one DHCP datagram from the device with one broadcast frame, if it wants an answer.
/// Malformed messages are ignored.
pub fn answer_frame(gateway_mac: EthernetAddress, payload: &[u8]) -> Option<Frame> {
    let packet = DhcpPacket::new_checked(payload).ok()?;
    let request = DhcpRepr::parse(&packet).ok()?;
    let reply = answer(&request)?;
    let length = reply.buffer_len();
    let mut emitted = false;
    let frame = super::wire::udp_frame(
        gateway_mac,
        EthernetAddress::BROADCAST,
        (GATEWAY_ADDRESS, smoltcp::wire::DHCP_SERVER_PORT),
        (Ipv4Addr::BROADCAST, smoltcp::wire::DHCP_CLIENT_PORT),
        length,
        |out| {
            emitted = reply.emit(&mut DhcpPacket::new_unchecked(out)).is_ok();
        },
    )?;
    emitted.then_some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::gateway::wire::{Classified, classify};

    const CLIENT: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
    const GATEWAY: EthernetAddress = EthernetAddress([0x52, 0x55, 10, 0, 2, 2]);

    fn request(message_type: DhcpMessageType, requested: Option<Ipv4Addr>) -> std::vec::Vec<u8> {
        let repr = DhcpRepr {
            message_type,
            transaction_id: 0x1234_5678,
            secs: 0,
            client_hardware_address: CLIENT,
            client_ip: Ipv4Addr::UNSPECIFIED,
            your_ip: Ipv4Addr::UNSPECIFIED,
            server_ip: Ipv4Addr::UNSPECIFIED,
            router: None,
            subnet_mask: None,
            relay_agent_ip: Ipv4Addr::UNSPECIFIED,
            broadcast: false,
            requested_ip: requested,
            client_identifier: Some(CLIENT),
            server_identifier: requested.map(|_| GATEWAY_ADDRESS),
            parameter_request_list: Some(&[1, 3, 6]),
            dns_servers: None,
            max_size: Some(1500),
            lease_duration: None,
            renew_duration: None,
            rebind_duration: None,
            additional_options: &[],
        };
        let mut bytes = std::vec![0u8; repr.buffer_len()];
        repr.emit(&mut DhcpPacket::new_unchecked(&mut bytes[..]))
            .unwrap();
        bytes
    }

    fn reply_of(frame: &Frame) -> (DhcpMessageType, Ipv4Addr, Option<Ipv4Addr>, usize) {
        let Classified::Udp(datagram) = classify(frame) else {
            panic!("not UDP")
        };
        assert_eq!(datagram.src, (GATEWAY_ADDRESS, 67));
        assert_eq!(datagram.dst, (Ipv4Addr::BROADCAST, 68));
        let packet = DhcpPacket::new_checked(datagram.payload).unwrap();
        let repr = DhcpRepr::parse(&packet).unwrap();
        assert_eq!(repr.transaction_id, 0x1234_5678);
        assert_eq!(repr.client_hardware_address, CLIENT);
        let dns = repr.dns_servers.map(|servers| servers.len()).unwrap_or(0);
        (repr.message_type, repr.your_ip, repr.router, dns)
    }

    #[test]
    fn discover_gets_an_offer_of_the_slirp_address() {
        let frame = answer_frame(GATEWAY, &request(DhcpMessageType::Discover, None)).unwrap();
        assert_eq!(
            reply_of(&frame),
            (
                DhcpMessageType::Offer,
                DEVICE_ADDRESS,
                Some(GATEWAY_ADDRESS),
                1
            )
        );
    }

    #[test]
    fn request_for_the_offered_address_is_acked_and_another_is_nakked() {
        let ack = answer_frame(
            GATEWAY,
            &request(DhcpMessageType::Request, Some(DEVICE_ADDRESS)),
        )
        .unwrap();
        assert_eq!(reply_of(&ack).0, DhcpMessageType::Ack);
        let nak = answer_frame(
            GATEWAY,
            &request(DhcpMessageType::Request, Some(Ipv4Addr::new(10, 0, 2, 77))),
        )
        .unwrap();
        assert_eq!(
            reply_of(&nak),
            (DhcpMessageType::Nak, Ipv4Addr::UNSPECIFIED, None, 0)
        );
    }

    #[test]
    fn releases_and_garbage_get_no_answer() {
        assert!(answer_frame(GATEWAY, &request(DhcpMessageType::Release, None)).is_none());
        assert!(answer_frame(GATEWAY, &[]).is_none());
        assert!(answer_frame(GATEWAY, &[0xff; 300]).is_none());
        let mut cut = request(DhcpMessageType::Discover, None);
        cut.truncate(cut.len() - 10);
        let _ = answer_frame(GATEWAY, &cut);
    }
}
