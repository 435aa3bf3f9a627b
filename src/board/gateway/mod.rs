//! The gateway card: user-mode networking in pure Rust, for both simulators.
//!
//! The device's frames go to a second smoltcp interface, the *gateway*, which plays the part
//! libslirp plays on the POSIX simulator ([`crate::board::posix::slirp`]) on the same virtual
//! network, so that the device cannot tell the two apart:
//!
//! | address | what answers there |
//! |---|---|
//! | [`GATEWAY_ADDRESS`] `10.0.2.2` | the gateway; TCP and UDP to it reach the host's `127.0.0.1` |
//! | [`DNS_ADDRESS`] `10.0.2.3` | a DNS forwarder to the host's resolver ([`dns`]) |
//! | [`DEVICE_ADDRESS`] `10.0.2.15` | what the DHCP server ([`dhcp`]) hands out |
//! | anything outside `10.0.2.0/24` | reached through host sockets: TCP ([`tcp`]) and UDP ([`relay`]) |
//!
//! ARP is answered for the gateway and the DNS forwarder only, so the device's traffic for
//! any other address on the virtual network goes unanswered, as on slirp.
//!
//! # Threads
//!
//! The gateway runs on host threads that never call the kernel
//! (`board::posix::host_thread`, `board::windows::host_thread`): its own thread owns the
//! interface and every socket; each TCP connection adds a reader and a writer thread, each UDP
//! flow a reader, each DNS query a resolver. They talk over bounded channels and wake the
//! gateway thread with its [`Doorbell`]. Frames cross to the device through the same
//! lock-free rings as slirp's ([`RingCard`]); the gateway raises the card's interrupt line
//! ([`InterruptRaiser`]) when it queued frames for the device, or made room in the device's
//! transmit ring after the device found it full.
//!
//! The device's side of the card ([`RingCard`]) rings the doorbell when it queued frames; it
//! does so with the scheduler suspended, so a task is never switched out while it holds the
//! doorbell's host lock.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

pub mod dhcp;
pub mod dns;
pub mod relay;
pub mod tcp;
pub mod wire;

#[cfg(board = "posix")]
pub(crate) use super::posix::host_thread;
#[cfg(board = "windows")]
pub(crate) use super::windows::host_thread;

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use heapless::spsc::{Consumer, Producer, Queue};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Cidr};

use crate::link::ring::{CardControl, RING_FRAMES, RingCard, RingStats};
use crate::link::{Frame, MAX_FRAME};
use crate::rtos::critical::SchedulerSuspended;
use crate::rtos::interrupt::{InterruptRaiser, InvalidLine};
use wire::{Classified, DeviceDatagram, SynKey};

/// The gateway, which is also the host: `10.0.2.2:P` reaches `127.0.0.1:P`.
pub const GATEWAY_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The DNS forwarder.
pub const DNS_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
/// The address the DHCP server hands out.
pub const DEVICE_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The virtual network and its prefix length.
pub const NETWORK: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 0, 2, 0), 24);
/// The virtual network's mask.
pub const NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);
/// The gateway's MAC address (slirp's).
pub const GATEWAY_MAC: EthernetAddress = EthernetAddress([0x52, 0x55, 10, 0, 2, 2]);
/// DNS queries resolved at once; more are answered `SERVFAIL`.
pub const MAX_DNS_IN_FLIGHT: usize = 8;
/// Frames waiting for the gateway's interface at most (more are dropped, as by a card).
const INBOUND_FRAMES: usize = 2 * RING_FRAMES;
/// Host events waiting for the gateway thread at most (their senders wait beyond).
const EVENT_QUEUE: usize = 64;
/// Longest sleep of the gateway thread when nothing is due.
const MAX_SLEEP: Duration = Duration::from_millis(200);

/// Why the card could not start.
#[derive(Debug)]
pub enum StartError {
    /// A gateway card already runs in this process (its rings are static, like a card's).
    AlreadyStarted,
    /// The interrupt line does not exist.
    InterruptLine(InvalidLine),
    /// The host would not start the gateway's thread.
    Thread(std::io::Error),
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::AlreadyStarted => f.write_str("the gateway card is already running"),
            StartError::InterruptLine(error) => write!(f, "gateway card: {error}"),
            StartError::Thread(error) => {
                write!(f, "gateway card: cannot start its host thread: {error}")
            }
        }
    }
}

impl core::error::Error for StartError {}

