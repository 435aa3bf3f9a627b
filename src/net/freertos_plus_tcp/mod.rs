//! The FreeRTOS+TCP backend (cargo feature `freertos-plus-tcp`): FreeRTOS+TCP V4 behind the
//! [`TcpIpStack`] API, over any [`LinkCard`].
//!
//! FreeRTOS+TCP is C, compiled by `build.rs` from the `FreeRTOS-Plus-TCP/` submodule (or
//! `FREERTOS_PLUS_TCP_PATH`) with this application's `c_shim/plus_tcp/FreeRTOSIPConfig.h`. It
//! brings its own IP task (`FreeRTOS_IPInit_Multi` creates it); this module brings:
//!
//! * the network interface ([`interface`]): a V4 `NetworkInterface_t` over the card, written
//!   here (no upstream driver), with its receive path;
//! * the sockets ([`TcpSocket`]): `FreeRTOS_socket`, `connect`, `send`, `recv`, `shutdown`,
//!   `closesocket`, with `SO_RCVTIMEO`/`SO_SNDTIMEO` per call;
//! * the hooks FreeRTOS+TCP asks of an application: the network-event hook (which records the
//!   address DHCP gave and wakes [`TcpIpStack::wait_until_up`]), random numbers and TCP initial
//!   sequence numbers from the board's entropy source.
//!
//! FreeRTOS+TCP keeps its state in globals, so there is one stack per program:
//! [`Stack::start`] a second time is an error.
//!
//! Every Rust function FreeRTOS+TCP calls back (the interface's functions and the hooks) first
//! marks the IP task's thread as a task (`board::port::task_started`, see `entered_from_c`): the
//! IP task is created by C, not by [`crate::rtos::task`].
#![allow(unsafe_code)]

mod ffi;
mod interface;
mod socket;

use core::net::Ipv4Addr;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

use alloc::boxed::Box;
use alloc::ffi::CString;
use alloc::vec::Vec;
use once_cell::race::OnceBox;

pub use self::socket::TcpSocket;
use super::{
    ConnectError, DnsError, Ipv4Settings, NetConfig, StartError, TcpIpStack, TcpOptions,
    guest_address,
};
use crate::link::{LinkCard, LinkCounters};
use crate::rtos::sync::Mutex;
use crate::rtos::task::{self, NotifySlot, TaskHandle};
use crate::rtos::time::{Deadline, Ticks};

/// What [`TcpIpStack::name`] reports.
pub const NAME: &str = "FreeRTOS+TCP";

/// The IP task's priority, fixed at build time (`ipconfigIP_TASK_PRIORITY`).
pub const IP_TASK_PRIORITY: u8 = ffi::ipconfigIP_TASK_PRIORITY as u8;

/// The one stack of the program.
static STACK: OnceBox<Stack> = OnceBox::new();

/// A running FreeRTOS+TCP stack. Obtained from [`super::start`]; lives for the rest of the
/// program.
pub struct Stack {
    config: NetConfig,
    /// What the network-event hook saw, and who waits for it.
    state: Mutex<UpState>,
    /// Open [`TcpSocket`]s (created and not yet closed by `FreeRTOS_closesocket`).
    sockets: AtomicUsize,
    interface: &'static interface::Interface,
}

/// The address settings in force, and the tasks waiting for them.
struct UpState {
    ipv4: Option<Ipv4Settings>,
    waiters: Vec<TaskHandle>,
}

/// An IPv4 address as FreeRTOS+TCP keeps it (network byte order in memory).
fn to_plus(address: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(address.octets())
}

/// The reverse of [`to_plus`].
fn from_plus(address: u32) -> Ipv4Addr {
    Ipv4Addr::from(address.to_ne_bytes())
}

