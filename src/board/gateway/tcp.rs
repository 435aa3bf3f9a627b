//! The gateway's TCP proxy: each connection the device opens is a smoltcp socket on the
//! gateway's interface, joined to a host `std::net::TcpStream` by two host threads.
//!
//! | thread | does |
//! |---|---|
//! | connector, then reader | dials the host; then reads from the host stream into chunks for the gateway |
//! | writer | writes the gateway's chunks to the host stream; shuts its write side when the device has |
//! | the gateway's own | moves chunks between the threads' channels and the smoltcp socket |
//!
//! **Flow control** both ways, with nothing unbounded: each direction is a channel of
//! [`CHANNEL_CHUNKS`] chunks of at most [`CHUNK`] bytes plus one chunk in hand. The gateway
//! takes a chunk from the host only when the socket's send buffer has room, and reads from
//! the socket only when the host's channel has room; a full socket receive buffer closes the
//! device's window, and a full channel blocks the reader, so the host's kernel closes the
//! server's window.
//!
//! **Close**: the host's end of stream becomes a FIN to the device once everything before it
//! was sent, and the device's FIN becomes `shutdown(Write)` on the host stream once
//! everything before it was written: each direction closes on its own (half-close). A host
//! error resets the device's connection, once the device has acknowledged what the host sent
//! before it (a server that answers and then resets must not lose its answer); a reset from
//! the device (or a smoltcp timeout) closes the host stream.

use std::boxed::Box;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::time::{Duration, Instant};
use std::vec;
use std::vec::Vec;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{IpAddress, IpListenEndpoint};

use super::wire::SynKey;
use super::{Doorbell, HostEvent, host_thread};
use crate::link::Frame;

/// Largest chunk moved between a host thread and the gateway, in bytes.
pub const CHUNK: usize = 16 * 1024;
/// Chunks each direction's channel holds.
pub const CHANNEL_CHUNKS: usize = 4;
/// Size of each smoltcp socket buffer (receive and send), in bytes.
pub const SOCKET_BUFFER: usize = 64 * 1024;
/// How long the gateway waits for the host to accept a connection.
pub const HOST_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Connections open (or being opened) at once; more are reset.
pub const MAX_CONNECTIONS: usize = 64;

/// A chunk for the host.
enum ToHost {
    Data(Vec<u8>),
    /// The device closed its side: shut the host stream's write side.
    Shutdown,
}

/// What the host stream gave.
enum FromHost {
    Data(Vec<u8>),
    /// The host closed its side.
    EndOfStream,
    /// The host stream failed (reset, say).
    Failed,
}

/// A connected host stream, as the gateway holds it.
pub struct HostLink {
    to_host: SyncSender<ToHost>,
    from_host: Receiver<FromHost>,
    /// A handle on the stream to shut it down from the gateway (which wakes the reader).
    control: TcpStream,
}

impl core::fmt::Debug for HostLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HostLink")
    }
}

/// One device connection.
struct Connection {
    key: SynKey,
    phase: Phase,
}

enum Phase {
    /// Dialling the host; the device's SYN waits here (its retransmissions are dropped).
    Connecting {
        syn: Box<Frame>,
    },
    Open(Box<Open>),
}

struct Open {
    handle: SocketHandle,
    link: HostLink,
    /// A chunk from the host, and how much of it the socket took.
    from_host: Option<(Vec<u8>, usize)>,
    /// A message the host's channel had no room for yet.
    to_host: Option<ToHost>,
    host_finished: bool,
    fin_sent: bool,
    device_finished: bool,
    shutdown_sent: bool,
    /// Reset (or being reset): the socket stays one more poll so its RST goes out.
    aborted: bool,
    /// The host stream failed (a reset, say) at this time: what the host sent before is still
    /// delivered, and the device's connection is reset once it has all been acknowledged (or
    /// [`RESET_DRAIN_LIMIT`] has passed). Resetting at once would throw away an answer the
    /// server had already sent, which a client on the host itself would have read.
    host_failed_at: Option<Instant>,
}

/// Longest wait for the device to take what a failed host stream had sent before its reset.
const RESET_DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Every connection of the device.
pub struct Proxy {
    connections: Vec<Connection>,
    events: SyncSender<HostEvent>,
    doorbell: Arc<Doorbell>,
}