/// A wake-up for the gateway thread: rung by anything that gave it work, from any thread.
/// Rings are not counted; one wait ends for all rings since the last one.
#[derive(Debug, Default)]
pub struct Doorbell {
    rung: Mutex<bool>,
    wake: Condvar,
}

impl Doorbell {
    /// Rings. From a task, the scheduler must be suspended around the call (the lock is a host
    /// lock): [`CardControl::frames_queued`] of the card does that.
    pub fn ring(&self) {
        let mut rung = self
            .rung
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *rung = true;
        self.wake.notify_one();
    }

    /// Waits until rung or `timeout` passed; clears the ring.
    pub fn wait(&self, timeout: Duration) {
        let rung = self
            .rung
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (mut rung, _) = self
            .wake
            .wait_timeout_while(rung, timeout, |rung| !*rung)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *rung = false;
    }
}

/// What host threads report to the gateway thread.
#[derive(Debug)]
pub enum HostEvent {
    /// The host accepted a device connection.
    Connected(SynKey, tcp::HostLink),
    /// The host refused one, or could not be reached.
    Refused(SynKey),
    /// A DNS answer for the device.
    DnsAnswer {
        /// The device's MAC address.
        device_mac: EthernetAddress,
        /// The device's address and port.
        device: (Ipv4Addr, u16),
        /// The answer.
        payload: Vec<u8>,
    },
    /// A UDP datagram for the device.
    UdpReply(relay::Reply),
}

/// Where the gateway puts frames for the device.
pub trait Outbox: Send {
    /// Whether a frame fits now.
    fn has_room(&self) -> bool;
    /// Queues a frame; `false` (frame dropped) if it did not fit.
    fn push(&mut self, frame: Frame) -> bool;
}

/// The gateway: its smoltcp interface and everything behind it, driven by one thread.
pub struct Gateway {
    iface: Interface,
    sockets: SocketSet<'static>,
    device: GatewayDevice,
    proxy: tcp::Proxy,
    relay: relay::Relay,
    events: Receiver<HostEvent>,
    events_tx: SyncSender<HostEvent>,
    doorbell: Arc<Doorbell>,
    dns_in_flight: Arc<AtomicUsize>,
    clock: std::time::Instant,
}

impl Gateway {
    /// A gateway that sends the device's frames to `outbox`, woken through `doorbell`.
    pub fn new(outbox: Box<dyn Outbox>, doorbell: Arc<Doorbell>) -> Gateway {
        let mut device = GatewayDevice {
            inbound: VecDeque::with_capacity(INBOUND_FRAMES),
            outbox,
        };
        let mut config = Config::new(HardwareAddress::Ethernet(GATEWAY_MAC));
        let mut seed = [0u8; 8];
        if crate::board::fill_entropy(&mut seed).is_err() {
            seed = (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64)
                .to_le_bytes();
        }
        config.random_seed = u64::from_le_bytes(seed);
        let clock = std::time::Instant::now();
        let mut iface = Interface::new(config, &mut device, now(clock));
        iface.update_ip_addrs(|addresses| {
            for address in [GATEWAY_ADDRESS, DNS_ADDRESS] {
                let _ = addresses.push(IpCidr::Ipv4(Ipv4Cidr::new(address, NETWORK.1)));
            }
        });
        // Every destination the device dials is terminated here (see `tcp`).
        iface.set_any_ip(true);
        let (events_tx, events) = sync_channel(EVENT_QUEUE);
        Gateway {
            iface,
            sockets: SocketSet::new(Vec::with_capacity(tcp::MAX_CONNECTIONS)),
            device,
            proxy: tcp::Proxy::new(events_tx.clone(), doorbell.clone()),
            relay: relay::Relay::new(events_tx.clone(), doorbell.clone()),
            events,
            events_tx,
            doorbell,
            dns_in_flight: Arc::new(AtomicUsize::new(0)),
            clock,
        }
    }

    /// TCP connections the gateway tracks.
    pub fn connections(&self) -> usize {
        self.proxy.len()
    }

    /// Takes one frame from the device.
    pub fn from_device(&mut self, frame: &[u8]) {
        match wire::classify(frame) {
            Classified::ArpRequest { target } => {
                if target == GATEWAY_ADDRESS || target == DNS_ADDRESS {
                    self.device.take(frame);
                }
            }
            Classified::Udp(datagram) => self.device_udp(&datagram),
            Classified::Syn(key) => match self.proxy.on_syn(key, host_target(key.dst), frame) {
                tcp::SynAction::Held => {}
                // A reset comes back from the interface when no socket listens.
                tcp::SynAction::PassOn | tcp::SynAction::Refuse => self.device.take(frame),
            },
            Classified::Other => self.device.take(frame),
        }
    }