impl Stack {
    /// Starts FreeRTOS+TCP on `card`: the network interface, its receive task, the end-point
    /// (DHCP or static, from `config`) and the IP task. See [`super::start`].
    pub fn start(card: Box<dyn LinkCard>, config: NetConfig) -> Result<&'static Stack, StartError> {
        if STACK.get().is_some() {
            return Err(StartError::AlreadyStarted);
        }
        if config.ip_task_priority != IP_TASK_PRIORITY {
            log::warn!(
                "FreeRTOS+TCP's IP task runs at priority {IP_TASK_PRIORITY} \
                 (ipconfigIP_TASK_PRIORITY); NetConfig::ip_task_priority {} does not apply",
                config.ip_task_priority
            );
        }
        let interface = interface::Interface::start(card, &config)?;
        let stack = Stack {
            config: config.clone(),
            state: Mutex::new(UpState {
                ipv4: None,
                waiters: Vec::with_capacity(4),
            })
            .map_err(StartError::Kernel)?,
            sockets: AtomicUsize::new(0),
            interface,
        };
        if STACK.set(Box::new(stack)).is_err() {
            return Err(StartError::AlreadyStarted);
        }
        let stack = STACK.get().expect("just set");
        interface.launch(&config)?;
        Ok(stack)
    }

    /// The card's frame counters.
    pub fn link_counters(&self) -> LinkCounters {
        self.interface.counters()
    }

    /// Records the settings the network-event hook reports, and wakes the waiters.
    fn set_ipv4(&self, ipv4: Option<Ipv4Settings>) {
        let mut state = self.state.lock();
        state.ipv4 = ipv4;
        for waiter in state.waiters.drain(..) {
            waiter.notify_slot(NotifySlot::Network);
        }
    }

    /// Makes sure the next hop towards `address` is in the ARP cache before a packet is sent
    /// there, so that a first connect or lookup does not wait for FreeRTOS+TCP's own
    /// resolution retries (every 500 ms for a connecting socket). Waits for ARP replies, not a
    /// fixed time, and at most until `deadline`.
    fn resolve_next_hop(&self, address: Ipv4Addr, deadline: Deadline) {
        let mut asked = false;
        loop {
            let Some(next_hop) = interface::arp_lookup(address) else {
                return; // in the cache, or nothing ARP can help with
            };
            let Some(remaining) = deadline.remaining() else {
                return;
            };
            let remaining = Ticks::from_u64_saturating(
                remaining
                    .as_u64()
                    .min(Ticks::from_duration(Duration::from_millis(500)).as_u64()),
            );
            if asked {
                // A reply went by and the cache still misses: let FreeRTOS+TCP carry on alone.
                return;
            }
            self.interface.expect(interface::Interest::Arp);
            interface::send_arp_request(next_hop);
            asked = true;
            task::wait_for_notification_on(NotifySlot::Network, remaining);
            self.interface.forget();
        }
    }
}

impl Stack {
    /// The IPv4 settings in force, or `None` until the network is up.
    pub fn ipv4(&self) -> Option<Ipv4Settings> {
        self.state.lock().ipv4
    }

    /// Waits until the network-event hook reports the end-point up.
    pub fn wait_until_up(&self, timeout: Duration) -> Option<Ipv4Settings> {
        let deadline = Deadline::after(timeout);
        let me = TaskHandle::current();
        loop {
            let remaining = {
                let mut state = self.state.lock();
                if let Some(settings) = state.ipv4 {
                    return Some(settings);
                }
                let Some(remaining) = deadline.remaining() else {
                    if let Some(me) = &me {
                        state.waiters.retain(|waiter| waiter != me);
                    }
                    return None;
                };
                if let Some(me) = &me
                    && !state.waiters.contains(me)
                {
                    state.waiters.push(me.clone());
                }
                remaining
            };
            task::wait_for_notification_on(NotifySlot::Network, remaining);
        }
    }

    /// Connects to `address:port`; see [`TcpIpStack::connect`].
    pub fn connect(
        &'static self,
        address: Ipv4Addr,
        port: u16,
        options: TcpOptions,
    ) -> Result<TcpSocket, ConnectError> {
        if address.is_unspecified() || address.is_broadcast() || port == 0 {
            return Err(ConnectError::InvalidAddress);
        }
        if Stack::ipv4(self).is_none() {
            return Err(ConnectError::NetworkDown);
        }
        if self.sockets.load(Ordering::SeqCst) >= self.config.max_sockets {
            return Err(ConnectError::NoFreeSocket);
        }
        let deadline = Deadline::after(options.connect_timeout);
        self.resolve_next_hop(address, deadline);
        let remaining = deadline.remaining().unwrap_or(Ticks::ZERO);
        socket::connect(self, address, port, options, remaining)
    }

    /// The IPv4 address of `host`: `localhost` and literals directly, other names with
    /// `FreeRTOS_getaddrinfo` (the DNS server the network gave).
    pub fn resolve(&'static self, host: &str, timeout: Duration) -> Result<Ipv4Addr, DnsError> {
        if let Some(address) = guest_address(host, self.config.host_alias) {
            return Ok(address);
        }
        if !is_host_name(host) {
            return Err(DnsError::InvalidName);
        }
        let settings = Stack::ipv4(self).ok_or(DnsError::NetworkDown)?;
        let server = settings.dns.ok_or(DnsError::NoServer)?;
        self.resolve_next_hop(server, Deadline::after(timeout));
        let name = CString::new(host).map_err(|_| DnsError::InvalidName)?;
        socket::getaddrinfo(&name)
    }

