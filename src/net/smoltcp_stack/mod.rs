//! The smoltcp backend: [smoltcp](https://docs.rs/smoltcp) 0.14 in an IP task, behind the
//! [`TcpIpStack`] API.
//!
//! Like FreeRTOS+TCP's IP task, one task owns the interface: it takes frames from the link,
//! runs smoltcp, runs DHCP, and wakes tasks blocked in socket calls. It sleeps on its task
//! notification and wakes for three reasons only: the link's interrupt line (frames arrived,
//! or room to send), a socket call that gave it work (data to send, a connect, a close), and
//! smoltcp's own next timer. There is no busy loop and no fixed polling period.
//!
//! Socket calls run on the caller's task: they lock the shared state (a kernel mutex, so the
//! IP task inherits the caller's priority if it must wait), move bytes between the caller's
//! buffer and smoltcp's socket buffers, and, when they must wait, register the calling task
//! and block on its [`NotifySlot::Network`] notification until the IP task has news. A
//! waiting task is registered only while it waits: whatever ends the wait (news, an answer,
//! the deadline), it leaves the list under the same lock before it returns.
//!
//! Randomness comes from the board's entropy source: smoltcp's seed (TCP initial sequence
//! numbers, DHCP transaction ids), the first ephemeral port, and every DNS query id.

mod device;
mod dns;
mod tcp;

use core::net::Ipv4Addr;
use core::time::Duration;

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use once_cell::race::OnceBox;
use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{dhcpv4, tcp as smol_tcp};
use smoltcp::time::Instant as NetInstant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr};

use self::device::LinkDevice;
pub use self::tcp::TcpSocket;
use super::{
    ConnectError, DnsError, Ipv4Settings, Ipv4Setup, NetConfig, StartError, TcpIpStack, TcpOptions,
};
use crate::board;
use crate::link::{LinkCard, LinkCounters};
use crate::rtos::interrupt::{InterruptLine, InterruptRaiser};
use crate::rtos::sync::Mutex;
use crate::rtos::task::{self, NotifySlot, Priority, TaskHandle};
use crate::rtos::time::{self, Deadline, Ticks};

/// What [`TcpIpStack::name`] reports.
pub const NAME: &str = "smoltcp";

/// Most `Interface::poll` rounds per wake-up before the IP task lets others run.
const MAX_POLLS_PER_WAKE: usize = 16;
/// How long a closed socket may take to finish its FIN handshake before it is reset.
const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// Longest the IP task sleeps without news (FreeRTOS+TCP has the same kind of bound,
/// `ipconfigMAX_IP_TASK_SLEEP_TIME`).
const MAX_IP_TASK_SLEEP: Duration = Duration::from_secs(1);
/// First local port for outgoing connections (the IANA dynamic range).
const EPHEMERAL_PORTS: core::ops::RangeInclusive<u16> = 49152..=65535;

/// A running network stack. Obtained from [`super::start`]; lives for the rest of the program.
pub struct Stack {
    pub(crate) inner: Mutex<Inner>,
    ip_task: OnceBox<TaskHandle>,
}

/// Where a TCP socket's slot is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// A [`super::TcpSocket`] owns it.
    Owned,
    /// Its owner closed it; the IP task frees it once the FIN handshake is over.
    Closing { since: Ticks },
}

/// One TCP socket in the stack.
pub(crate) struct TcpSlot {
    pub(crate) handle: SocketHandle,
    pub(crate) generation: u32,
    pub(crate) state: SlotState,
    /// The peer has sent FIN: an orderly end of its stream, not a reset.
    pub(crate) peer_fin: bool,
}

/// Identifies a socket slot; the generation stops a stale id from reaching a reused slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketId {
    pub(crate) index: usize,
    pub(crate) generation: u32,
}