    fn device_udp(&mut self, datagram: &DeviceDatagram<'_>) {
        if datagram.dst.1 == smoltcp::wire::DHCP_SERVER_PORT {
            if let Some(reply) = dhcp::answer_frame(GATEWAY_MAC, datagram.payload) {
                self.device.outbox.push(reply);
            }
            return;
        }
        if datagram.dst == (DNS_ADDRESS, 53) {
            self.dns_query(datagram);
            return;
        }
        if let Some(target) = host_target(datagram.dst) {
            self.relay.send(datagram, target);
        }
    }

    fn dns_query(&mut self, datagram: &DeviceDatagram<'_>) {
        let (device_mac, device) = (datagram.src_mac, datagram.src);
        let query = match dns::parse(datagram.payload) {
            Ok(query) => query,
            Err(dns::ParseError::Refused(answer)) => {
                self.send_dns_answer(device_mac, device, &answer);
                return;
            }
            Err(dns::ParseError::NoHeader) => return,
        };
        if query.qtype != dns::TYPE_A {
            let answer = dns::answer(&query, dns::Rcode::NoError, None);
            self.send_dns_answer(device_mac, device, &answer);
            return;
        }
        if self.dns_in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_DNS_IN_FLIGHT {
            self.dns_in_flight.fetch_sub(1, Ordering::SeqCst);
            let answer = dns::answer(&query, dns::Rcode::ServerFailure, None);
            self.send_dns_answer(device_mac, device, &answer);
            return;
        }
        let (events, doorbell, in_flight) = (
            self.events_tx.clone(),
            self.doorbell.clone(),
            self.dns_in_flight.clone(),
        );
        let spawned = host_thread::spawn("gateway-dns", move || {
            let payload = dns::answer_resolved(&query, dns::resolve_on_host(&query.name));
            in_flight.fetch_sub(1, Ordering::SeqCst);
            let _ = events.send(HostEvent::DnsAnswer {
                device_mac,
                device,
                payload,
            });
            doorbell.ring();
        });
        if spawned.is_err() {
            self.dns_in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn send_dns_answer(&mut self, mac: EthernetAddress, device: (Ipv4Addr, u16), answer: &[u8]) {
        self.send_udp((DNS_ADDRESS, 53), mac, device, answer);
    }

    fn send_udp(
        &mut self,
        from: (Ipv4Addr, u16),
        mac: EthernetAddress,
        to: (Ipv4Addr, u16),
        payload: &[u8],
    ) {
        let frame = wire::udp_frame(GATEWAY_MAC, mac, from, to, payload.len(), |out| {
            out.copy_from_slice(payload);
        });
        if let Some(frame) = frame {
            self.device.outbox.push(frame);
        }
    }

    /// Does all the work that is ready: host events, data both ways, the interface. Returns
    /// how long the gateway may sleep before it is due again.
    pub fn step(&mut self) -> Duration {
        while let Ok(event) = self.events.try_recv() {
            self.on_host_event(event);
        }
        // Data in, interface out, until nothing moves (bounded, to answer the device's new
        // frames and the host events in between).
        for _ in 0..16 {
            let moved = self.proxy.pump(&mut self.sockets);
            let polled = self.poll();
            if !moved && !polled {
                break;
            }
        }
        self.proxy.sweep(&mut self.sockets);
        let now = now(self.clock);
        let due = self
            .iface
            .poll_delay(now, &self.sockets)
            .map_or(MAX_SLEEP, |delay| {
                Duration::from_micros(delay.total_micros())
            });
        if self.device.outbox.has_room() {
            due.min(MAX_SLEEP)
        } else {
            // The device's ring is full: look again soon (it does not ring when it drains).
            due.min(Duration::from_millis(1))
        }
    }

    fn poll(&mut self) -> bool {
        let result = self
            .iface
            .poll(now(self.clock), &mut self.device, &mut self.sockets);
        result == smoltcp::iface::PollResult::SocketStateChanged
    }

    fn on_host_event(&mut self, event: HostEvent) {
        match event {
            HostEvent::Connected(key, link) => {
                if let Some(syn) = self.proxy.on_connected(key, link, &mut self.sockets) {
                    self.device.take(&syn);
                    self.poll();
                    self.proxy.drop_unanswered(key, &mut self.sockets);
                }
            }
            HostEvent::Refused(key) => {
                if let Some(syn) = self.proxy.on_refused(key) {
                    // No socket listens: the interface answers with a reset.
                    self.device.take(&syn);
                    self.poll();
                }
            }
            HostEvent::DnsAnswer {
                device_mac,
                device,
                payload,
            } => self.send_dns_answer(device_mac, device, &payload),
            HostEvent::UdpReply(reply) => {
                self.send_udp(reply.facing, reply.device_mac, reply.device, &reply.payload);
            }
        }
    }
}

/// Where a destination on the virtual network leads on the host: the gateway is the host's
/// loopback, other addresses on the virtual network lead nowhere (the DNS forwarder takes no
/// TCP), and the rest of the world is itself.
pub fn host_target(destination: (Ipv4Addr, u16)) -> Option<SocketAddr> {
    let (address, port) = destination;
    let on_network = u32::from(address) & u32::from(NETMASK) == u32::from(NETWORK.0);
    let target = if address == GATEWAY_ADDRESS {
        Ipv4Addr::LOCALHOST
    } else if on_network
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_unspecified()
        || address.is_loopback()
    {
        return None;
    } else {
        address
    };
    Some(SocketAddr::V4(SocketAddrV4::new(target, port)))
}

fn now(clock: std::time::Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(i64::try_from(clock.elapsed().as_micros()).unwrap_or(0))
}

/// The gateway's interface as smoltcp sees it: frames from the device, already sorted by
/// [`Gateway::from_device`], and the outbox to the device.
struct GatewayDevice {
    inbound: VecDeque<Frame>,
    outbox: Box<dyn Outbox>,
}

impl GatewayDevice {
    fn take(&mut self, frame: &[u8]) {
        if self.inbound.len() < INBOUND_FRAMES
            && let Ok(frame) = Frame::from_slice(frame)
        {
            self.inbound.push_back(frame);
        }
    }
}

impl Device for GatewayDevice {
    type RxToken<'a> = Inbound;
    type TxToken<'a> = Outbound<'a>;

    fn receive(&mut self, _timestamp: smoltcp::time::Instant) -> Option<(Inbound, Outbound<'_>)> {
        let frame = self.inbound.pop_front()?;
        Some((
            Inbound(frame),
            Outbound {
                outbox: &mut self.outbox,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: smoltcp::time::Instant) -> Option<Outbound<'_>> {
        self.outbox.has_room().then_some(Outbound {
            outbox: &mut self.outbox,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = MAX_FRAME;
        capabilities
    }
}

struct Inbound(Frame);

impl phy::RxToken for Inbound {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0)
    }
}

struct Outbound<'a> {
    outbox: &'a mut Box<dyn Outbox>,
}

impl phy::TxToken for Outbound<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut frame = Frame::new();
        if frame.resize(len, 0).is_err() {
            let mut scratch = vec![0u8; len];
            return f(&mut scratch);
        }
        let result = f(&mut frame);
        // A reply to a received frame may find the ring full: it is dropped, as on a wire.
        let _ = self.outbox.push(frame);
        result
    }
}

static STARTED: AtomicBool = AtomicBool::new(false);
static TX_BLOCKED: AtomicBool = AtomicBool::new(false);
static STATS: RingStats = RingStats::new();

/// The device's receive ring, as the gateway fills it.
struct RingOutbox {
    ring: Producer<'static, Frame>,
    delivered: Arc<AtomicBool>,
}

impl Outbox for RingOutbox {
    fn has_room(&self) -> bool {
        self.ring.ready()
    }

