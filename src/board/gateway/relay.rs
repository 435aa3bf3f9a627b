//! The gateway's UDP relay: a datagram from the device to an address outside the virtual
//! network (or to [`super::GATEWAY_ADDRESS`], meaning the host's loopback) leaves from a host
//! UDP socket, and what comes back to that socket goes to the device, as from the address it
//! sent to. One host socket per (device port, destination), at most [`MAX_FLOWS`], each
//! forgotten after [`IDLE_TIMEOUT`] without traffic.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};
use std::vec;
use std::vec::Vec;

use smoltcp::wire::EthernetAddress;

use super::wire::DeviceDatagram;
use super::{Doorbell, HostEvent, host_thread};

/// Flows at once; a new one replaces the one idle longest.
pub const MAX_FLOWS: usize = 16;
/// A flow without traffic for this long is forgotten.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a flow's reader looks whether its flow was forgotten.
const READER_TICK: Duration = Duration::from_millis(500);

/// A datagram for the device, from a host socket of the relay.
#[derive(Debug)]
pub struct Reply {
    /// The device's MAC address.
    pub device_mac: EthernetAddress,
    /// The device's address and port.
    pub device: (Ipv4Addr, u16),
    /// The address the device sent to, which the reply comes from.
    pub facing: (Ipv4Addr, u16),
    /// The payload.
    pub payload: Vec<u8>,
}

struct Flow {
    device: (Ipv4Addr, u16),
    facing: (Ipv4Addr, u16),
    socket: UdpSocket,
    alive: Arc<AtomicBool>,
    last_used: Instant,
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::SeqCst);
    }
}

/// The relay's flows.
pub struct Relay {
    flows: Vec<Flow>,
    events: SyncSender<HostEvent>,
    doorbell: Arc<Doorbell>,
}

impl Relay {
    /// A relay whose readers report on `events` and ring `doorbell`.
    pub fn new(events: SyncSender<HostEvent>, doorbell: Arc<Doorbell>) -> Relay {
        Relay {
            flows: Vec::new(),
            events,
            doorbell,
        }
    }

    /// Sends the device's datagram to `target` on the host. Failures drop it, as a network
    /// would.
    pub fn send(&mut self, datagram: &DeviceDatagram<'_>, target: SocketAddr) {
        let now = Instant::now();
        self.flows
            .retain(|flow| now.duration_since(flow.last_used) < IDLE_TIMEOUT);
        let known = self
            .flows
            .iter()
            .position(|flow| flow.device == datagram.src && flow.facing == datagram.dst);
        let index = match known {
            Some(index) => index,
            None => match self.open(datagram, target) {
                Some(index) => index,
                None => return,
            },
        };
        let flow = &mut self.flows[index];
        flow.last_used = now;
        if let Err(error) = flow.socket.send(datagram.payload) {
            log::debug!("gateway: UDP to {target} failed: {error}");
        }
    }

    fn open(&mut self, datagram: &DeviceDatagram<'_>, target: SocketAddr) -> Option<usize> {
        if self.flows.len() >= MAX_FLOWS {
            let oldest = (0..self.flows.len()).min_by_key(|&index| self.flows[index].last_used)?;
            self.flows.swap_remove(oldest);
        }
        let local: SocketAddr = if target.ip().is_loopback() {
            (Ipv4Addr::LOCALHOST, 0).into()
        } else {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).ok()?;
        socket.connect(target).ok()?;
        let reader = socket.try_clone().ok()?;
        reader.set_read_timeout(Some(READER_TICK)).ok()?;
        let alive = Arc::new(AtomicBool::new(true));
        let (events, doorbell, reader_alive) =
            (self.events.clone(), self.doorbell.clone(), alive.clone());
        let (device_mac, device, facing) = (datagram.src_mac, datagram.src, datagram.dst);
        host_thread::spawn("gateway-udp", move || {
            let mut buffer = vec![0u8; 1472];
            while reader_alive.load(Ordering::SeqCst) {
                let Ok(count) = reader.recv(&mut buffer) else {
                    continue; // the read timeout (or an ICMP error): look again
                };
                let reply = Reply {
                    device_mac,
                    device,
                    facing,
                    payload: buffer[..count].to_vec(),
                };
                if events.send(HostEvent::UdpReply(reply)).is_err() {
                    return;
                }
                doorbell.ring();
            }
        })
        .ok()?;
        self.flows.push(Flow {
            device,
            facing,
            socket,
            alive,
            last_used: Instant::now(),
        });
        Some(self.flows.len() - 1)
    }
}