/// State shared between the IP task and socket callers, behind [`Stack::inner`].
pub(crate) struct Inner {
    pub(crate) iface: Interface,
    pub(crate) sockets: SocketSet<'static>,
    device: LinkDevice,
    dhcp: Option<SocketHandle>,
    pub(crate) ipv4: Option<Ipv4Settings>,
    pub(crate) tcp: Vec<Option<TcpSlot>>,
    pub(crate) config: NetConfig,
    next_generation: u32,
    next_local_port: u16,
    /// Tasks blocked in [`Stack::block_until`], each registered only while it waits.
    waiters: Vec<TaskHandle>,
    /// The tick the IP task sleeps until (`None`: until notified).
    ip_task_wakes_at: Option<u64>,
    /// A caller's inline poll armed a smoltcp timer earlier than the IP task's wake-up: the
    /// IP task must be told before the caller blocks.
    ip_task_stale: bool,
}

/// The stack's clock: kernel ticks, as on a board.
pub(crate) fn net_now() -> NetInstant {
    let ticks = time::tick_count().count();
    let millis = u128::from(ticks) * 1000 / u128::from(time::tick_rate_hz());
    NetInstant::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}

impl Stack {
    /// Starts the stack on `card` with its IP task. See [`super::start`].
    ///
    /// Never inlined: the interface and the shared state are put together on the caller's
    /// stack (about 4 KB on a board) before they move to the heap, and inlined into the
    /// caller that frame would stay reserved under everything the caller runs next (the
    /// board's demo task: its whole run).
    #[inline(never)]
    pub fn start(card: Box<dyn LinkCard>, config: NetConfig) -> Result<&'static Stack, StartError> {
        let interrupt_line = card.interrupt_line();
        InterruptRaiser::new(interrupt_line).map_err(StartError::InterruptLine)?;
        let mut seed = [0u8; 10];
        board::fill_entropy(&mut seed).map_err(|_| StartError::Entropy)?;
        let mut device = LinkDevice::new(card);
        let mut iface_config = Config::new(HardwareAddress::Ethernet(EthernetAddress(config.mac)));
        iface_config.random_seed = u64::from_le_bytes([
            seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7],
        ]);
        let mut iface = Interface::new(iface_config, &mut device, net_now());
        // Sized once for every socket that can exist at a time (the TCP slots, DHCP, one DNS
        // lookup), so the set never reallocates while the device runs.
        let mut sockets = SocketSet::new(Vec::with_capacity(config.max_sockets + 2));
        let mut ipv4 = None;
        let dhcp = match config.ipv4 {
            Ipv4Setup::Dhcp => Some(sockets.add(dhcpv4::Socket::new())),
            Ipv4Setup::Static(settings) => {
                apply_ipv4(&mut iface, Some(settings));
                ipv4 = Some(settings);
                None
            }
        };
        let priority = Priority::new(config.ip_task_priority).map_err(StartError::Priority)?;
        let first_port =
            *EPHEMERAL_PORTS.start() + (u16::from_le_bytes([seed[8], seed[9]]) % 16384);
        let inner = Inner {
            iface,
            sockets,
            device,
            dhcp,
            ipv4,
            tcp: (0..config.max_sockets).map(|_| None).collect(),
            config,
            next_generation: 1,
            next_local_port: first_port,
            waiters: Vec::with_capacity(8),
            ip_task_wakes_at: None,
            ip_task_stale: false,
        };
        let stack: &'static Stack = Box::leak(Box::new(Stack {
            inner: Mutex::new(inner).map_err(StartError::Kernel)?,
            ip_task: OnceBox::new(),
        }));
        let ip_task = task::TaskBuilder::new("IP")
            .priority(priority)
            .stack_bytes(crate::board::port::IP_TASK_STACK_BYTES)
            .spawn(move || run_ip_task(stack, interrupt_line))
            .map_err(StartError::IpTask)?;
        let _ = stack.ip_task.set(Box::new(ip_task));
        let receive: &'static (dyn Fn() -> bool + Sync) =
            Box::leak(Box::new(move || stack.receive_without_waiting()));
        stack.inner.lock().device.set_receive_handler(receive);
        Ok(stack)
    }

    /// The IPv4 settings in force, or `None` while DHCP has not completed.
    pub fn ipv4(&self) -> Option<Ipv4Settings> {
        self.inner.lock().ipv4
    }

    /// Waits until the device has an IPv4 address (at once with a static configuration).
    pub fn wait_until_up(&self, timeout: Duration) -> Option<Ipv4Settings> {
        self.block_until(Deadline::after(timeout), |inner| inner.ipv4)
    }

    /// How many TCP sockets exist, closing ones included (a closed socket is freed once its
    /// peer has answered the FIN).
    pub fn tcp_sockets_in_use(&self) -> usize {
        self.inner.lock().tcp.iter().flatten().count()
    }

    /// How many tasks are blocked in socket calls right now.
    pub fn tasks_waiting(&self) -> usize {
        self.inner.lock().waiters.len()
    }

    /// The card's frame counters.
    pub fn link_counters(&self) -> LinkCounters {
        self.inner.lock().device.counters()
    }

    /// Tells the IP task that a socket has work for it.
    pub(crate) fn kick(&self) {
        if let Some(ip_task) = self.ip_task.get() {
            ip_task.notify();
        }
    }

    /// Takes frames the card just received, on the calling task, if the stack is free right
    /// now; never waits. The card calls it from a task that must not block (see
    /// [`crate::link::LinkCard::set_receive_handler`]). Tasks waiting for the data are
    /// woken; the IP task is told if a timer moved earlier.
    fn receive_without_waiting(&self) -> bool {
        let Some(mut inner) = self.inner.lock_timeout(Ticks::ZERO) else {
            return false;
        };
        inner.service_inline();
        let stale = core::mem::take(&mut inner.ip_task_stale);
        drop(inner);
        if stale {
            self.kick();
        }
        true
    }

    /// Runs `attempt` under the lock until it yields a value or `deadline` passes. Between
    /// attempts the calling task sleeps until the IP task reports a change. The task is
    /// registered as a waiter only while it sleeps: every way out of this function removes it
    /// under the lock first, so no later wake-up is sent for a wait that is over.
    pub(crate) fn block_until<T>(
        &self,
        deadline: Deadline,
        mut attempt: impl FnMut(&mut Inner) -> Option<T>,
    ) -> Option<T> {
        let me = TaskHandle::current();
        loop {
            let (stale, remaining) = {
                let mut inner = self.inner.lock();
                if let Some(value) = attempt(&mut inner) {
                    inner.remove_waiter(me.as_ref());
                    return Some(value);
                }
                let Some(remaining) = deadline.remaining() else {
                    inner.remove_waiter(me.as_ref());
                    return None;
                };
                inner.add_waiter(me.as_ref());
                (core::mem::take(&mut inner.ip_task_stale), remaining)
            };
            // The caller is about to sleep anyway: the IP task re-plans its timers now, while
            // the network is busy, instead of pre-empting the caller earlier.
            if stale {
                self.kick();
            }
            task::wait_for_notification_on(NotifySlot::Network, remaining);
        }
    }
}