/// What the gateway must do with a SYN after [`Proxy::on_syn`].
#[derive(Debug, PartialEq, Eq)]
pub enum SynAction {
    /// Held until the host answers (or a retransmission of a held one: dropped).
    Held,
    /// A connection that exists: the interface handles it.
    PassOn,
    /// Refused at once (too many connections, or no host behind the address): the interface
    /// answers with a reset.
    Refuse,
}

impl Proxy {
    /// A proxy whose host threads report on `events` and ring `doorbell`.
    pub fn new(events: SyncSender<HostEvent>, doorbell: Arc<Doorbell>) -> Proxy {
        Proxy {
            connections: Vec::new(),
            events,
            doorbell,
        }
    }

    /// Connections tracked (for tests and reports).
    pub fn len(&self) -> usize {
        self.connections.len()
    }

    /// Whether no connection is tracked.
    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }

    /// A SYN from the device: a new connection is dialled on the host (at `target`), and the
    /// SYN is held until the host answers.
    pub fn on_syn(&mut self, key: SynKey, target: Option<SocketAddr>, syn: &[u8]) -> SynAction {
        if let Some(known) = self.connections.iter().find(|c| c.key == key) {
            return match known.phase {
                Phase::Connecting { .. } => SynAction::Held,
                Phase::Open(_) => SynAction::PassOn,
            };
        }
        let Some(target) = target else {
            return SynAction::Refuse;
        };
        let Ok(syn) = Frame::from_slice(syn) else {
            return SynAction::Refuse;
        };
        let syn = Box::new(syn);
        if self.connections.len() >= MAX_CONNECTIONS {
            log::warn!("gateway: {MAX_CONNECTIONS} connections open; refusing another");
            return SynAction::Refuse;
        }
        let (events, doorbell) = (self.events.clone(), self.doorbell.clone());
        let spawned = host_thread::spawn("gateway-tcp", move || {
            dial(key, target, &events, &doorbell);
        });
        if spawned.is_err() {
            return SynAction::Refuse;
        }
        self.connections.push(Connection {
            key,
            phase: Phase::Connecting { syn },
        });
        SynAction::Held
    }

    /// The host accepted `key`: a socket listens for the held SYN, which is returned for the
    /// interface to take next.
    pub fn on_connected(
        &mut self,
        key: SynKey,
        link: HostLink,
        sockets: &mut SocketSet<'static>,
    ) -> Option<Frame> {
        let Some(index) = self.connecting(key) else {
            let _ = link.control.shutdown(Shutdown::Both);
            return None;
        };
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
            tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
        );
        socket.set_nagle_enabled(false);
        socket.set_ack_delay(None);
        socket.set_timeout(Some(smoltcp::time::Duration::from_secs(120)));
        let endpoint = IpListenEndpoint {
            addr: Some(IpAddress::Ipv4(key.dst.0)),
            port: key.dst.1,
        };
        if socket.listen(endpoint).is_err() {
            let _ = link.control.shutdown(Shutdown::Both);
            let connection = self.connections.swap_remove(index);
            return held_syn(connection);
        }
        let handle = sockets.add(socket);
        let phase = Phase::Open(Box::new(Open {
            handle,
            link,
            from_host: None,
            to_host: None,
            host_finished: false,
            fin_sent: false,
            device_finished: false,
            shutdown_sent: false,
            aborted: false,
            host_failed_at: None,
        }));
        let held = core::mem::replace(&mut self.connections[index].phase, phase);
        match held {
            Phase::Connecting { syn } => Some(*syn),
            Phase::Open(_) => None,
        }
    }

    /// The host refused `key` (or could not be reached): the held SYN is returned, for the
    /// interface to answer with a reset (no socket listens for it).
    pub fn on_refused(&mut self, key: SynKey) -> Option<Frame> {
        let index = self.connecting(key)?;
        held_syn(self.connections.swap_remove(index))
    }

    fn connecting(&self, key: SynKey) -> Option<usize> {
        self.connections
            .iter()
            .position(|c| c.key == key && matches!(c.phase, Phase::Connecting { .. }))
    }

    /// Moves data both ways on every connection, and closes what is finished. Returns whether
    /// anything moved (then the interface has something to send, or room to announce).
    pub fn pump(&mut self, sockets: &mut SocketSet<'static>) -> bool {
        let mut moved = false;
        for connection in &mut self.connections {
            if let Phase::Open(open) = &mut connection.phase {
                moved |= open.pump(sockets.get_mut::<tcp::Socket>(open.handle));
            }
        }
        moved
    }

    /// Forgets connections that are over, freeing their sockets. Call after the interface
    /// polled (so that a reset queued by `pump` went out first).
    pub fn sweep(&mut self, sockets: &mut SocketSet<'static>) {
        self.connections.retain_mut(|connection| {
            let Phase::Open(open) = &mut connection.phase else {
                return true;
            };
            let socket = sockets.get_mut::<tcp::Socket>(open.handle);
            if !open.finished(socket) {
                return true;
            }
            // An orderly end leaves the writer to finish what is queued (then the host's
            // shutdown(Write)); the paths that end abruptly shut the stream themselves.
            sockets.remove(open.handle);
            false
        });
    }

    /// A socket that never left `Listen` after its SYN was offered (a SYN the interface
    /// dropped): reset the host side and forget it.
    pub fn drop_unanswered(&mut self, key: SynKey, sockets: &mut SocketSet<'static>) {
        let Some(index) = self.connections.iter().position(|c| c.key == key) else {
            return;
        };
        let Phase::Open(open) = &self.connections[index].phase else {
            return;
        };
        if sockets.get::<tcp::Socket>(open.handle).is_listening() {
            let _ = open.link.control.shutdown(Shutdown::Both);
            sockets.remove(open.handle);
            self.connections.swap_remove(index);
        }
    }
}