    /// How many sockets are open (not yet given to `FreeRTOS_closesocket`).
    pub fn tcp_sockets_in_use(&self) -> usize {
        self.sockets.load(Ordering::SeqCst)
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

/// Whether `name` is a DNS host name: dot-separated labels of 1 to 63 letters, digits and
/// hyphens, 253 characters at most.
fn is_host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Called first by every function FreeRTOS+TCP calls back: on the IP task (created by C, not by
/// [`crate::rtos::task`]), marks its thread as a task for the RTOS layer (on the simulators a
/// thread-local flag that the allocator and the kernel API checks read). Callbacks on other
/// threads (an application task, or `main` before the scheduler starts) are left as they are.
fn entered_from_c() {
    /// `taskSCHEDULER_NOT_STARTED` (task.h).
    const SCHEDULER_NOT_STARTED: ffi::BaseType_t = 1;
    // SAFETY: two reads of kernel state, callable from any thread: the scheduler's state, and
    // FreeRTOS+TCP's comparison of the running task's handle with the IP task's (meaningful
    // only once the scheduler runs, hence the first check).
    let on_ip_task = unsafe {
        ffi::xTaskGetSchedulerState() != SCHEDULER_NOT_STARTED && ffi::xIsCallingFromIPTask() != 0
    };
    if on_ip_task {
        crate::board::port::task_started();
    }
}

/// The end-point's settings, as FreeRTOS+TCP holds them.
///
/// # Safety
/// `end_point` must point to a live end-point (FreeRTOS+TCP passes one to the hook).
unsafe fn end_point_settings(end_point: *const ffi::NetworkEndPoint_t) -> Ipv4Settings {
    // SAFETY: the caller guarantees the pointer; the fields are plain integers.
    let ipv4 = unsafe { (*end_point).ipv4_settings };
    let netmask = from_plus(ipv4.ulNetMask);
    let gateway = from_plus(ipv4.ulGatewayAddress);
    let dns = from_plus(ipv4.ulDNSServerAddresses[0]);
    Ipv4Settings {
        address: from_plus(ipv4.ulIPAddress),
        prefix_len: u32::from(netmask).leading_ones() as u8,
        gateway: (!gateway.is_unspecified()).then_some(gateway),
        dns: (!dns.is_unspecified()).then_some(dns),
    }
}

/// FreeRTOS+TCP's network-event hook, called by the IP task when an end-point comes up (DHCP
/// finished, or the static settings are in force) or goes down.
#[unsafe(no_mangle)]
extern "C" fn vApplicationIPNetworkEventHook_Multi(
    event: ffi::eIPCallbackEvent_t,
    end_point: *mut ffi::NetworkEndPoint_t,
) {
    entered_from_c();
    let Some(stack) = STACK.get() else { return };
    if event == ffi::eNetworkUp && !end_point.is_null() {
        // SAFETY: FreeRTOS+TCP passes its live end-point.
        let settings = unsafe { end_point_settings(end_point) };
        log::info!(
            "network up (FreeRTOS+TCP): address {}/{}, gateway {}, DNS {}",
            settings.address,
            settings.prefix_len,
            display_option(settings.gateway),
            display_option(settings.dns)
        );
        // Ask for the gateway's hardware address now, on the IP task, so that the first
        // connection finds it in the ARP cache.
        if let Some(gateway) = settings.gateway {
            interface::send_arp_request(gateway);
        }
        stack.set_ipv4(Some(settings));
    } else if event == ffi::eNetworkDown {
        if Stack::ipv4(stack).is_some() {
            log::warn!("network down (FreeRTOS+TCP)");
        }
        stack.set_ipv4(None);
    }
}

fn display_option(address: Option<Ipv4Addr>) -> alloc::string::String {
    use alloc::string::ToString;
    address.map_or_else(|| "none".into(), |address| address.to_string())
}

/// Random numbers for FreeRTOS+TCP (DHCP transaction ids, DNS ids, local ports), from the
/// board's entropy source. Returns pdFALSE if the source failed.
#[unsafe(no_mangle)]
extern "C" fn xApplicationGetRandomNumber(number: *mut u32) -> ffi::BaseType_t {
    entered_from_c();
    let mut bytes = [0u8; 4];
    if number.is_null() || crate::board::fill_entropy(&mut bytes).is_err() {
        return 0;
    }
    // SAFETY: FreeRTOS+TCP passes a pointer to a u32 it owns.
    unsafe { number.write(u32::from_ne_bytes(bytes)) };
    1
}

/// TCP initial sequence numbers: random, from the board's entropy source (RFC 6528 asks for
/// numbers an off-path attacker cannot guess). 0 tells FreeRTOS+TCP that none is available,
/// and it then refuses the connection.
#[unsafe(no_mangle)]
extern "C" fn ulApplicationGetNextSequenceNumber(
    _source_address: u32,
    _source_port: u16,
    _destination_address: u32,
    _destination_port: u16,
) -> u32 {
    entered_from_c();
    let mut bytes = [0u8; 4];
    match crate::board::fill_entropy(&mut bytes) {
        Ok(()) => u32::from_ne_bytes(bytes).max(1),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(is_host_name("device.test"));
        assert!(is_host_name("a-b.example.com."));
        assert!(!is_host_name("bad name"));
        assert!(!is_host_name(""));
        assert!(!is_host_name("-a.test"));
    }

    #[test]
    fn addresses_keep_network_order() {
        let address = Ipv4Addr::new(10, 0, 2, 15);
        assert_eq!(to_plus(address).to_ne_bytes(), [10, 0, 2, 15]);
        assert_eq!(from_plus(to_plus(address)), address);
    }
}