impl TcpIpStack for Stack {
    type Socket = TcpSocket;

    fn name(&self) -> &'static str {
        NAME
    }

    fn ipv4(&self) -> Option<Ipv4Settings> {
        Stack::ipv4(self)
    }

    fn wait_until_up(&self, timeout: Duration) -> Option<Ipv4Settings> {
        Stack::wait_until_up(self, timeout)
    }

    fn connect(
        &'static self,
        address: Ipv4Addr,
        port: u16,
        options: TcpOptions,
    ) -> Result<TcpSocket, ConnectError> {
        Stack::connect(self, address, port, options)
    }

    fn resolve(&'static self, host: &str, timeout: Duration) -> Result<Ipv4Addr, DnsError> {
        Stack::resolve(self, host, timeout)
    }

    fn tcp_sockets_in_use(&self) -> usize {
        Stack::tcp_sockets_in_use(self)
    }
}

fn run_ip_task(stack: &'static Stack, interrupt_line: u8) {
    // Attached before the first frame goes out, so no answer can arrive unannounced.
    if let Err(error) = InterruptLine::attach_current(interrupt_line) {
        log::error!("IP task: {error}; the network cannot receive");
    }
    loop {
        let wait = {
            let mut inner = stack.inner.lock();
            inner.device.service_card();
            inner.service();
            let wait = inner.next_wake();
            inner.ip_task_wakes_at = (wait != Ticks::FOREVER)
                .then(|| time::tick_count().as_u64().saturating_add(wait.as_u64()));
            inner.ip_task_stale = false;
            wait
        };
        task::wait_for_notification(wait);
    }
}