    fn push(&mut self, frame: Frame) -> bool {
        if self.ring.enqueue(frame).is_ok() {
            STATS.rx_frames.fetch_add(1, Ordering::Relaxed);
            self.delivered.store(true, Ordering::SeqCst);
            true
        } else {
            STATS.rx_dropped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// The device's side of the card, as the ring card reaches it.
struct GatewayControl {
    doorbell: Arc<Doorbell>,
}

impl CardControl for GatewayControl {
    fn frames_queued(&self) {
        // The doorbell's lock is a host lock: no task may be switched out holding it.
        let _suspended = crate::board::hosted::in_task().then(SchedulerSuspended::enter);
        self.doorbell.ring();
    }
}

/// Starts the gateway card and returns the device's end of it. The gateway raises
/// `interrupt_line` when it queued frames for the device; the network stack attaches that
/// line to its IP task. One card per process; call it from `main` before the scheduler
/// starts, or from a host thread.
pub fn start(interrupt_line: u8) -> Result<RingCard, StartError> {
    let raiser = InterruptRaiser::new(interrupt_line).map_err(StartError::InterruptLine)?;
    if STARTED.swap(true, Ordering::SeqCst) {
        return Err(StartError::AlreadyStarted);
    }
    // The rings live for the rest of the process, as a card's would; one card per process
    // (`STARTED`), so this is the only leak.
    let to_device = Box::leak(Box::new(Queue::<Frame, { RING_FRAMES + 1 }>::new())).split();
    let from_device = Box::leak(Box::new(Queue::<Frame, { RING_FRAMES + 1 }>::new())).split();
    let (to_device_producer, to_device_consumer) = to_device;
    let (from_device_producer, from_device_consumer) = from_device;
    let doorbell = Arc::new(Doorbell::default());
    let delivered = Arc::new(AtomicBool::new(false));
    let outbox = RingOutbox {
        ring: to_device_producer,
        delivered: delivered.clone(),
    };
    let thread_bell = doorbell.clone();
    host_thread::spawn("gateway", move || {
        run(
            Gateway::new(Box::new(outbox), thread_bell.clone()),
            from_device_consumer,
            &thread_bell,
            &delivered,
            raiser,
        );
    })
    .map_err(StartError::Thread)?;
    Ok(RingCard::new(
        to_device_consumer,
        from_device_producer,
        Box::new(GatewayControl { doorbell }),
        &TX_BLOCKED,
        &STATS,
        interrupt_line,
    ))
}

/// The gateway thread's loop.
fn run(
    mut gateway: Gateway,
    mut from_device: Consumer<'static, Frame>,
    doorbell: &Doorbell,
    delivered: &AtomicBool,
    raiser: InterruptRaiser,
) {
    loop {
        let mut took = false;
        while let Some(frame) = from_device.dequeue() {
            gateway.from_device(&frame);
            took = true;
        }
        // The device may be waiting for room in its transmit ring.
        if took && TX_BLOCKED.swap(false, Ordering::SeqCst) {
            raiser.raise();
        }
        let sleep = gateway.step();
        if delivered.swap(false, Ordering::SeqCst) {
            raiser.raise();
        }
        if from_device.ready() {
            continue;
        }
        doorbell.wait(sleep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress,
        IpProtocol, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    };
    use std::sync::Mutex as HostMutex;
    use std::time::Instant;

    const DEVICE_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0x15]);

    /// An outbox the test reads.
    struct Collected(Arc<HostMutex<VecDeque<Frame>>>);

    impl Outbox for Collected {
        fn has_room(&self) -> bool {
            true
        }
        fn push(&mut self, frame: Frame) -> bool {
            self.0.lock().unwrap().push_back(frame);
            true
        }
    }

    fn gateway() -> (Gateway, Arc<HostMutex<VecDeque<Frame>>>) {
        let frames = Arc::new(HostMutex::new(VecDeque::new()));
        let gateway = Gateway::new(
            Box::new(Collected(frames.clone())),
            Arc::new(Doorbell::default()),
        );
        (gateway, frames)
    }

    /// A gateway that knows the device's MAC address (from the device's own ARP request).
    fn introduced_gateway() -> (Gateway, Arc<HostMutex<VecDeque<Frame>>>) {
        let (mut gateway, frames) = gateway();
        gateway.from_device(&arp_request(GATEWAY_ADDRESS));
        gateway.step();
        frames.lock().unwrap().clear();
        (gateway, frames)
    }

    fn arp_request(target: Ipv4Addr) -> Vec<u8> {
        let repr = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: DEVICE_MAC,
            source_protocol_addr: DEVICE_ADDRESS,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: target,
        };
        let mut bytes = vec![0u8; 14 + repr.buffer_len()];
        let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
        EthernetRepr {
            src_addr: DEVICE_MAC,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        }
        .emit(&mut frame);
        repr.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        bytes
    }

    fn syn(dst: (Ipv4Addr, u16)) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: 40000,
            dst_port: dst.1,
            control: TcpControl::Syn,
            seq_number: TcpSeqNumber(1000),
            ack_number: None,
            window_len: 8192,
            window_scale: None,
            max_seg_size: Some(1460),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        let ip = Ipv4Repr {
            src_addr: DEVICE_ADDRESS,
            dst_addr: dst.0,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut bytes = vec![0u8; 14 + 20 + tcp.buffer_len()];
        let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
        EthernetRepr {
            src_addr: DEVICE_MAC,
            dst_addr: GATEWAY_MAC,
            ethertype: EthernetProtocol::Ipv4,
        }
        .emit(&mut frame);
        let checksums = ChecksumCapabilities::default();
        let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut packet, &checksums);
        tcp.emit(
            &mut TcpPacket::new_unchecked(packet.payload_mut()),
            &IpAddress::Ipv4(DEVICE_ADDRESS),
            &IpAddress::Ipv4(dst.0),
            &checksums,
        );
        bytes
    }