fn held_syn(connection: Connection) -> Option<Frame> {
    match connection.phase {
        Phase::Connecting { syn } => Some(*syn),
        Phase::Open(_) => None,
    }
}

impl Open {
    fn pump(&mut self, socket: &mut tcp::Socket<'static>) -> bool {
        if self.aborted {
            return false;
        }
        if let Some(failed_at) = self.host_failed_at {
            // Nothing more goes to the host; the device gets what came before the failure.
            let delivered = socket.send_queue() == 0 && self.from_host.is_none();
            if delivered || !socket.may_send() || failed_at.elapsed() > RESET_DRAIN_LIMIT {
                self.abort(socket);
                return true;
            }
            // Only the chunk in hand can still move: the channel holds nothing after a failure.
            return self.from_host.is_some() && self.host_to_device(socket);
        }
        let mut moved = self.host_to_device(socket);
        moved |= self.device_to_host(socket);
        moved
    }

    fn abort(&mut self, socket: &mut tcp::Socket<'static>) {
        socket.abort();
        let _ = self.link.control.shutdown(Shutdown::Both);
        self.aborted = true;
    }

    fn host_to_device(&mut self, socket: &mut tcp::Socket<'static>) -> bool {
        let mut moved = false;
        loop {
            if self.from_host.is_none() && !self.host_finished {
                match self.link.from_host.try_recv() {
                    Ok(FromHost::Data(chunk)) => self.from_host = Some((chunk, 0)),
                    Ok(FromHost::EndOfStream) => self.host_finished = true,
                    Ok(FromHost::Failed) | Err(TryRecvError::Disconnected) => {
                        let first = self.host_failed_at.is_none();
                        if first {
                            self.host_failed_at = Some(Instant::now());
                        }
                        return moved || first;
                    }
                    Err(TryRecvError::Empty) => {}
                }
            }
            let Some((chunk, taken)) = &mut self.from_host else {
                break;
            };
            if !socket.can_send() {
                break;
            }
            match socket.send_slice(&chunk[*taken..]) {
                Ok(count) => {
                    *taken += count;
                    moved |= count > 0;
                }
                Err(_) => break,
            }
            if *taken < chunk.len() {
                break;
            }
            self.from_host = None;
        }
        if self.host_finished && self.from_host.is_none() && !self.fin_sent && socket.may_send() {
            socket.close();
            self.fin_sent = true;
            moved = true;
        }
        moved
    }

