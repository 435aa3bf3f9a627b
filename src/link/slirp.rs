//! The simulator's network card: libslirp user-mode networking on a host thread.
//!
//! libslirp (Debian `libslirp-dev`, bound by the `libslirp-sys` crate) is a user-mode NAT:
//! the device's Ethernet frames go in, and slirp turns them into ordinary host sockets. No
//! root, no TAP device. Its virtual network is `10.0.2.0/24`: the gateway and host alias
//! is [`HOST_ADDRESS`] (`10.0.2.2`; connections to it reach the host's `127.0.0.1`), DHCP
//! hands out [`DHCP_FIRST_ADDRESS`] (`10.0.2.15`), and DNS is forwarded at [`DNS_ADDRESS`].
//!
//! # Threads and wake-ups
//!
//! The slirp context is `!Send` and lives on one host thread, which `poll(2)`s slirp's
//! descriptors plus an eventfd. The eventfd is the device's doorbell: the IP task writes it
//! after queueing a frame, so the thread never sleeps out slirp's own timeout (upstream's
//! libslirp interface for FreeRTOS+TCP leaves this out, and the C demo paid 1.5 s for it).
//! slirp's `notify` callback makes the loop go round again at once. Frames for the device go
//! into a lock-free ring and the thread raises the device's interrupt line once per batch.
//!
//! This module is an FFI module: its `unsafe` blocks call libslirp and libc.
#![allow(unsafe_code)]

use core::ffi::{c_char, c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use std::cell::{Cell, RefCell};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use heapless::spsc::{Consumer, Producer, Queue};
use libslirp_sys as sys;

use super::{Frame, LinkPort, LinkStats, RING_FRAMES, TxDoorbell};
use crate::rtos::host_thread;
use crate::rtos::interrupt::InterruptRaiser;

/// The slirp network's gateway, which is also the host: `10.0.2.2:P` reaches `127.0.0.1:P`.
pub const HOST_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// slirp's DNS forwarder (it forwards to the host's first resolver, which may be off this
/// machine: tests never use it).
pub const DNS_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
/// The address slirp's DHCP server hands out first.
pub const DHCP_FIRST_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The slirp network and its prefix length.
pub const NETWORK: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 0, 2, 0), 24);

/// Longest time the loop sleeps when slirp asks for nothing sooner, in milliseconds.
const MAX_POLL_MS: u32 = 1000;