    /// The flags of the first TCP segment for the device, waiting up to 5 s for the host.
    fn tcp_reply(gateway: &mut Gateway, frames: &HostMutex<VecDeque<Frame>>) -> (bool, bool) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            gateway.step();
            while let Some(frame) = frames.lock().unwrap().pop_front() {
                let ethernet = EthernetFrame::new_checked(&frame[..]).unwrap();
                if ethernet.ethertype() != EthernetProtocol::Ipv4 {
                    continue; // the gateway asking the device's MAC address
                }
                let ip = Ipv4Packet::new_checked(ethernet.payload()).unwrap();
                let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
                return (tcp.syn() && tcp.ack(), tcp.rst());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::panic!("no TCP answer within 5 s");
    }

    #[test]
    fn arp_is_answered_for_the_gateway_and_the_dns_forwarder_only() {
        let (mut gateway, frames) = gateway();
        for (target, answered) in [
            (GATEWAY_ADDRESS, true),
            (DNS_ADDRESS, true),
            (Ipv4Addr::new(10, 0, 2, 99), false),
        ] {
            gateway.from_device(&arp_request(target));
            gateway.step();
            let reply = frames.lock().unwrap().pop_front();
            assert_eq!(reply.is_some(), answered, "ARP for {target}");
            if let Some(reply) = reply {
                let ethernet = EthernetFrame::new_checked(&reply[..]).unwrap();
                let arp = ArpRepr::parse(&ArpPacket::new_checked(ethernet.payload()).unwrap());
                assert!(matches!(
                    arp,
                    Ok(ArpRepr::EthernetIpv4 {
                        operation: ArpOperation::Reply,
                        source_protocol_addr,
                        ..
                    }) if source_protocol_addr == target
                ));
            }
        }
    }