fn apply_ipv4(iface: &mut Interface, settings: Option<Ipv4Settings>) {
    iface.update_ip_addrs(|addresses| {
        addresses.clear();
        if let Some(settings) = settings {
            let cidr = IpCidr::Ipv4(Ipv4Cidr::new(settings.address, settings.prefix_len));
            let _ = addresses.push(cidr);
        }
    });
    iface.routes_mut().remove_default_ipv4_route();
    if let Some(gateway) = settings.and_then(|settings| settings.gateway) {
        let _ = iface.routes_mut().add_default_ipv4_route(gateway);
    }
}

impl Inner {
    /// One wake-up of the IP task: move frames, run protocols, free closed sockets, and wake
    /// the tasks waiting for news.
    fn service(&mut self) {
        let mut changed = false;
        for _ in 0..MAX_POLLS_PER_WAKE {
            match self
                .iface
                .poll(net_now(), &mut self.device, &mut self.sockets)
            {
                PollResult::SocketStateChanged => changed = true,
                PollResult::None => break,
            }
        }
        changed |= self.service_dhcp();
        self.track_tcp_slots();
        if changed {
            self.wake_waiters();
        }
    }

    /// [`service`](Self::service) run by a socket caller. If it armed a timer the sleeping
    /// IP task does not know about, the IP task is marked stale (see [`Stack::block_until`]).
    pub(crate) fn service_inline(&mut self) {
        self.service();
        let wait = self.next_wake();
        if wait != Ticks::FOREVER {
            let due = time::tick_count().as_u64().saturating_add(wait.as_u64());
            if self.ip_task_wakes_at.is_none_or(|planned| due < planned) {
                self.ip_task_stale = true;
            }
        }
    }