    fn device_to_host(&mut self, socket: &mut tcp::Socket<'static>) -> bool {
        use tcp::State;
        let mut moved = false;
        if matches!(
            socket.state(),
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait
        ) {
            self.device_finished = true;
        }
        loop {
            if let Some(message) = self.to_host.take() {
                match self.link.to_host.try_send(message) {
                    Ok(()) => moved = true,
                    Err(TrySendError::Full(message)) => {
                        self.to_host = Some(message);
                        break;
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        // The writer failed: the host is gone.
                        self.abort(socket);
                        return true;
                    }
                }
            }
            if socket.can_recv() {
                let mut chunk = vec![0u8; socket.recv_queue().min(CHUNK)];
                match socket.recv_slice(&mut chunk) {
                    Ok(count) => {
                        chunk.truncate(count);
                        self.to_host = Some(ToHost::Data(chunk));
                        moved = true;
                        continue;
                    }
                    Err(_) => break,
                }
            }
            if self.device_finished && !self.shutdown_sent {
                self.to_host = Some(ToHost::Shutdown);
                self.shutdown_sent = true;
                continue;
            }
            break;
        }
        moved
    }

    /// Whether the connection is over and its socket can go.
    fn finished(&mut self, socket: &mut tcp::Socket<'static>) -> bool {
        use tcp::State;
        if self.aborted {
            // pump() reset it; the interface has polled since, so the RST went out.
            return socket.state() == State::Closed;
        }
        if !matches!(socket.state(), State::Closed | State::TimeWait) {
            return false;
        }
        if socket.recv_queue() > 0 || self.to_host.is_some() {
            return false; // still delivering the device's last bytes
        }
        if !self.device_finished {
            // Closed without the device's FIN: reset by the device, or timed out.
            let _ = self.link.control.shutdown(Shutdown::Both);
            return true;
        }
        self.shutdown_sent
    }
}

/// The connector's body: dials `target`, reports, then reads the host stream.
fn dial(key: SynKey, target: SocketAddr, events: &SyncSender<HostEvent>, doorbell: &Arc<Doorbell>) {
    let stream = match TcpStream::connect_timeout(&target, HOST_CONNECT_TIMEOUT) {
        Ok(stream) => stream,
        Err(error) => {
            log::debug!("gateway: {target} refused the device's connection: {error}");
            let _ = events.send(HostEvent::Refused(key));
            doorbell.ring();
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (Ok(writer_stream), Ok(control)) = (stream.try_clone(), stream.try_clone()) else {
        let _ = events.send(HostEvent::Refused(key));
        doorbell.ring();
        return;
    };
    let (to_host, to_host_rx) = sync_channel(CHANNEL_CHUNKS);
    let (from_host_tx, from_host) = sync_channel(CHANNEL_CHUNKS);
    let writer_bell = doorbell.clone();
    if host_thread::spawn("gateway-tcp-w", move || {
        write_to_host(writer_stream, &to_host_rx, &writer_bell);
    })
    .is_err()
    {
        let _ = events.send(HostEvent::Refused(key));
        doorbell.ring();
        return;
    }
    let link = HostLink {
        to_host,
        from_host,
        control,
    };
    if events.send(HostEvent::Connected(key, link)).is_err() {
        return;
    }
    doorbell.ring();
    read_from_host(stream, &from_host_tx, doorbell);
}

fn read_from_host(mut stream: TcpStream, to_gateway: &SyncSender<FromHost>, doorbell: &Doorbell) {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let message = match stream.read(&mut buffer) {
            Ok(0) => FromHost::EndOfStream,
            Ok(count) => FromHost::Data(buffer[..count].to_vec()),
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(_) => FromHost::Failed,
        };
        let last = !matches!(message, FromHost::Data(_));
        // Blocks while the channel is full: the flow control towards the host server.
        if to_gateway.send(message).is_err() {
            return;
        }
        doorbell.ring();
        if last {
            return;
        }
    }
}

fn write_to_host(mut stream: TcpStream, from_gateway: &Receiver<ToHost>, doorbell: &Doorbell) {
    for message in from_gateway {
        match message {
            ToHost::Data(chunk) => {
                if stream.write_all(&chunk).is_err() {
                    let _ = stream.shutdown(Shutdown::Both);
                    // Dropping the receiver tells the gateway (its next send fails).
                    return;
                }
            }
            ToHost::Shutdown => {
                let _ = stream.shutdown(Shutdown::Write);
            }
        }
        // Room in the channel again.
        doorbell.ring();
    }
}