    #[test]
    fn a_syn_is_answered_once_the_host_accepts_and_reset_when_it_refuses() {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let open = listener.local_addr().unwrap().port();
        let closed = {
            let probe = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            probe.local_addr().unwrap().port()
        };
        let (mut gateway, frames) = introduced_gateway();
        gateway.from_device(&syn((GATEWAY_ADDRESS, open)));
        assert_eq!(tcp_reply(&mut gateway, &frames), (true, false));
        assert_eq!(gateway.connections(), 1);
        let (mut gateway, frames) = introduced_gateway();
        gateway.from_device(&syn((GATEWAY_ADDRESS, closed)));
        assert_eq!(tcp_reply(&mut gateway, &frames), (false, true));
        assert_eq!(gateway.connections(), 0);
        // The DNS forwarder takes no TCP: reset at once, no host dialled.
        gateway.from_device(&syn((DNS_ADDRESS, 53)));
        assert_eq!(tcp_reply(&mut gateway, &frames), (false, true));
    }

    #[test]
    fn destinations_map_to_the_host_as_on_slirp() {
        let target = |address, port| host_target((address, port));
        assert_eq!(
            target(GATEWAY_ADDRESS, 8443),
            Some("127.0.0.1:8443".parse().unwrap())
        );
        assert_eq!(target(DNS_ADDRESS, 53), None);
        assert_eq!(target(Ipv4Addr::new(10, 0, 2, 99), 80), None);
        assert_eq!(target(Ipv4Addr::BROADCAST, 80), None);
        assert_eq!(target(Ipv4Addr::LOCALHOST, 80), None);
        assert_eq!(
            target(Ipv4Addr::new(192, 0, 2, 1), 443),
            Some("192.0.2.1:443".parse().unwrap())
        );
    }
}