    /// How long the IP task may sleep before smoltcp needs it again. Never more than
    /// [`MAX_IP_TASK_SLEEP`]: a caller that queues data and then never blocks cannot hand
    /// the IP task a new timer, so the IP task re-plans on its own that often.
    fn next_wake(&mut self) -> Ticks {
        let smoltcp = self
            .iface
            .poll_delay(net_now(), &self.sockets)
            .map(|delay| Duration::from_micros(delay.total_micros()));
        let lingering = self
            .tcp
            .iter()
            .flatten()
            .any(|slot| matches!(slot.state, SlotState::Closing { .. }));
        let linger = lingering.then_some(Duration::from_millis(100));
        let card = self.device.wake_within();
        let wait = [smoltcp, linger, card, Some(MAX_IP_TASK_SLEEP)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(MAX_IP_TASK_SLEEP);
        Ticks::from_duration(wait)
    }

    fn service_dhcp(&mut self) -> bool {
        let Some(handle) = self.dhcp else {
            return false;
        };
        let event = self.sockets.get_mut::<dhcpv4::Socket>(handle).poll();
        match event {
            None => false,
            Some(dhcpv4::Event::Configured(lease)) => {
                let settings = Ipv4Settings {
                    address: lease.address.address(),
                    prefix_len: lease.address.prefix_len(),
                    gateway: lease.router,
                    dns: lease.dns_servers.first().copied(),
                };
                apply_ipv4(&mut self.iface, Some(settings));
                log::info!(
                    "network up: address {}/{}, gateway {}, DNS {}",
                    settings.address,
                    settings.prefix_len,
                    display_option(settings.gateway),
                    display_option(settings.dns)
                );
                self.ipv4 = Some(settings);
                true
            }
            Some(dhcpv4::Event::Deconfigured) => {
                if self.ipv4.is_none() {
                    return false; // the socket's initial state, not a lost lease
                }
                log::warn!("network down: DHCP lease lost");
                apply_ipv4(&mut self.iface, None);
                self.ipv4 = None;
                true
            }
        }
    }

    /// Notes FINs from peers, and frees or resets sockets whose owners have closed them.
    fn track_tcp_slots(&mut self) {
        let now = time::tick_count().count();
        let linger_ticks = Ticks::from_duration(CLOSE_LINGER).count();
        for entry in &mut self.tcp {
            let Some(slot) = entry else { continue };
            let socket = self.sockets.get_mut::<smol_tcp::Socket>(slot.handle);
            if matches!(
                socket.state(),
                smol_tcp::State::CloseWait
                    | smol_tcp::State::LastAck
                    | smol_tcp::State::Closing
                    | smol_tcp::State::TimeWait
            ) {
                slot.peer_fin = true;
            }
            let SlotState::Closing { since } = slot.state else {
                continue;
            };
            // Crossing FINs (CLOSING) with everything sent acknowledged: both sides have
            // closed and all data arrived; only the ACK of our FIN is outstanding. smoltcp 0.14
            // takes the peer's repeated FIN, which carries that ACK, for a keep-alive probe and
            // ignores it, so waiting would cost a retransmission timeout (1 s) for nothing: the
            // socket is freed as in TIME_WAIT.
            let crossed_and_delivered =
                socket.state() == smol_tcp::State::Closing && socket.send_queue() == 0;
            if crossed_and_delivered
                || matches!(
                    socket.state(),
                    smol_tcp::State::Closed | smol_tcp::State::TimeWait
                )
            {
                self.sockets.remove(slot.handle);
                *entry = None;
            } else if now.saturating_sub(since.count()) > linger_ticks {
                socket.abort();
            }
        }
    }

    /// Registers `task` to be woken by the next change.
    fn add_waiter(&mut self, task: Option<&TaskHandle>) {
        if let Some(task) = task
            && !self.waiters.contains(task)
        {
            self.waiters.push(task.clone());
        }
    }

    /// Takes `task` off the list: its wait is over.
    fn remove_waiter(&mut self, task: Option<&TaskHandle>) {
        if let Some(task) = task {
            self.waiters.retain(|waiter| waiter != task);
        }
    }

    fn wake_waiters(&mut self) {
        for waiter in self.waiters.drain(..) {
            waiter.notify_slot(NotifySlot::Network);
        }
    }

    /// The next local port for an outgoing connection.
    pub(crate) fn allocate_local_port(&mut self) -> u16 {
        let port = self.next_local_port;
        self.next_local_port = if port >= *EPHEMERAL_PORTS.end() {
            *EPHEMERAL_PORTS.start()
        } else {
            port + 1
        };
        port
    }

    pub(crate) fn next_generation(&mut self) -> u32 {
        self.next_generation = self.next_generation.wrapping_add(1);
        self.next_generation
    }

    /// The smoltcp socket and slot behind `id`.
    pub(crate) fn tcp_mut(
        &mut self,
        id: SocketId,
    ) -> Option<(&mut smol_tcp::Socket<'static>, &mut TcpSlot)> {
        let slot = self
            .tcp
            .get_mut(id.index)?
            .as_mut()
            .filter(|slot| slot.generation == id.generation)?;
        let socket = self.sockets.get_mut::<smol_tcp::Socket>(slot.handle);
        Some((socket, slot))
    }

    /// A free slot index, resetting the oldest closing socket if every slot is taken.
    pub(crate) fn free_slot(&mut self) -> Option<usize> {
        if let Some(index) = self.tcp.iter().position(Option::is_none) {
            return Some(index);
        }
        let (index, handle) = self
            .tcp
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| slot.as_ref().map(|slot| (index, slot)))
            .filter_map(|(index, slot)| match slot.state {
                SlotState::Closing { since } => Some((since, index, slot.handle)),
                SlotState::Owned => None,
            })
            .min()
            .map(|(_, index, handle)| (index, handle))?;
        self.sockets.get_mut::<smol_tcp::Socket>(handle).abort();
        self.sockets.remove(handle);
        self.tcp[index] = None;
        Some(index)
    }
}

fn display_option(address: Option<Ipv4Address>) -> String {
    address.map_or_else(|| "none".to_owned(), |address| address.to_string())
}