/// Why the link could not start.
#[derive(Debug)]
pub enum StartError {
    /// A slirp link already runs in this process (its rings are static, like a card's).
    AlreadyStarted,
    /// The eventfd doorbell could not be created.
    Doorbell(io::Error),
    /// The host thread could not be started.
    Thread(io::Error),
    /// `slirp_new` refused the configuration.
    SlirpRefused,
    /// The interrupt line does not exist.
    InterruptLine(crate::rtos::interrupt::InvalidLine),
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::AlreadyStarted => f.write_str("the slirp link is already running"),
            StartError::Doorbell(error) => write!(f, "cannot create the link's eventfd: {error}"),
            StartError::Thread(error) => write!(f, "cannot start the slirp thread: {error}"),
            StartError::SlirpRefused => f.write_str("libslirp refused the network configuration"),
            StartError::InterruptLine(error) => write!(f, "slirp link: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

static STARTED: AtomicBool = AtomicBool::new(false);
static TX_BLOCKED: AtomicBool = AtomicBool::new(false);
static STATS: LinkStats = LinkStats {
    rx_frames: core::sync::atomic::AtomicU64::new(0),
    rx_dropped: core::sync::atomic::AtomicU64::new(0),
    tx_frames: core::sync::atomic::AtomicU64::new(0),
};
static mut TO_DEVICE: Queue<Frame, { RING_FRAMES + 1 }> = Queue::new();
static mut FROM_DEVICE: Queue<Frame, { RING_FRAMES + 1 }> = Queue::new();

/// Starts the slirp link on a host thread and returns the device's end of it. The link
/// raises `interrupt_line` for received frames; the network stack attaches that line to its
/// IP task.
///
/// One link per process. Call it from `main` (the simulated card exists before the kernel
/// boots).
pub fn start(interrupt_line: u8) -> Result<LinkPort, StartError> {
    let raiser = InterruptRaiser::new(interrupt_line).map_err(StartError::InterruptLine)?;
    if STARTED.swap(true, Ordering::SeqCst) {
        return Err(StartError::AlreadyStarted);
    }
    // SAFETY: `STARTED` guarantees this runs once per process, so these are the only
    // references ever made to the two static rings; each is split once into its two ends.
    let (to_device, from_device) = unsafe {
        (
            (*ptr::addr_of_mut!(TO_DEVICE)).split(),
            (*ptr::addr_of_mut!(FROM_DEVICE)).split(),
        )
    };
    let doorbell = EventFd::new().map_err(StartError::Doorbell)?;
    let thread_doorbell = doorbell.duplicate().map_err(StartError::Doorbell)?;
    let (started_tx, started_rx) = std::sync::mpsc::sync_channel::<Result<(), StartError>>(1);
    let (to_device_producer, to_device_consumer) = to_device;
    let (from_device_producer, from_device_consumer) = from_device;
    host_thread::spawn("slirp", move || {
        run_slirp(
            to_device_producer,
            from_device_consumer,
            thread_doorbell,
            raiser,
            started_tx,
        )
    })
    .map_err(StartError::Thread)?;
    // The thread reports whether slirp accepted the configuration. This wait is on a host
    // channel, so call `start` before the scheduler runs or accept a brief block.
    started_rx.recv().unwrap_or(Err(StartError::SlirpRefused))?;
    Ok(LinkPort {
        rx: to_device_consumer,
        tx: from_device_producer,
        doorbell: Box::new(doorbell),
        tx_blocked: &TX_BLOCKED,
        stats: &STATS,
        interrupt_line,
    })
}

/// A Linux eventfd: the doorbell between the IP task and the slirp thread.
struct EventFd(OwnedFd);

impl EventFd {
    fn new() -> io::Result<EventFd> {
        // SAFETY: plain system call; the returned descriptor is checked and then owned.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn duplicate(&self) -> io::Result<EventFd> {
        Ok(EventFd(self.0.try_clone()?))
    }

    /// Adds one to the counter; the poller wakes. Retries on EINTR (the tick signal).
    fn signal(&self) {
        let one: u64 = 1;
        loop {
            // SAFETY: writes 8 bytes from a live u64 to a descriptor we own.
            let written =
                unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
            if written >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return;
            }
        }
    }

    /// Resets the counter.
    fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; non-blocking descriptor.
        let _ = unsafe { libc::read(self.0.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    }
}

impl TxDoorbell for EventFd {
    fn ring(&self) {
        self.signal();
    }
}

/// A timer slirp asked for.
struct SlirpTimer {
    callback: sys::SlirpTimerCb,
    callback_opaque: *mut c_void,
    /// Expiry in milliseconds of the link clock, when armed.
    expires_ms: Cell<Option<i64>>,
}

/// Everything the slirp callbacks reach. Lives on the slirp thread; the callbacks get a
/// shared reference, so all mutable state is in cells.
struct SlirpThread {
    to_device: RefCell<Producer<'static, Frame>>,
    from_device: RefCell<Consumer<'static, Frame>>,
    doorbell: EventFd,
    raiser: InterruptRaiser,
    clock_start: Instant,
    timers: RefCell<Vec<*mut SlirpTimer>>,
    pollfds: RefCell<Vec<libc::pollfd>>,
    /// slirp's `notify`: go round the loop again without sleeping.
    repoll: Cell<bool>,
    /// Frames were queued for the device since the interrupt was last raised.
    delivered: Cell<bool>,
}

impl SlirpThread {
    fn now_ms(&self) -> i64 {
        i64::try_from(self.clock_start.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    fn raise_if_delivered(&self) {
        if self.delivered.replace(false) {
            self.raiser.raise();
        }
    }

    /// Milliseconds until the next armed timer, if any.
    fn next_timer_ms(&self) -> Option<u32> {
        let now = self.now_ms();
        self.timers
            .borrow()
            .iter()
            // SAFETY: every pointer in `timers` is a live Box made by `timer_new` and removed
            // from the list before `timer_free` drops it.
            .filter_map(|&timer| unsafe { (*timer).expires_ms.get() })
            .map(|expires| u32::try_from((expires - now).max(0)).unwrap_or(u32::MAX))
            .min()
    }

    /// Runs the callbacks of expired timers. A callback may arm or free timers, so none of
    /// the cells is borrowed while one runs.
    fn fire_timers(&self) {
        let now = self.now_ms();
        let expired: Vec<*mut SlirpTimer> = self
            .timers
            .borrow()
            .iter()
            .copied()
            // SAFETY: as in `next_timer_ms`.
            .filter(|&timer| unsafe { (*timer).expires_ms.get() }.is_some_and(|at| at <= now))
            .collect();
        for timer in expired {
            if !self.timers.borrow().contains(&timer) {
                continue; // freed by an earlier callback in this round
            }
            // SAFETY: still registered, so still alive; slirp's callback gets its own opaque.
            unsafe {
                (*timer).expires_ms.set(None);
                if let Some(callback) = (*timer).callback {
                    callback((*timer).callback_opaque);
                }
            }
        }
    }

    /// Hands frames the device queued to slirp.
    fn forward_device_frames(&self, slirp: *mut sys::Slirp) {
        let mut forwarded = false;
        loop {
            let frame = self.from_device.borrow_mut().dequeue();
            let Some(frame) = frame else { break };
            forwarded = true;
            // SAFETY: `slirp` is this thread's live context; the frame outlives the call and
            // slirp copies what it keeps. Callbacks reached from here borrow other cells.
            unsafe { sys::slirp_input(slirp, frame.as_ptr(), frame.len() as c_int) };
        }
        // The device may be waiting for room in its transmit ring.
        if forwarded && TX_BLOCKED.swap(false, Ordering::SeqCst) {
            self.raiser.raise();
        }
    }
}

fn slirp_config() -> sys::SlirpConfig {
    let address = |ip: Ipv4Addr| sys::in_addr::from(ip);
    sys::SlirpConfig {
        // Version 3: the callback table of libslirp-sys has the v3 layout.
        version: 3,
        restricted: 0,
        in_enabled: true,
        vnetwork: address(NETWORK.0),
        vnetmask: address(Ipv4Addr::new(255, 255, 255, 0)),
        vhost: address(HOST_ADDRESS),
        in6_enabled: false,
        vprefix_addr6: sys::in6_addr { s6_addr: [0; 16] },
        vprefix_len: 0,
        vhost6: sys::in6_addr { s6_addr: [0; 16] },
        vhostname: ptr::null(),
        tftp_server_name: ptr::null(),
        tftp_path: ptr::null(),
        bootfile: ptr::null(),
        vdhcp_start: address(DHCP_FIRST_ADDRESS),
        vnameserver: address(DNS_ADDRESS),
        vnameserver6: sys::in6_addr { s6_addr: [0; 16] },
        vdnssearch: ptr::null_mut(),
        vdomainname: ptr::null(),
        if_mtu: 1500,
        if_mru: 1500,
        disable_host_loopback: false,
        enable_emu: false,
        outbound_addr: ptr::null(),
        outbound_addr6: ptr::null(),
        disable_dns: false,
        disable_dhcp: false,
    }
}

const CALLBACKS: sys::SlirpCb = sys::SlirpCb {
    send_packet: Some(on_send_packet),
    guest_error: Some(on_guest_error),
    clock_get_ns: Some(on_clock_get_ns),
    timer_new: Some(on_timer_new),
    timer_free: Some(on_timer_free),
    timer_mod: Some(on_timer_mod),
    register_poll_fd: Some(on_register_poll_fd),
    unregister_poll_fd: Some(on_register_poll_fd),
    notify: Some(on_notify),
};

/// The slirp thread's body: create the context, then poll forever.
fn run_slirp(
    to_device: Producer<'static, Frame>,
    from_device: Consumer<'static, Frame>,
    doorbell: EventFd,
    raiser: InterruptRaiser,
    started: std::sync::mpsc::SyncSender<Result<(), StartError>>,
) {
    let state = Box::new(SlirpThread {
        to_device: RefCell::new(to_device),
        from_device: RefCell::new(from_device),
        doorbell,
        raiser,
        clock_start: Instant::now(),
        timers: RefCell::new(Vec::new()),
        pollfds: RefCell::new(Vec::with_capacity(16)),
        repoll: Cell::new(false),
        delivered: Cell::new(false),
    });
    let config = slirp_config();
    let opaque = (&*state as *const SlirpThread).cast_mut().cast::<c_void>();
    // SAFETY: the config and callback table are valid for the call (slirp copies the config
    // and keeps a pointer to the static table); `opaque` points to `state`, which lives for the
    // rest of this function, i.e. as long as the context.
    let slirp = unsafe { sys::slirp_new(&config, &CALLBACKS, opaque) };
    if slirp.is_null() {
        let _ = started.send(Err(StartError::SlirpRefused));
        return;
    }
    let _ = started.send(Ok(()));
    loop {
        poll_once(&state, slirp, opaque);
    }
}

/// One round: sleep in poll(2) until something happens, then let slirp and the device's
/// frames move.
fn poll_once(state: &SlirpThread, slirp: *mut sys::Slirp, opaque: *mut c_void) {
    {
        let mut pollfds = state.pollfds.borrow_mut();
        pollfds.clear();
        pollfds.push(libc::pollfd {
            fd: state.doorbell.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
    }
    let mut timeout_ms: u32 = MAX_POLL_MS;
    // SAFETY: live context; `add_poll` pushes to `pollfds` through `opaque`, which is not
    // borrowed across this call.
    unsafe { sys::slirp_pollfds_fill(slirp, &mut timeout_ms, Some(on_add_poll), opaque) };
    if let Some(timer_ms) = state.next_timer_ms() {
        timeout_ms = timeout_ms.min(timer_ms);
    }
    // Go round at once if slirp asked to, or if the device queued frames meanwhile.
    if state.repoll.replace(false) || state.from_device.borrow().ready() {
        timeout_ms = 0;
    }
    let ready = {
        let mut pollfds = state.pollfds.borrow_mut();
        // SAFETY: `pollfds` is a live, correctly sized array of pollfd structures.
        unsafe {
            libc::poll(
                pollfds.as_mut_ptr(),
                pollfds.len() as libc::nfds_t,
                timeout_ms as c_int,
            )
        }
    };
    if state.pollfds.borrow()[0].revents & libc::POLLIN != 0 {
        state.doorbell.drain();
    }
    state.forward_device_frames(slirp);
    let select_error =
        c_int::from(ready < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted);
    // SAFETY: live context; `get_revents` reads `pollfds` through `opaque`.
    unsafe { sys::slirp_pollfds_poll(slirp, select_error, Some(on_get_revents), opaque) };
    state.fire_timers();
    state.raise_if_delivered();
}

/// The thread state behind slirp's `opaque` pointer.
///
/// # Safety
/// `opaque` must be the pointer `run_slirp` gave to `slirp_new`; slirp only calls back on
/// the slirp thread while that state is alive.
unsafe fn thread_state<'a>(opaque: *mut c_void) -> &'a SlirpThread {
    // SAFETY: guaranteed by the caller (see above).
    unsafe { &*opaque.cast::<SlirpThread>() }
}

unsafe extern "C" fn on_send_packet(buf: *const c_void, len: usize, opaque: *mut c_void) -> isize {
    // SAFETY: slirp passes its opaque and a buffer of `len` bytes valid for the call.
    let (state, bytes) = unsafe {
        (
            thread_state(opaque),
            core::slice::from_raw_parts(buf.cast::<u8>(), len),
        )
    };
    let delivered = Frame::from_slice(bytes)
        .ok()
        .is_some_and(|frame| state.to_device.borrow_mut().enqueue(frame).is_ok());
    if delivered {
        STATS.rx_frames.fetch_add(1, Ordering::Relaxed);
        state.delivered.set(true);
    } else {
        // A full ring or an oversized frame: dropped, as a card would. TCP retransmits.
        STATS.rx_dropped.fetch_add(1, Ordering::Relaxed);
    }
    len as isize
}

unsafe extern "C" fn on_guest_error(message: *const c_char, _opaque: *mut c_void) {
    // SAFETY: slirp passes a NUL-terminated message valid for the call.
    let text = unsafe { core::ffi::CStr::from_ptr(message) };
    log::warn!(
        "slirp: the device sent something invalid: {}",
        text.to_string_lossy()
    );
}

unsafe extern "C" fn on_clock_get_ns(opaque: *mut c_void) -> i64 {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { thread_state(opaque) };
    i64::try_from(state.clock_start.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

unsafe extern "C" fn on_timer_new(
    callback: sys::SlirpTimerCb,
    callback_opaque: *mut c_void,
    opaque: *mut c_void,
) -> *mut c_void {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { thread_state(opaque) };
    let timer = Box::into_raw(Box::new(SlirpTimer {
        callback,
        callback_opaque,
        expires_ms: Cell::new(None),
    }));
    state.timers.borrow_mut().push(timer);
    timer.cast()
}

unsafe extern "C" fn on_timer_free(timer: *mut c_void, opaque: *mut c_void) {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { thread_state(opaque) };
    let timer = timer.cast::<SlirpTimer>();
    let mut timers = state.timers.borrow_mut();
    if let Some(index) = timers.iter().position(|&known| known == timer) {
        timers.swap_remove(index);
        // SAFETY: made by `on_timer_new` with Box::into_raw and now unlisted: freed once.
        drop(unsafe { Box::from_raw(timer) });
    }
}

unsafe extern "C" fn on_timer_mod(timer: *mut c_void, expire_time_ms: i64, opaque: *mut c_void) {
    // SAFETY: slirp passes our opaque and a timer it got from `on_timer_new`.
    let state = unsafe { thread_state(opaque) };
    let timer = timer.cast::<SlirpTimer>();
    if state.timers.borrow().contains(&timer) {
        // SAFETY: listed, so alive.
        unsafe { (*timer).expires_ms.set(Some(expire_time_ms)) };
    }
}

unsafe extern "C" fn on_register_poll_fd(_fd: c_int, _opaque: *mut c_void) {
    // Descriptors are collected afresh every round by `slirp_pollfds_fill`.
}

unsafe extern "C" fn on_notify(opaque: *mut c_void) {
    // SAFETY: slirp passes our opaque.
    unsafe { thread_state(opaque) }.repoll.set(true);
}

unsafe extern "C" fn on_add_poll(fd: c_int, events: c_int, opaque: *mut c_void) -> c_int {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { thread_state(opaque) };
    let mut wanted: libc::c_short = 0;
    for (slirp_flag, poll_flag) in POLL_FLAGS {
        if events & slirp_flag != 0 {
            wanted |= poll_flag;
        }
    }
    let mut pollfds = state.pollfds.borrow_mut();
    pollfds.push(libc::pollfd {
        fd,
        events: wanted,
        revents: 0,
    });
    (pollfds.len() - 1) as c_int
}

unsafe extern "C" fn on_get_revents(index: c_int, opaque: *mut c_void) -> c_int {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { thread_state(opaque) };
    let pollfds = state.pollfds.borrow();
    let Some(pollfd) = usize::try_from(index)
        .ok()
        .and_then(|index| pollfds.get(index))
    else {
        return 0;
    };
    POLL_FLAGS
        .iter()
        .filter(|(_, poll_flag)| pollfd.revents & poll_flag != 0)
        .fold(0, |flags, (slirp_flag, _)| flags | slirp_flag)
}

/// slirp's poll flags and their poll(2) equivalents.
const POLL_FLAGS: [(c_int, libc::c_short); 5] = [
    (sys::SLIRP_POLL_IN, libc::POLLIN),
    (sys::SLIRP_POLL_OUT, libc::POLLOUT),
    (sys::SLIRP_POLL_PRI, libc::POLLPRI),
    (sys::SLIRP_POLL_ERR, libc::POLLERR),
    (sys::SLIRP_POLL_HUP, libc::POLLHUP),
];
